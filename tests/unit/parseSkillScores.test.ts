import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSkillScores, type SkillScore } from '../../core/scoring/parseSkillScores.js';
import type { SkillName } from '../../core/flask/skills.js';

const THREE: SkillName[] = ['Logical Correctness', 'Commonsense Understanding', 'Readability'];
const FACT: SkillName[] = ['Factuality', 'Comprehension', 'Completeness'];
const TWO: SkillName[] = ['Readability', 'Conciseness'];

// Feedback in the shape FLASK's GPT-4 reviews take: one paragraph per skill, then the dict.
const FEEDBACK =
  'Logical Correctness: The response arrives at the right total of 42 apples and every step of the arithmetic checks out.\n\n' +
  'Commonsense Understanding: It correctly assumes that eaten apples are no longer in the basket.\n\n' +
  'Readability: The steps are numbered and easy to follow, although the final sentence is slightly wordy.\n\n';

type Case = {
  name: string;
  text: string;
  expected?: SkillName[]; // defaults to THREE
  scores?: Partial<Record<SkillName, SkillScore>>;
  reason?: RegExp;
};

const cases: Case[] = [
  // ---- accepted ----
  {
    name: 'FLASK-style feedback ending with a Python dict',
    text: FEEDBACK + "{'Logical Correctness': 5, 'Commonsense Understanding': 4, 'Readability': 4}",
    scores: { 'Logical Correctness': 5, 'Commonsense Understanding': 4, Readability: 4 },
  },
  {
    name: 'JSON in a ```json fence with prose around it',
    text: FEEDBACK + 'Here are the scores:\n```json\n{\n  "Logical Correctness": 3,\n  "Commonsense Understanding": 5,\n  "Readability": 2\n}\n```\nLet me know if you need more detail.',
    scores: { 'Logical Correctness': 3, 'Commonsense Understanding': 5, Readability: 2 },
  },
  {
    name: 'Python dict in a ```python fence split over lines with a trailing comma',
    text: FEEDBACK + "```python\n{\n    'Logical Correctness': 4,\n    'Commonsense Understanding': 4,\n    'Readability': 5,\n}\n```",
    scores: { 'Logical Correctness': 4, 'Commonsense Understanding': 4, Readability: 5 },
  },
  {
    name: 'snake_case keys (logical_correctness)',
    text: FEEDBACK + "{'logical_correctness': 2, 'commonsense_understanding': 3, 'readability': 4}",
    scores: { 'Logical Correctness': 2, 'Commonsense Understanding': 3, Readability: 4 },
  },
  {
    name: 'upper-case keys',
    text: FEEDBACK + '{"LOGICAL CORRECTNESS": 1, "COMMONSENSE UNDERSTANDING": 2, "READABILITY": 3}',
    scores: { 'Logical Correctness': 1, 'Commonsense Understanding': 2, Readability: 3 },
  },
  {
    name: 'short keys as in aggregate_skill.py (correctness, commonsense)',
    text: FEEDBACK + "{'correctness': 5, 'commonsense': 5, 'readability': 5}",
    scores: { 'Logical Correctness': 5, 'Commonsense Understanding': 5, Readability: 5 },
  },
  {
    name: 'bare (unquoted) keys',
    text: FEEDBACK + '{Logical Correctness: 4, Commonsense Understanding: 3, Readability: 5}',
    scores: { 'Logical Correctness': 4, 'Commonsense Understanding': 3, Readability: 5 },
  },
  {
    name: "'N/A' string value",
    text: FEEDBACK + "{'Logical Correctness': 'N/A', 'Commonsense Understanding': 4, 'Readability': 5}",
    scores: { 'Logical Correctness': 'N/A', 'Commonsense Understanding': 4, Readability: 5 },
  },
  {
    name: "'n/a' and bare N/A",
    text: FEEDBACK + "{'Logical Correctness': 'n/a', 'Commonsense Understanding': N/A, 'Readability': 3}",
    scores: { 'Logical Correctness': 'N/A', 'Commonsense Understanding': 'N/A', Readability: 3 },
  },
  {
    name: "'not applicable' / 'Not Applicable' / 'NA'",
    text: FEEDBACK + "{'Logical Correctness': 'not applicable', 'Commonsense Understanding': 'Not Applicable', 'Readability': 'NA'}",
    scores: { 'Logical Correctness': 'N/A', 'Commonsense Understanding': 'N/A', Readability: 'N/A' },
  },
  {
    name: 'Python None and JSON null',
    text: FEEDBACK + '{"Logical Correctness": None, "Commonsense Understanding": null, "Readability": 4}',
    scores: { 'Logical Correctness': 'N/A', 'Commonsense Understanding': 'N/A', Readability: 4 },
  },
  {
    name: 'floats: 4.0 becomes 4, 4.5 kept',
    text: FEEDBACK + "{'Logical Correctness': 4.0, 'Commonsense Understanding': 4.5, 'Readability': 1.0}",
    scores: { 'Logical Correctness': 4, 'Commonsense Understanding': 4.5, Readability: 1 },
  },
  {
    name: 'quoted numbers',
    text: FEEDBACK + '{"Logical Correctness": "4", "Commonsense Understanding": \'3\', "Readability": "5.0"}',
    scores: { 'Logical Correctness': 4, 'Commonsense Understanding': 3, Readability: 5 },
  },
  {
    name: 'prose after the dict',
    text: FEEDBACK + "{'Logical Correctness': 3, 'Commonsense Understanding': 3, 'Readability': 4}\n\nOverall, the response is acceptable but could justify its steps better.",
    scores: { 'Logical Correctness': 3, 'Commonsense Understanding': 3, Readability: 4 },
  },
  {
    name: 'two dicts: the last one wins',
    text:
      "Initial scores: {'Logical Correctness': 2, 'Commonsense Understanding': 2, 'Readability': 2}\n" +
      FEEDBACK +
      "On reflection, the final scores are:\n{'Logical Correctness': 4, 'Commonsense Understanding': 5, 'Readability': 3}",
    scores: { 'Logical Correctness': 4, 'Commonsense Understanding': 5, Readability: 3 },
  },
  {
    name: 'a {skills} brace in prose after the real dict falls back to the dict',
    text: FEEDBACK + "{'Logical Correctness': 5, 'Commonsense Understanding': 4, 'Readability': 4}\nThe scores above cover {skills} as requested.",
    scores: { 'Logical Correctness': 5, 'Commonsense Understanding': 4, Readability: 4 },
  },
  {
    name: 'a {skills} brace in prose before the real dict',
    text: 'I will rate each of the {skills} in turn.\n' + FEEDBACK + "{'Logical Correctness': 1, 'Commonsense Understanding': 2, 'Readability': 5}",
    scores: { 'Logical Correctness': 1, 'Commonsense Understanding': 2, Readability: 5 },
  },
  {
    name: '2-skill instance',
    expected: TWO,
    text: 'Readability: Clear and well organised.\n\nConciseness: Repeats the definition twice.\n\n{"Readability": 5, "Conciseness": 3}',
    scores: { Readability: 5, Conciseness: 3 },
  },
  {
    name: 'keys in a different order than the instance',
    expected: FACT,
    text: "Factuality: All dates are correct. Comprehension: Answers the question asked. Completeness: Omits the second war.\n{'Completeness': 3, 'Factuality': 5, 'Comprehension': 4}",
    scores: { Factuality: 5, Comprehension: 4, Completeness: 3 },
  },
  {
    name: 'duplicate keys for one skill that agree',
    text: FEEDBACK + "{'Logical Correctness': 4, 'logical_correctness': 4.0, 'Commonsense Understanding': 4, 'Readability': 4}",
    scores: { 'Logical Correctness': 4, 'Commonsense Understanding': 4, Readability: 4 },
  },
  {
    name: 'typographic quotes',
    expected: TWO,
    text: 'Scores: {\u201cReadability\u201d: 4, \u2018Conciseness\u2019: 5}',
    scores: { Readability: 4, Conciseness: 5 },
  },
  {
    name: 'dict nested under a "scores" key: the inner dict is used',
    expected: TWO,
    text: '```json\n{"scores": {"Readability": 2, "Conciseness": 2}}\n```',
    scores: { Readability: 2, Conciseness: 2 },
  },

  // ---- rejected ----
  { name: 'empty string', text: '', reason: /no score dictionary found/ },
  { name: 'feedback without a dict', text: FEEDBACK + 'Scores: Logical Correctness 4, Commonsense 4, Readability 5.', reason: /no score dictionary found/ },
  {
    name: 'only prose braces',
    text: 'Please rate {skills} for {response}.',
    reason: /no score dictionary found/,
  },
  {
    name: 'truncated dict (output cut mid-dictionary)',
    text: FEEDBACK + "{'Logical Correctness': 5, 'Commonsense Understanding': 4, 'Readab",
    reason: /truncated/,
  },
  {
    name: 'missing skill',
    expected: FACT,
    text: "Factuality: fine. Comprehension: fine.\n{'Factuality': 4, 'Comprehension': 5}",
    reason: /missing score for Completeness/,
  },
  {
    name: 'two missing skills are both named',
    text: FEEDBACK + "{'Logical Correctness': 4}",
    reason: /missing score for Commonsense Understanding, Readability/,
  },
  {
    name: 'missing skill while an extra key is there: both are named',
    text: FEEDBACK + "{'Logical Correctness': 4, 'Commonsense Understanding': 4, 'Harmlessness': 5}",
    reason: /missing score for Readability .*other key\(s\): "Harmlessness": 5/,
  },
  {
    name: 'score above range',
    text: FEEDBACK + "{'Logical Correctness': 4, 'Commonsense Understanding': 4, 'Readability': 7}",
    reason: /score 7 for Readability is out of range 1-5/,
  },
  {
    name: 'score 0',
    text: FEEDBACK + "{'Logical Correctness': 0, 'Commonsense Understanding': 4, 'Readability': 4}",
    reason: /score 0 for Logical Correctness is out of range/,
  },
  {
    name: 'negative score',
    expected: TWO,
    text: '{"Readability": -1, "Conciseness": 3}',
    reason: /score -1 for Readability is out of range/,
  },
  {
    name: 'text score',
    text: FEEDBACK + "{'Logical Correctness': 'excellent', 'Commonsense Understanding': 4, 'Readability': 4}",
    reason: /score "excellent" for Logical Correctness is not a number/,
  },
  {
    name: 'number spelled out',
    expected: TWO,
    text: "{'Readability': 'four', 'Conciseness': 3}",
    reason: /score "four" for Readability/,
  },
  {
    name: 'duplicate keys for one skill that disagree',
    text: FEEDBACK + "{'Logical Correctness': 4, 'Correctness': 2, 'Commonsense Understanding': 4, 'Readability': 4}",
    reason: /conflicting scores for Logical Correctness: 4 and 2/,
  },
  {
    name: 'last dict is incomplete even though an earlier one was complete',
    text: FEEDBACK + "Draft: {'Logical Correctness': 4, 'Commonsense Understanding': 4, 'Readability': 4}\nFinal: {'Logical Correctness': 5}",
    reason: /missing score for Commonsense Understanding, Readability/,
  },
];

for (const c of cases) {
  test(`parseSkillScores: ${c.name}`, () => {
    const r = parseSkillScores(c.text, c.expected ?? THREE);
    if (c.scores) {
      assert.deepEqual(r, { ok: true, scores: c.scores });
      // Report order follows the instance's skill order.
      if (r.ok) assert.deepEqual(Object.keys(r.scores), c.expected ?? THREE);
    } else {
      assert.equal(r.ok, false, `expected failure, got ${JSON.stringify(r)}`);
      if (!r.ok) assert.match(r.reason, c.reason!);
    }
  });
}

// Item 5 of issue 9: keys beyond the instance's skills keep the instance's scores and become a warning.
for (const [name, text, extra] of [
  ['extra key that is no skill', FEEDBACK + "{'Logical Correctness': 4, 'Commonsense Understanding': 4, 'Readability': 4, 'Overall': 4}", '"Overall": 4'],
  ['a real skill that the instance does not have', FEEDBACK + "{'Logical Correctness': 4, 'Commonsense Understanding': 4, 'Readability': 4, 'Harmlessness': 5}", '"Harmlessness": 5'],
] as const) {
  test(`parseSkillScores: ${name} -> the instance's scores and a warning`, () => {
    const r = parseSkillScores(text, THREE);
    assert.equal(r.ok, true, JSON.stringify(r));
    if (!r.ok) return;
    assert.deepEqual(r.scores, { 'Logical Correctness': 4, 'Commonsense Understanding': 4, Readability: 4 });
    assert.deepEqual(Object.keys(r.scores), THREE);
    assert.equal(r.warnings?.length, 1);
    assert.match(r.warnings![0]!, new RegExp(`outside the instance's skills, ignored: ${extra.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
}
