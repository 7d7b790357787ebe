import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { datasetQuirks, loadAnnotationInput, loadEvalSet } from '../../core/flask/dataset.js';
import { matchAnswers, prepareReview } from '../../core/inputs/prepare.js';
import { loadInstructions } from '../../core/flask/instructions.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { InputError } from '../../core/errors.js';
import { resolveSkill, skillKeyOf } from '../../core/flask/skills.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flask-dataset-'));
function file(name: string, lines: string[]): string {
  const f = path.join(dir, name);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}
const good = { idx: 1, instruction: 'Q', answer: 'A', task: 't', skill: ['Readability', 'Factuality', 'Conciseness'], domain: ['Math'], difficulty: 'major level knowledge' };

test('the shipped evaluation set loads with its quirks counted, none dropped', () => {
  const all = loadEvalSet(DATA_FILES.evalSet);
  assert.equal(all.length, 1740);
  const q = datasetQuirks(all);
  assert.deepEqual(q.notThreeSkills, [1417]);
  assert.equal(q.unlabelledDomain.length, 11);
  assert.equal(q.unlabelledDifficulty.length, 2);
  assert.deepEqual(q.withExtraKeys, [259]);
  assert.equal(all.find((i) => i.idx === 259)!.extra.subtag, 'Econometrics Volatility');
  assert.equal(loadEvalSet(DATA_FILES.hardSet).length, 89);
});

test('malformed JSON names the file and line and stores nothing', () => {
  const f = file('bad-json.jsonl', [JSON.stringify(good), '{"idx": 2, "instruction": ']);
  assert.throws(() => loadEvalSet(f), (e: Error) => e instanceof InputError && e.message.includes(`${f}:2: not valid JSON`));
});

test('a missing field and an unknown skill are named with line and field', () => {
  const { answer: _a, ...noAnswer } = good;
  const f = file('bad-fields.jsonl', [JSON.stringify(good), JSON.stringify({ ...noAnswer, idx: 2 }), JSON.stringify({ ...good, idx: 3, skill: ['Readability', 'Telepathy'] })]);
  assert.throws(
    () => loadEvalSet(f),
    (e: Error) => {
      assert.match(e.message, new RegExp(`${f.replace(/[.]/g, '\\.')}:2: field answer:`));
      assert.match(e.message, /:3: field skill\[1\]: unknown skill "Telepathy"; expected one of: Logical Robustness/);
      assert.match(e.message, /nothing was started or stored/);
      return true;
    },
  );
});

test('unknown domain and difficulty, and duplicate idx, are errors', () => {
  assert.throws(() => loadEvalSet(file('d.jsonl', [JSON.stringify({ ...good, domain: ['Astrology'] })])), /field domain\[0\]: unknown domain "Astrology"/);
  assert.throws(() => loadEvalSet(file('f.jsonl', [JSON.stringify({ ...good, difficulty: 'hard' })])), /field difficulty: unknown difficulty "hard"/);
  assert.throws(() => loadEvalSet(file('dup.jsonl', [JSON.stringify(good), JSON.stringify(good)])), /dup\.jsonl:2: field idx: duplicate idx 1 \(first on line 1\)/);
});

test('skill spellings resolve like FLASK keys', () => {
  assert.equal(skillKeyOf('logical_correctness'), 'correctness');
  assert.equal(resolveSkill('COMMONSENSE understanding'), 'Commonsense Understanding');
  assert.equal(resolveSkill('Logical Efficiency'), 'Logical Efficiency');
  assert.equal(resolveSkill('telepathy'), undefined);
});

test('published answers: davinci_003 empty responses and the 40 instances without answers are reported', () => {
  const p = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('davinci_003'), 'davinci_003');
  const a = p.summary.answers as ReturnType<typeof matchAnswers>['match'];
  assert.equal(p.instances.length, 1700);
  assert.equal(a.emptyResponses.length, 22);
  assert.equal(a.withoutAnswer.length, 40);
  assert.ok(a.withoutAnswer.every((i) => i > 1700));
  // vicuna_13b rows carry extra keys: accepted and counted
  const v = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('vicuna_13b'), 'vicuna_13b');
  assert.equal((v.summary.answers as { rowsWithExtraKeys: number }).rowsWithExtraKeys, 1699);
});

test('answers: a duplicate id is an error naming both lines, unless the first is kept; unknown ids are counted; a bad line is named', () => {
  const insts = loadEvalSet(file('two.jsonl', [JSON.stringify(good), JSON.stringify({ ...good, idx: 2 })]));
  const ans = file('ans.jsonl', [
    JSON.stringify({ question_id: 1, text: 'a' }), JSON.stringify({ question_id: 1, text: 'b' }), JSON.stringify({ question_id: 99, text: 'c' }),
  ]);
  assert.throws(() => matchAnswers(ans, insts, 'm'), (e: Error) =>
    e instanceof InputError && /ans\.jsonl:2: field question_id: duplicate question_id 1 \(first on line 1\)/.test(e.message) && /--keep-first-duplicate/.test(e.message));
  const warnings: string[] = [];
  const { responses, match } = matchAnswers(ans, insts, 'm', undefined, { keepFirst: true, warn: (s) => warnings.push(s) });
  assert.deepEqual(responses.map((r) => [r.idx, r.text]), [[1, 'a']]);
  assert.deepEqual(match.duplicateIds, [1]);
  assert.deepEqual(match.unknownIds, [99]);
  assert.deepEqual(match.withoutAnswer, [2]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /ans\.jsonl:2: .*first on line 1/);
  const bad = file('ans-bad.jsonl', [JSON.stringify({ question_id: 1, text: 'a' }), JSON.stringify({ question_id: 'x', text: 'b' }), JSON.stringify({ question_id: 3 })]);
  assert.throws(() => matchAnswers(bad, insts, 'm'), (e: Error) => /ans-bad\.jsonl:2: field question_id/.test(e.message) && /ans-bad\.jsonl:3: field text/.test(e.message));
});

test('empty files are refused with their name; answers that match no instance are refused', () => {
  const empty = file('empty.jsonl', ['', '  ']);
  assert.throws(() => loadEvalSet(empty), (e: Error) => e instanceof InputError && /empty\.jsonl is empty \(no JSON lines\); nothing was started or stored/.test(e.message));
  assert.throws(() => loadAnnotationInput(empty), /empty\.jsonl is empty/);
  const insts = file('one.jsonl', [JSON.stringify(good)]);
  assert.throws(() => prepareReview(insts, empty, 'm'), /empty\.jsonl is empty/);
  const stranger = file('stranger.jsonl', [JSON.stringify({ question_id: 5, text: 'x' })]);
  assert.throws(() => prepareReview(insts, stranger, 'm'), /none of the 1 answers in .*stranger\.jsonl matches an instance/);
});

test('annotate input: reference labels kept, malformed ones listed by line (or dropped with --ignore-labels), duplicates named', () => {
  const f = file('ann.jsonl', [
    JSON.stringify(good),
    JSON.stringify({ instruction: 'plain', idx: 2 }),
    JSON.stringify({ instruction: 'partial', idx: 3, domain: ['Coding'] }),
  ]);
  const ok = loadAnnotationInput(f);
  assert.equal(ok.hasReferenceLabels, true);
  assert.deepEqual(ok.instances.map((i) => [i.idx, i.skills.length, i.domains, i.difficulty]), [
    [1, 3, ['Math'], 'major level knowledge'], [2, 0, [], null], [3, 0, ['Coding'], null],
  ]);
  assert.equal(loadAnnotationInput(file('plain.jsonl', [JSON.stringify({ text: 'x' })])).hasReferenceLabels, false);
  const bad = file('ann-bad.jsonl', [
    JSON.stringify({ ...good, domain: ['Astrology'] }),
    JSON.stringify({ instruction: 'b', idx: 2, skill: ['Telepathy'], difficulty: 'trivial' }),
    JSON.stringify({ ...good, idx: 3 }),
  ]);
  assert.throws(() => loadAnnotationInput(bad), (e: Error) =>
    /3 malformed reference label\(s\)/.test(e.message) && /ann-bad\.jsonl:1: field domain\[0\]: unknown domain "Astrology"/.test(e.message) &&
    /ann-bad\.jsonl:2: field skill\[0\]: unknown skill "Telepathy"/.test(e.message) && /ann-bad\.jsonl:2: field difficulty: unknown difficulty "trivial"/.test(e.message) &&
    /--ignore-labels/.test(e.message));
  const warnings: string[] = [];
  const dropped = loadAnnotationInput(bad, { ignoreLabels: true, warn: (s) => warnings.push(s) });
  assert.deepEqual(dropped.droppedLabelLines, [1, 2]);
  assert.deepEqual(dropped.instances.map((i) => i.skills.length + i.domains.length), [0, 0, 4]);
  assert.match(warnings[0]!, /--ignore-labels: the reference labels of 2 line\(s\)/);
  const dup = file('ann-dup.jsonl', [JSON.stringify({ instruction: 'a', idx: 4 }), JSON.stringify({ instruction: 'b', idx: 4 })]);
  assert.throws(() => loadAnnotationInput(dup, { duplicates: { flag: '--keep-first-duplicate' } }), /ann-dup\.jsonl:2: field idx: duplicate idx 4 \(first on line 1\)[\s\S]*--keep-first-duplicate/);
  assert.deepEqual(loadAnnotationInput(dup, { duplicates: { keepFirst: true } }).instances.map((i) => i.instruction), ['a']);
});

test('instructions input: instruction or text, optional answer and id; errors name the line', () => {
  const f = file('instr.jsonl', [JSON.stringify({ instruction: 'a' }), JSON.stringify({ text: 'b', answer: 'B', idx: 7 })]);
  assert.deepEqual(loadInstructions(f), [
    { idx: 1, instruction: 'a', answer: '', task: '' },
    { idx: 7, instruction: 'b', answer: 'B', task: '' },
  ]);
  assert.throws(() => loadInstructions(file('instr-bad.jsonl', [JSON.stringify({ answer: 'x' })])), /instr-bad\.jsonl:1: field instruction: needs "instruction"/);
});

test('FLASK-Hard against published answers: instances map to the full set by instruction, not by idx', () => {
  const hard = prepareReview(DATA_FILES.hardSet, publishedAnswersFile('gpt4'), 'gpt4', undefined, { answersKeyedByMainSet: true });
  const gpt4 = new Map(readJsonlRaw(publishedAnswersFile('gpt4')).map((r) => [r.question_id, r.text]));
  const byIdx = new Map(hard.responses.map((r) => [r.idx, r.text]));
  // Hard instance 1 is the full set's instance 40; 67-89 map to full-set ids above 1700 (no published answer).
  assert.equal(byIdx.get(1), gpt4.get(40));
  assert.notEqual(byIdx.get(1), gpt4.get(1));
  assert.equal(hard.instances.length, 89 - (hard.summary.answers as { withoutAnswer: number[] }).withoutAnswer.length);
  assert.ok((hard.summary.answers as { withoutAnswer: number[] }).withoutAnswer.includes(82));
});

function readJsonlRaw(f: string): { question_id: number; text: string }[] {
  return readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}
