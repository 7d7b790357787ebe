import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReviewPrompt, renderSkillsBlock, loadReviewPromptKit } from '../../core/prompts/review.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { DATA_FILES } from '../../core/paths.js';
import { formatTemplate } from '../../core/flask/templates.js';

// FLASK's review_prompts/prompt.jsonl, prompt_id 2, typed out by hand so that a change in
// rendering (or in the data file) shows up here.
const SYSTEM = 'You are a helpful and precise assistant in checking the quality of the answer.';
const PROMPT1 =
  'We would like to request your feedback on the performance of the response of the assistant to the user instruction displayed below. In the feedback, I want you to rate the quality of the response in these 3 categories according to each scoring rubric:';
const PROMPT2 =
  "Please give feedback on the assistant's responses. Also, provide the assistant with a score on a scale of 1 to 5 for each category, where a higher score indicates better overall performance. Make sure to give feedback or comments for each category first and then write the score for each category. Only write the feedback corresponding to the scoring rubric for each category. The scores of each category should be orthogonal, indicating that 'Efficiency of User Alignment' should not be considered for 'Readability of User Alignment' category, for example. \n\nLastly, return a Python dictionary object that has skillset names as keys and the corresponding scores as values.";

const READABILITY =
  '\nReadability: Is the response structured to promote readability and coherence? Does the response exhibit excellent organization?' +
  '\nScore 1: The response is completely unclear, making comprehension difficult.' +
  '\nScore 2: The response has significant areas of ambiguity or disorganization, critically affecting reader comprehension.' +
  '\nScore 3: The response contains some unclear components, or its organization could be improved.' +
  '\nScore 4: The response is generally understandable but could be further optimized for readability.' +
  '\nScore 5: The response is clear and well-organized, enabling the reader to effortlessly follow the content.\n\n';
const CONCISENESS =
  '\nConciseness: Is the response presented in a concise manner for the reader without any unnecessary information?' +
  '\nScore 1: The response is highly redundant or contains a lot of unnecessary information, requiring a complete rewrite for optimal clarity and efficiency.' +
  '\nScore 2: The response lacks conciseness and needs a substantial rewrite for better optimization.' +
  '\nScore 3: The response is somewhat concise but includes unnecessary information, requiring some edits for improved optimization.' +
  '\nScore 4: The response is mostly concise but could benefit from minor edits for better optimization.' +
  '\nScore 5: The response is optimally concise and does not contain any unnecessary information, requiring no further optimization.\n\n';

function byHand(skillsBlock: string, question: string, answer: string, response: string): string {
  return `${PROMPT1}\n${skillsBlock}\n[Instruction]\n${question}\n\n[Ground truth Answer]\n${answer}\n\n[Assistant's Response]\n${response}\n\n[The End of Assistant's Response]\n\n${PROMPT2}\n\n[System]\n\n\n`;
}

const instances = new Map(loadEvalSet(DATA_FILES.evalSet).map((i) => [i.idx, i]));

test('review prompt for a 2-skill instance equals the hand-rendered FLASK prompt', () => {
  const inst = { instruction: 'Is water wet?', answer: 'Yes.', skills: ['Readability', 'Conciseness'] as const };
  const msgs = renderReviewPrompt({ ...inst, skills: [...inst.skills] }, 'It is.');
  assert.equal(msgs.length, 2);
  assert.deepEqual(msgs[0], { role: 'system', content: SYSTEM });
  assert.equal(msgs[1]!.role, 'user');
  assert.equal(msgs[1]!.content, byHand(READABILITY + CONCISENESS, 'Is water wet?', 'Yes.', 'It is.'));
});

test('skills keep the instance order (instance 1: Readability, Logical Correctness, Conciseness)', () => {
  const inst = instances.get(1)!;
  assert.deepEqual(inst.skills, ['Readability', 'Logical Correctness', 'Conciseness']);
  const block = renderSkillsBlock(inst.skills, loadReviewPromptKit().rubrics);
  assert.ok(block.startsWith(READABILITY), 'Readability rubric first');
  assert.ok(block.endsWith(CONCISENESS), 'Conciseness rubric last');
  assert.match(block, /\nLogical Correctness: Is the final answer provided by the response logically accurate/);
  const msgs = renderReviewPrompt(inst, 'RESPONSE TEXT');
  assert.equal(msgs[1]!.content, byHand(block, inst.instruction, inst.answer, 'RESPONSE TEXT'));
});

test('braces and $ in texts are copied verbatim (Python str.format does not re-scan values)', () => {
  const tricky = 'def f(x): return {"a": x} $& {question} $1';
  const msgs = renderReviewPrompt({ instruction: tricky, answer: '{response}', skills: ['Readability'] }, '{skills} $$');
  assert.equal(msgs[1]!.content, byHand(READABILITY, tricky, '{response}', '{skills} $$'));
});

test('instance 1417 (the 2-skill quirk) renders two rubric blocks', () => {
  const inst = instances.get(1417)!;
  const content = renderReviewPrompt(inst, 'x')[1]!.content;
  assert.equal(content.match(/\nScore 1: /g)?.length, 2);
  assert.ok(content.includes('\nCommonsense Understanding: ') && content.includes('\nFactuality: '));
});

test('judge settings come from reviewer.jsonl (temperature 0.2, max_tokens 1024)', () => {
  const kit = loadReviewPromptKit();
  assert.equal(kit.temperature, 0.2);
  assert.equal(kit.maxTokens, 1024);
  assert.equal(kit.template.prompt_id, 2);
  assert.match(kit.hash, /^[0-9a-f]{64}$/);
});

test('formatTemplate: {{ }} escapes and missing placeholders', () => {
  assert.equal(formatTemplate('{{a}} {a}', { a: 'x' }), '{a} x');
  assert.throws(() => formatTemplate('{nope}', {}), /placeholder \{nope\} has no value/);
});

// FLASK's prompt_id 1 ("for general questions without sample answer"), typed out by hand: no
// [Ground truth Answer] block, and its own closing paragraph ('correctness' / 'readability').
const PROMPT2_NO_REFERENCE =
  "Please give feedback on the assistant's responses. Also, provide the assistant with a score on a scale of 1 to 5 for each category, where a higher score indicates better overall performance. Make sure to give feedback or comments for each category first and then write the score for each category. Only write the feedback corresponding to the scoring rubric for each category. The scores of each category should be orthogonal, indicating that 'correctness' should not be considered for 'readability' category, for example. \n\nLastly, return a Python dictionary object that has skillset names as keys and the corresponding scores as values.";

test('an instance without a reference answer is judged with FLASK\'s prompt 1, byte for byte; the template used is named per review', async () => {
  const { readFileSync } = await import('node:fs');
  const { stepRequest } = await import('../../activities/stepRequests.js');
  const { reviewTemplateName } = await import('../../core/prompts/review.js');
  // The template is FLASK's own line (the shared reference copy, not the project's data/).
  const flask = JSON.parse(readFileSync('/work/shared/flask/review_prompts/prompt.jsonl', 'utf8').split('\n')[0]!);
  assert.equal(flask.prompt_id, 1);
  assert.equal(flask.prompt_template, '{prompt1}\n{skills}\n[Instruction]\n{question}\n\n[Assistant\'s Response]\n{response}\n\n[The End of Assistant\'s Response]\n\n{prompt2}\n\n[System]\n\n\n');
  assert.equal(flask.defaults.prompt1, PROMPT1);
  assert.equal(flask.defaults.prompt2, PROMPT2_NO_REFERENCE);
  const expected = `${PROMPT1}\n${READABILITY}${CONCISENESS}\n[Instruction]\nIs water wet?\n\n[Assistant's Response]\nIt is.\n\n[The End of Assistant's Response]\n\n${PROMPT2_NO_REFERENCE}\n\n[System]\n\n\n`;
  for (const answer of ['', '  \n']) {
    const inst = { instruction: 'Is water wet?', answer, skills: ['Readability', 'Conciseness'] as ('Readability' | 'Conciseness')[] };
    const msgs = renderReviewPrompt(inst, 'It is.');
    assert.deepEqual(msgs, [{ role: 'system', content: flask.system_prompt }, { role: 'user', content: expected }]);
    assert.equal(reviewTemplateName(inst), 'flask/prompt_id=1');
    const asked = stepRequest('review', { idx: 1, ...inst, response: 'It is.' }, { temperature: 0.2, maxTokens: 1024 }, 7);
    assert.ok(!('cannot' in asked));
    assert.equal(asked.template, 'flask/prompt_id=1');
    assert.equal(asked.calls[0]!.request.messages[1]!.content, expected);
  }
  // With a reference: prompt 2, as before.
  const withRef = stepRequest('review', { idx: 1, instruction: 'Is water wet?', answer: 'Yes.', skills: ['Readability', 'Conciseness'], response: 'It is.' }, { temperature: 0.2, maxTokens: 1024 }, 7);
  assert.ok(!('cannot' in withRef));
  assert.equal(withRef.template, 'flask/prompt_id=2');
  assert.equal(withRef.calls[0]!.request.messages[1]!.content, byHand(`${READABILITY}${CONCISENESS}`, 'Is water wet?', 'Yes.', 'It is.'));
});
