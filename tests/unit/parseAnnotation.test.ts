import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDifficultyAnswer, parseDomainAnswer, parseSkillsetAnswer } from '../../core/scoring/parseAnnotation.js';
import type { Difficulty } from '../../core/flask/difficulty.js';
import type { SkillName } from '../../core/flask/skills.js';
import { SHUFFLED_NUMBERING } from '../helpers/numbering.js';

// ---- domain ----
const domainCases: { text: string; expected?: string[]; reason?: RegExp }[] = [
  { text: 'Math', expected: ['Math'] },
  { text: 'Math, Coding', expected: ['Math', 'Coding'] },
  { text: 'Coding, Math', expected: ['Coding', 'Math'] },
  { text: 'Natural Science', expected: ['Natural Science'] },
  { text: 'Social Science, Natural Science', expected: ['Social Science', 'Natural Science'] },
  { text: 'natural science and technology', expected: ['Natural Science', 'Technology'] },
  { text: 'NATURAL_SCIENCE / health', expected: ['Natural Science', 'Health'] },
  { text: 'social-science; Humanities', expected: ['Social Science', 'Humanities'] },
  { text: '6. Math', expected: ['Math'] },
  { text: '5. Natural Science\n8. Technology', expected: ['Natural Science', 'Technology'] },
  { text: '"History".', expected: ['History'] },
  { text: '**Culture**', expected: ['Culture'] },
  { text: '_Language_', expected: ['Language'] },
  { text: 'Domain: Coding', expected: ['Coding'] },
  { text: 'Math, math', expected: ['Math'] },
  { text: 'Health and Culture.', expected: ['Health', 'Culture'] },
  // failures
  { text: '', reason: /no known domain/ },
  { text: 'Physics', reason: /no known domain/ },
  { text: 'Mathematics', reason: /no known domain/ }, // a sub-domain name, not a domain
  { text: 'Healthcare', reason: /no known domain/ },
  { text: 'Language, Culture, History', reason: /expected one or two domains, got 3: Language, Culture, History/ },
  { text: 'Math, Coding, Technology, Natural Science', reason: /got 4/ },
];

for (const c of domainCases) {
  test(`parseDomainAnswer(${JSON.stringify(c.text)})`, () => {
    const r = parseDomainAnswer(c.text);
    if (c.expected) assert.deepEqual(r, { ok: true, value: c.expected });
    else {
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, c.reason!);
    }
  });
}

// ---- skill set ----
const SHOWN: SkillName[] = SHUFFLED_NUMBERING;

const FEEDBACK =
  '4: The instruction has a single correct answer, so the final number must be right.\n' +
  '11: Solving it requires picturing how the objects move.\n' +
  '7: Each step must follow from the previous one.\n\n';

const skillCases: { name: string; text: string; indices?: number[]; reason?: RegExp }[] = [
  { name: 'feedback then the list', text: FEEDBACK + '[4, 11, 7]', indices: [4, 11, 7] },
  { name: 'bare list', text: '[3, 7, 1]', indices: [3, 7, 1] },
  { name: 'no spaces', text: '[12,1,2]', indices: [12, 1, 2] },
  { name: 'trailing comma', text: '[5, 6, 9,]', indices: [5, 6, 9] },
  { name: 'quoted integers', text: "['3', '7', '1']", indices: [3, 7, 1] },
  { name: 'code fence', text: FEEDBACK + '```python\n[2, 10, 8]\n```', indices: [2, 10, 8] },
  { name: 'last list wins', text: 'First I thought [1, 2, 3] but on reflection:\n\n[9, 8, 7]', indices: [9, 8, 7] },
  { name: 'non-integer brackets are not lists', text: '[Skill Options] chosen:\n[6, 5, 4]\n[Note]', indices: [6, 5, 4] },
  { name: 'list over several lines', text: 'Answer:\n[\n  1,\n  2,\n  3\n]', indices: [1, 2, 3] },
  // failures
  { name: 'repeated and out of range', text: '[3, 3, 14]', reason: /^expected 3 distinct indices in 1\.\.12, got \[3, 3, 14\]$/ },
  { name: 'two indices', text: FEEDBACK + '[4, 11]', reason: /got \[4, 11\]/ },
  { name: 'four indices', text: '[1, 2, 3, 4]', reason: /got \[1, 2, 3, 4\]/ },
  { name: 'zero index', text: '[0, 1, 2]', reason: /got \[0, 1, 2\]/ },
  { name: 'negative index', text: '[-1, 1, 2]', reason: /got \[-1, 1, 2\]/ },
  { name: 'empty list last', text: '[1, 2, 3]\n\n[]', reason: /got \[\]/ },
  { name: 'no list at all', text: 'The skills are 1, 2 and 3.', reason: /no list of skill indices/ },
  { name: 'skill names instead of indices', text: "['Factuality', 'Readability', 'Completeness']", reason: /no list of skill indices/ },
  { name: 'floats', text: '[1.0, 2.0, 3.0]', reason: /no list of skill indices/ },
];

for (const c of skillCases) {
  test(`parseSkillsetAnswer: ${c.name}`, () => {
    const r = parseSkillsetAnswer(c.text, SHOWN);
    if (c.indices) {
      assert.deepEqual(r, { ok: true, value: { indices: c.indices, skills: c.indices.map((i) => SHOWN[i - 1]) } });
    } else {
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, c.reason!);
    }
  });
}

test('parseSkillsetAnswer maps through the numbering shown, keeping importance order', () => {
  const r = parseSkillsetAnswer(FEEDBACK + '[4, 11, 7]', SHOWN);
  assert.deepEqual(r, {
    ok: true,
    value: { skills: ['Logical Correctness', 'Commonsense Understanding', 'Logical Robustness'], indices: [4, 11, 7] },
  });
});

// ---- difficulty ----
const difficultyCases: { text: string; expected?: Difficulty; reason?: RegExp }[] = [
  { text: 'simple lifestyle knowledge', expected: 'simple lifestyle knowledge' },
  { text: 'Advanced lifestyle knowledge', expected: 'advanced lifestyle knowledge' },
  { text: 'FORMAL EDUCATION KNOWLEDGE', expected: 'formal education knowledge' },
  { text: 'Major level knowledge.', expected: 'major level knowledge' },
  { text: 'Difficulty: Major level knowledge.', expected: 'major level knowledge' },
  { text: '**formal education knowledge**', expected: 'formal education knowledge' },
  { text: 'major-level knowledge', expected: 'major level knowledge' },
  { text: 'Expert-Level Knowledge', expected: 'expert level knowledge' },
  { text: '"Expert level knowledge"\n', expected: 'expert level knowledge' },
  { text: 'expert  level\tknowledge', expected: 'expert level knowledge' },
  { text: 'Class: Simple Lifestyle Knowledge', expected: 'simple lifestyle knowledge' },
  { text: 'Major level', expected: 'major level knowledge' },
  { text: 'advanced_lifestyle_knowledge', expected: 'advanced lifestyle knowledge' },
  // failures
  { text: '', reason: /no difficulty level/ },
  { text: 'Hard', reason: /no difficulty level/ },
  { text: 'lifestyle knowledge', reason: /no difficulty level/ },
  { text: 'Level 4', reason: /no difficulty level/ },
  { text: 'Formal education knowledge or major level knowledge', reason: /several difficulty levels in the answer: formal education knowledge, major level knowledge/ },
  { text: 'Not simple lifestyle knowledge but advanced lifestyle knowledge', reason: /several difficulty levels/ },
];

for (const c of difficultyCases) {
  test(`parseDifficultyAnswer(${JSON.stringify(c.text)})`, () => {
    const r = parseDifficultyAnswer(c.text);
    if (c.expected) assert.deepEqual(r, { ok: true, value: c.expected });
    else {
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, c.reason!);
    }
  });
}

// ---- a corpus of bad annotator outputs: each is a failure quoting the text, never a label ----
const BAD = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/badAnnotatorOutputs.json', import.meta.url)), 'utf8'),
) as { domain: string[]; difficulty: string[]; skillset: string[] };

// The first words of the answer as the failure quotes them (whitespace flattened, JSON-quoted).
const quoted = (text: string): string => JSON.stringify(text.replace(/\s+/g, ' ').trim().slice(0, 30)).slice(0, -1);

for (const text of BAD.domain) {
  test(`bad domain answer is a failure with its text: ${JSON.stringify(text)}`, () => {
    const r = parseDomainAnswer(text);
    assert.equal(r.ok, false, `guessed ${JSON.stringify(r.ok && r.value)}`);
    if (!r.ok && !/expected one or two domains/.test(r.reason)) assert.ok(r.reason.includes(quoted(text)), r.reason);
  });
}
for (const text of BAD.difficulty) {
  test(`bad difficulty answer is a failure with its text: ${JSON.stringify(text)}`, () => {
    const r = parseDifficultyAnswer(text);
    assert.equal(r.ok, false, `guessed ${JSON.stringify(r.ok && r.value)}`);
    if (!r.ok && !/several difficulty levels/.test(r.reason)) assert.ok(r.reason.includes(quoted(text)), r.reason);
  });
}
for (const text of BAD.skillset) {
  test(`bad skill-set answer is a failure: ${JSON.stringify(text)}`, () => {
    const r = parseSkillsetAnswer(text, SHOWN);
    assert.equal(r.ok, false, `guessed ${JSON.stringify(r.ok && r.value)}`);
  });
}

test('a domain named inside a sentence is prose: the failure names the stray words and the fix', () => {
  const r = parseDomainAnswer('The instruction asks for a poem in the English language about the sea.');
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.match(r.reason, /domain answer is prose, not a label/);
    assert.match(r.reason, /"instruction"/);
    assert.match(r.reason, /e\.g\. "Math" or "Math, Coding"/);
  }
});
