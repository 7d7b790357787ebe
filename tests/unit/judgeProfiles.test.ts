import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeProfile, parsePrometheusResult, prometheusProfile, flaskProfile } from '../../core/judges/index.js';
import { renderReviewPrompt } from '../../core/prompts/review.js';
import { parseSkillScores } from '../../core/scoring/parseSkillScores.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { DATA_FILES } from '../../core/paths.js';
import { InputError } from '../../core/errors.js';

// Prometheus 2's absolute-grading prompt with reference answer, typed out by hand from
// prometheus-eval libs/prometheus-eval/prometheus_eval/prompts.py (commit dcfb442), so that a
// change in the template constants or in the way they are filled shows up here.
const SYSTEM =
  'You are a fair judge assistant tasked with providing clear, objective feedback based on specific criteria, ensuring each assessment reflects the absolute standards set for performance.';
const handBuilt = (instruction: string, response: string, reference: string, rubric: string): string =>
  '###Task Description:\n' +
  'An instruction (might include an Input inside it), a response to evaluate, a reference answer that gets a score of 5, and a score rubric representing a evaluation criteria are given.\n' +
  '1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.\n' +
  '2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score rubric.\n' +
  '3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer number between 1 and 5)"\n' +
  '4. Please do not generate any other opening, closing, and explanations.\n\n' +
  '###The instruction to evaluate:\n' + instruction + '\n\n' +
  '###Response to evaluate:\n' + response + '\n\n' +
  '###Reference Answer (Score 5):\n' + reference + '\n\n' +
  '###Score Rubrics:\n' + rubric + '\n\n' +
  '###Feedback: ';

// FLASK's skillset_description.json, Conciseness and Readability, typed out by hand.
const CONCISENESS_RUBRIC =
  '[Is the response presented in a concise manner for the reader without any unnecessary information?]\n' +
  'Score 1: The response is highly redundant or contains a lot of unnecessary information, requiring a complete rewrite for optimal clarity and efficiency.\n' +
  'Score 2: The response lacks conciseness and needs a substantial rewrite for better optimization.\n' +
  'Score 3: The response is somewhat concise but includes unnecessary information, requiring some edits for improved optimization.\n' +
  'Score 4: The response is mostly concise but could benefit from minor edits for better optimization.\n' +
  'Score 5: The response is optimally concise and does not contain any unnecessary information, requiring no further optimization.';
const READABILITY_RUBRIC =
  '[Is the response structured to promote readability and coherence? Does the response exhibit excellent organization?]\n' +
  'Score 1: The response is completely unclear, making comprehension difficult.\n' +
  'Score 2: The response has significant areas of ambiguity or disorganization, critically affecting reader comprehension.\n' +
  'Score 3: The response contains some unclear components, or its organization could be improved.\n' +
  'Score 4: The response is generally understandable but could be further optimized for readability.\n' +
  'Score 5: The response is clear and well-organized, enabling the reader to effortlessly follow the content.';

const instances = loadEvalSet(DATA_FILES.evalSet);
const first = instances.find((i) => i.idx === 1)!; // skills: Readability, Logical Correctness, Conciseness

test('prometheus renders the published template with the instance, the response, the reference answer and the skill rubric', () => {
  const p = prometheusProfile();
  const response = 'If you have questions about my rate, or want to change the scope, let me know.\n{braces} stay as they are.';
  const msgs = p.render(first, response, 'Conciseness');
  assert.deepEqual(msgs, [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: handBuilt(first.instruction, response, first.answer, CONCISENESS_RUBRIC) },
  ]);
  assert.equal(p.render(first, response, 'Readability')[1]!.content, handBuilt(first.instruction, response, first.answer, READABILITY_RUBRIC));
});

test('prometheus: one call per skill, in the instance order; render needs one of the instance skills', () => {
  const p = prometheusProfile();
  assert.equal(p.callsPerInstance(first.skills), 3);
  assert.deepEqual(p.callSkills(first.skills), [['Readability'], ['Logical Correctness'], ['Conciseness']]);
  assert.equal(p.callsPerInstance(['Factuality', 'Completeness']), 2);
  assert.throws(() => p.render(first, 'x'), /needs the skill/);
  assert.throws(() => p.render(first, 'x', 'Factuality'), /not one of the instance's skills/);
  const all = instances.slice(0, 50);
  const calls = all.reduce((n, i) => n + p.callsPerInstance(i.skills), 0);
  assert.equal(calls, all.reduce((n, i) => n + i.skills.length, 0));
  assert.deepEqual(p.sampling, { temperature: 1, topP: 0.9, maxTokens: 1024, repetitionPenalty: 1.03 });
});

test('flask profile is exactly today\'s prompt and parser, one call per instance', () => {
  const p = flaskProfile();
  assert.deepEqual(p.render(first, 'resp'), renderReviewPrompt(first, 'resp'));
  assert.deepEqual(p.render(first, 'resp', 'Conciseness'), renderReviewPrompt(first, 'resp'));
  assert.equal(p.callsPerInstance(first.skills), 1);
  assert.deepEqual(p.callSkills(first.skills), [first.skills]);
  const text = 'Good. {"Readability": 5, "Logical Correctness": 4, "Conciseness": 3}';
  assert.deepEqual(p.parse(text, first.skills), parseSkillScores(text, first.skills));
  assert.deepEqual(p.parse(text, first.skills), { ok: true, scores: { Readability: 5, 'Logical Correctness': 4, Conciseness: 3 } });
  assert.equal(p.parse('{"Readability": 5}', first.skills).ok, false);
  assert.deepEqual(p.sampling, { temperature: 0.2, maxTokens: 1024 });
});

test('judgeProfile by name; unknown names are an input error naming the choices', () => {
  assert.equal(judgeProfile('flask').name, 'flask');
  assert.equal(judgeProfile('prometheus').name, 'prometheus');
  assert.equal(judgeProfile(), judgeProfile('flask'));
  assert.notEqual(judgeProfile('flask').hash, judgeProfile('prometheus').hash);
  assert.throws(() => judgeProfile('gpt4'), (e: unknown) => e instanceof InputError && /flask, prometheus/.test((e as Error).message));
});

// [output, expected score or a regexp the failure reason matches]
const TABLE: [string, number | RegExp][] = [
  ['The response is concise and clear. [RESULT] 5', 5],
  ['Feedback text [RESULT] 4', 4],
  ['Feedback [RESULT]: 3', 3],
  ['Feedback [RESULT]:3', 3],
  ['Feedback [result] 2', 2],
  ['Feedback [RESULT] (4)', 4],
  ['Feedback [RESULT] [4]', 4],
  ['Feedback [RESULT] 4/5', 4],
  ['Feedback [RESULT] 4 / 5', 4],
  ['Feedback [RESULT] 4 out of 5', 4],
  ['Feedback [RESULT] 4.', 4],
  ['Feedback [RESULT] 4\n', 4],
  ['Feedback\n\n[RESULT] 1\n\nI hope this helps.', 1],
  ['Feedback [ RESULT ] 3', 3],
  // the last marker wins: an echo of the format earlier does not count
  ['Format: "(feedback) [RESULT] 5". My feedback: weak. [RESULT] 2', 2],
  ['[RESULT] 5 ... on reflection, it misses a case. [RESULT] 3', 3],
  // malformed
  ['The response is fine. Score: 4', /no "\[RESULT\] n" score/],
  ['', /no "\[RESULT\] n" score/],
  ['Feedback [RESULT]', /nothing after the last/],
  ['Feedback [RESULT]   ', /nothing after the last/],
  ['Feedback [RESULT] (an integer number between 1 and 5)', /not followed by an integer 1-5/],
  ['Feedback [RESULT] four', /not followed by an integer 1-5/],
  ['Feedback [RESULT] 6', /out of range/],
  ['Feedback [RESULT] 0', /out of range/],
  ['Feedback [RESULT] 45', /out of range/],
  ['Feedback [RESULT] 4.5', /not an integer/],
  ['Feedback [RESULT] 4,5', /not an integer/],
  ['Feedback [RESULT] 4-5', /not followed by an integer 1-5/],
  ['Feedback [RESULT] 8/10', /not on the 1-5 scale/],
  ['Feedback [RESULT] 4 out of 10', /not on the 1-5 scale/],
  ['[RESULT] 4 then more [RESULT] x', /not followed by an integer 1-5/],
  ['Feedback [RESULT] 4a', /not followed by an integer 1-5/],
];

test('parsePrometheusResult: accepted and malformed outputs', () => {
  for (const [text, want] of TABLE) {
    const r = parsePrometheusResult(text);
    if (typeof want === 'number') {
      assert.ok(r.ok, `${JSON.stringify(text)} should parse, got ${JSON.stringify(r)}`);
      assert.equal(r.score, want, JSON.stringify(text));
    } else {
      assert.ok(!r.ok, `${JSON.stringify(text)} should be rejected, got ${JSON.stringify(r)}`);
      assert.match(r.reason, want, JSON.stringify(text));
    }
  }
});

test('prometheus parse keeps the feedback and names the skill in a failure', () => {
  const p = prometheusProfile();
  assert.deepEqual(p.parse('  The answer is correct but wordy.  [RESULT] 3', 'Conciseness'), {
    ok: true, scores: { Conciseness: 3 }, feedback: 'The answer is correct but wordy.',
  });
  assert.deepEqual(p.parse('ok [RESULT] 5', ['Readability']), { ok: true, scores: { Readability: 5 }, feedback: 'ok' });
  const bad = p.parse('ok [RESULT] 9', 'Readability');
  assert.ok(!bad.ok && /^Readability: score 9 is out of range/.test(bad.reason));
  assert.throws(() => p.parse('x [RESULT] 3', ['Readability', 'Conciseness']), /one skill a call/);
});

test('combineParses: per-skill calls make one verdict; the first failure wins', async () => {
  const { combineParses } = await import('../../core/judges/index.js');
  const p = prometheusProfile();
  const parses = [p.parse('clear. [RESULT] 5', 'Readability'), p.parse('right. [RESULT] 4', 'Logical Correctness'), p.parse('short. [RESULT] 3', 'Conciseness')];
  assert.deepEqual(combineParses(parses), { ok: true, scores: { Readability: 5, 'Logical Correctness': 4, Conciseness: 3 }, feedback: 'clear.\n\nright.\n\nshort.' });
  const bad = combineParses([parses[0]!, p.parse('no score', 'Logical Correctness'), p.parse('x [RESULT] 9', 'Conciseness')]);
  assert.ok(!bad.ok && bad.reason.startsWith('Logical Correctness: no "[RESULT] n"'));
  const one = flaskProfile().parse('{"Readability": 5, "Logical Correctness": 4, "Conciseness": 3}', first.skills);
  assert.equal(combineParses([one]), one);
  assert.equal(combineParses([]).ok, false);
});
