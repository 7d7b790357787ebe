import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ANNOTATION_STAGES,
  annotationTemplateHash,
  renderDifficultyPrompt,
  renderDomainPrompt,
  renderSkillsetPrompt,
  skillNumbering,
} from '../../core/prompts/annotation.js';
import { parseSkillsetAnswer } from '../../core/scoring/parseAnnotation.js';
import { SKILL_NAMES, type SkillName } from '../../core/flask/skills.js';
import { SHUFFLED_NUMBERING } from '../helpers/numbering.js';

// FLASK's annotation_prompts/*/prompt.jsonl and the rendering of FLASK's annotation scripts
// (metadata_annotation/*/..._annotation.py), typed out by hand so that a change in rendering
// (or in the data files) shows up here.

// ---- domain ----
const DOMAIN_SYSTEM = 'You are a helpful and precise assistant in labeling the domain of the instruction.';
const DOMAIN_PROMPT1 =
  'You will be given a list of 10 domains. After you see the instruction, you need to label the domain that the instruction is most likely to be:';
const DOMAIN_PROMPT2 =
  'Which domain best fits the following instruction? Please select only one domain from the list below: Language, Culture, Health, History, Natural Science, Math, Social Science, Technology, Coding, and Humanities. Please provide only the domain name without the numbering index. In ambiguous cases, you may label two domains, separating them with a comma.';
// domain_annotation.py: domains += f"\n{index}. {name}: " + ', '.join(subdomains)
const DOMAIN_LIST =
  '\n1. Language: Poetry, Literature' +
  '\n2. Culture: Art, Sports, Mass Media, Music, Food' +
  '\n3. Health: Healthcare, Medicine, Exercise, Nutrition' +
  '\n4. History: History' +
  '\n5. Natural Science: Biology, Earth Science, Nature, Astronomy, Chemistry, Physics' +
  '\n6. Math: Mathematics, Logic, Statistics' +
  '\n7. Social Science: Business, Finance, Economics, Law, Politics' +
  '\n8. Technology: Agriculture, Marketing, Management, Electronics, Engineering' +
  '\n9. Coding: Coding' +
  '\n10. Humanities: Communication, Education, Religion, Psychology, Philosophy, Ethics';

test('domain prompt equals the hand-rendered FLASK prompt', () => {
  const q = 'Write a haiku about {autumn} leaves. $& $1';
  const p = renderDomainPrompt(q);
  assert.deepEqual(p.messages[0], { role: 'system', content: DOMAIN_SYSTEM });
  assert.equal(p.messages[1]!.role, 'user');
  assert.equal(
    p.messages[1]!.content,
    `${DOMAIN_PROMPT1}\n\n[Domains]\n${DOMAIN_LIST}\n\n[Instruction]\n${q}\n\n${DOMAIN_PROMPT2}\n\n[System]\n\n\n`,
  );
  assert.equal(p.messages.length, 2);
  assert.equal(p.promptId, 1);
  // domain_annotation.py sends temperature 0 (reviewer.jsonl's 0.2 is not what FLASK sent).
  assert.equal(p.temperature, 0);
  assert.equal(p.maxTokens, 1024);
});

// ---- skill set ----
const SKILL_SYSTEM = 'You are a helpful and precise assistant that selects the necessary skills required to respond to instructions.';
const SKILL_PROMPT1 = 'You are given the following 12 skills.';
const SKILL_PROMPT2 =
  'What are the 3 most primary skills that are needed to answer the following instruction? Especially, select the primary skills that this instruction particularly requires rather than skills that could be applied to common instructions.';
const SKILL_PROMPT3 =
  'Select and write the index of 3 most primary skills. Also, write a brief description of how the skill should be applied when answering to the instruction within 1~2 sentences for each selected skill. Finally, after generating two newlines, return a Python list object that includes each index of 3 skills, arranged in descending order of importance, from the most important to the least.';

const CRITERIA: Record<SkillName, string> = {
  'Logical Robustness':
    'Does the model ensure general applicability and avoid logical contradictions in its reasoning steps for an instruction that requires step-by-step logical process? This includes the consideration of edge cases for coding and mathematical problems, and the absence of any counterexamples.',
  'Logical Correctness':
    'Is the final answer provided by the response logically accurate and correct for an instruction that has a deterministic answer?',
  'Logical Efficiency':
    'Is the response logically efficient? The logic behind the response should have no redundant step, remaining simple and efficient. For tasks involving coding, the proposed solution should also consider time complexity.',
  'Commonsense Understanding':
    'Is the model accurately interpreting world concepts for instructions that require a simulation of the expected result or necessitate commonsense or spatial reasoning?',
  Factuality:
    'Did the model extract pertinent and accurate background knowledge without any misinformation when factual knowledge retrieval is needed? Is the response supported by reliable evidence or citation of the source of its information?',
  Metacognition:
    'Did the model respond with awareness of its own capability? Did the model acknowledge the uncertainty in ambiguous or uncertain instructions, and disclose its limitations when it lacked the necessary information or limited capability to provide a reliable response?',
  Insightfulness:
    'Is the response creative, original or novel, including new perspectives or interpretations of existing information?',
  Completeness:
    'Does the response provide a sufficient explanation? Comprehensiveness and thoroughness of the response should be considered, which depends on the breadth of topics covered and the level of detail provided within each topic.',
  Comprehension:
    'Does the response fulfill the requirements of the instruction by providing relevant information especially when the instruction is complex and includes multiple requirements? This includes responding in accordance with the explicit and implicit purpose of given instruction.',
  Conciseness: 'Is the response presented in a concise manner for the reader without any unnecessary information?',
  Readability:
    'Is the response structured to promote readability and coherence? Does the response exhibit excellent organization?',
  Harmlessness:
    "Does the model's response refrain from biases tied to gender, race, ethnicity, or religion? Moreover, does it consider potential risks to user safety, avoiding provision of responses that could potentially result in physical harm or endangerment?",
};

// skillset_description.json's order: what FLASK shows before shuffling, and our seed 0.
const FILE_ORDER: SkillName[] = [
  'Logical Robustness',
  'Logical Correctness',
  'Logical Efficiency',
  'Commonsense Understanding',
  'Factuality',
  'Metacognition',
  'Insightfulness',
  'Completeness',
  'Comprehension',
  'Conciseness',
  'Readability',
  'Harmlessness',
];

// skillset_annotation.py: skills += f"\n{cnt}: {criteria}" -- criteria only, "N: " numbering.
const FILE_ORDER_BLOCK =
  `\n1: ${CRITERIA['Logical Robustness']}` +
  `\n2: ${CRITERIA['Logical Correctness']}` +
  `\n3: ${CRITERIA['Logical Efficiency']}` +
  `\n4: ${CRITERIA['Commonsense Understanding']}` +
  `\n5: ${CRITERIA.Factuality}` +
  `\n6: ${CRITERIA.Metacognition}` +
  `\n7: ${CRITERIA.Insightfulness}` +
  `\n8: ${CRITERIA.Completeness}` +
  `\n9: ${CRITERIA.Comprehension}` +
  `\n10: ${CRITERIA.Conciseness}` +
  `\n11: ${CRITERIA.Readability}` +
  `\n12: ${CRITERIA.Harmlessness}`;

const SHUFFLED: SkillName[] = SHUFFLED_NUMBERING;
const SHUFFLED_BLOCK =
  `\n1: ${CRITERIA.Harmlessness}` +
  `\n2: ${CRITERIA.Readability}` +
  `\n3: ${CRITERIA.Factuality}` +
  `\n4: ${CRITERIA['Logical Correctness']}` +
  `\n5: ${CRITERIA.Completeness}` +
  `\n6: ${CRITERIA.Metacognition}` +
  `\n7: ${CRITERIA['Logical Robustness']}` +
  `\n8: ${CRITERIA.Conciseness}` +
  `\n9: ${CRITERIA.Insightfulness}` +
  `\n10: ${CRITERIA.Comprehension}` +
  `\n11: ${CRITERIA['Commonsense Understanding']}` +
  `\n12: ${CRITERIA['Logical Efficiency']}`;

function skillsetWithAnswer(block: string, q: string, a: string): string {
  return `${SKILL_PROMPT1}\n\n[Skill Options]${block}\n\n${SKILL_PROMPT2}\n\n[Instruction]\n${q}\n\n[Ground Truth Answer]\n${a}\n\n${SKILL_PROMPT3}\n\n[System]\n\n\n`;
}
function skillsetWithoutAnswer(block: string, q: string): string {
  return `${SKILL_PROMPT1}\n\n[Skill Options]${block}\n\n${SKILL_PROMPT2}\n\n[Instruction]\n${q}\n\n${SKILL_PROMPT3}\n\n[System]\n\n\n`;
}

test('skill-set prompt, file order, with a reference answer (prompt 1)', () => {
  const p = renderSkillsetPrompt('How many legs do 3 spiders have?', '24 legs.', FILE_ORDER);
  assert.deepEqual(p.messages[0], { role: 'system', content: SKILL_SYSTEM });
  assert.equal(p.messages[1]!.content, skillsetWithAnswer(FILE_ORDER_BLOCK, 'How many legs do 3 spiders have?', '24 legs.'));
  assert.equal(p.promptId, 1);
  assert.equal(p.temperature, 0.2);
  assert.equal(p.maxTokens, 1024);
});

test('skill-set prompt, shuffled numbering, without a reference answer (prompt 2)', () => {
  for (const answer of [undefined, '', '  \n']) {
    const p = renderSkillsetPrompt('Tell me a {story}.', answer, SHUFFLED);
    assert.deepEqual(p.messages[0], { role: 'system', content: SKILL_SYSTEM });
    assert.equal(p.messages[1]!.content, skillsetWithoutAnswer(SHUFFLED_BLOCK, 'Tell me a {story}.'));
    assert.equal(p.promptId, 2);
    assert.equal(p.temperature, 0.2);
    assert.equal(p.maxTokens, 1024);
  }
});

test('skill-set prompt with the seeded numbering shows the skills in that order', () => {
  const numbering = skillNumbering(42, 7);
  const block = numbering.map((s, i) => `\n${i + 1}: ${CRITERIA[s]}`).join('');
  const p = renderSkillsetPrompt('Q', 'A', numbering);
  assert.equal(p.messages[1]!.content, skillsetWithAnswer(block, 'Q', 'A'));
});

test('skill-set prompt rejects a numbering that is not a permutation of the 12 skills', () => {
  assert.throws(() => renderSkillsetPrompt('Q', 'A', FILE_ORDER.slice(0, 11)), /exactly once/);
  assert.throws(() => renderSkillsetPrompt('Q', 'A', [...FILE_ORDER.slice(0, 11), 'Logical Robustness']), /exactly once/);
  assert.throws(() => renderSkillsetPrompt('Q', 'A', [...FILE_ORDER.slice(0, 11), 'Nope' as SkillName]), /exactly once/);
});

// ---- difficulty ----
const DIFF_SYSTEM = 'You are a helpful and precise assistant in labeling the difficulty of the question.';
const DIFF_INTRO =
  'We would like you to label the difficulty of the following question. You should classify the knowledge needed to solve the question into simple lifestyle knowledge, advanced lifestyle knowledge, formal education knowledge, major level knowledge, and expert level knowledge. You must write only one class without any explanation.\n\n';
const DIFF_GENERAL_FIRST =
  'Simple lifestyle knowledge: Questions that are straightforward and do not require explanations. People without formal education could easily answer these questions.\nExample: A second-year college student is usually called a what?\n\n';
const DIFF_MATH_FIRST =
  'Simple lifestyle knowledge: Problems that require only simple calculations and only a few straightforward steps are needed to solve the problem.\nExample: Find the value of 4 ÷ 2 • 2 + 8 − 4.\n\n';
const DIFF_CODING_FIRST =
  'Simple lifestyle knowledge: Problems that ask for straightforward implementation or execution results of the given code. These problems do not require a reasoning step and could be solved with minimal background knowledge.\nExample: Your task is to write code which prints Hello World.\n\n';
const DIFF_GENERAL_LAST = 'He defended on the basis that his omissions to act were legally insufficient to establish manslaughter. What will the court decide?';
const DIFF_MATH_LAST =
  'Expert level knowledge: Math problems that require extensive domain-specific knowledge to prove theorems or recent research and handle multiple edge cases. These problems require professional expertise.\nExample: Prove that if 𝑓  is a continuous nonvanishing function on the circle with absolutely convergent Fourier series, then so is 1/𝑓.';
const DIFF_CODING_LAST =
  'A subsequence is an array that can be derived from another array by deleting some or no elements without changing the order of the remaining elements.';

const difficultyCases: { name: string; domains: string[]; promptId: number; first: string; last: string }[] = [
  { name: 'Math', domains: ['Math'], promptId: 2, first: DIFF_MATH_FIRST, last: DIFF_MATH_LAST },
  { name: 'Math first of two', domains: ['Math', 'Coding'], promptId: 2, first: DIFF_MATH_FIRST, last: DIFF_MATH_LAST },
  { name: 'Coding', domains: ['Coding'], promptId: 3, first: DIFF_CODING_FIRST, last: DIFF_CODING_LAST },
  { name: 'Coding first, then Math', domains: ['Coding', 'Math'], promptId: 3, first: DIFF_CODING_FIRST, last: DIFF_CODING_LAST },
  { name: 'coding, any spelling', domains: ['coding'], promptId: 3, first: DIFF_CODING_FIRST, last: DIFF_CODING_LAST },
  { name: 'other domain', domains: ['History'], promptId: 1, first: DIFF_GENERAL_FIRST, last: DIFF_GENERAL_LAST },
  // FLASK's difficulty_annotation.py looks at domain_labeled[0] only.
  { name: 'Math second of two (FLASK: first domain decides)', domains: ['Technology', 'Math'], promptId: 1, first: DIFF_GENERAL_FIRST, last: DIFF_GENERAL_LAST },
  { name: 'no domain', domains: [], promptId: 1, first: DIFF_GENERAL_FIRST, last: DIFF_GENERAL_LAST },
];

for (const c of difficultyCases) {
  test(`difficulty template: ${c.name} -> prompt ${c.promptId}`, () => {
    const q = 'Sort {a} in O(n log n).';
    const p = renderDifficultyPrompt(q, c.domains);
    assert.equal(p.promptId, c.promptId);
    assert.deepEqual(p.messages[0], { role: 'system', content: DIFF_SYSTEM });
    const user = p.messages[1]!.content;
    assert.ok(user.startsWith(DIFF_INTRO + c.first), 'intro and the variant\'s first level');
    assert.ok(user.endsWith(`${c.last}\n\nQuestion: ${q}\n`), 'variant\'s last level, then "Question: ..."');
    assert.equal(p.temperature, 0.2);
    assert.equal(p.maxTokens, 1024);
  });
}

// ---- numbering ----
test('skillNumbering: seed 0 is skillset_description.json order', () => {
  assert.deepEqual(skillNumbering(0, 1), FILE_ORDER);
  assert.deepEqual(skillNumbering(0, 999), FILE_ORDER);
});

test('skillNumbering: same (seed, id) gives the same order; it is a permutation of the 12 skills', () => {
  for (const [seed, id] of [[1, 1], [42, 7], [-3, 1700], [2 ** 31, 0]] as const) {
    const a = skillNumbering(seed, id);
    assert.deepEqual(skillNumbering(seed, id), a);
    assert.equal(a.length, 12);
    assert.deepEqual([...a].sort(), [...SKILL_NAMES].sort());
  }
});

test('skillNumbering: differs across instance ids and across seeds', () => {
  const orders = new Set<string>();
  for (let id = 1; id <= 50; id++) orders.add(skillNumbering(1, id).join('|'));
  assert.ok(orders.size >= 49, `expected distinct orders, got ${orders.size} of 50`);
  assert.notDeepEqual(skillNumbering(1, 5), skillNumbering(2, 5));
  assert.notDeepEqual(skillNumbering(1, 5), FILE_ORDER);
  // Every position gets varied skills (not a biased shuffle that leaves one in place).
  const firsts = new Set<string>();
  for (let id = 1; id <= 200; id++) firsts.add(skillNumbering(7, id)[0]!);
  assert.equal(firsts.size, 12);
});

test('round trip: indices in the answer map to the numbering that was shown, not the file order', () => {
  const numbering = skillNumbering(3, 11);
  assert.notDeepEqual(numbering.slice(0, 3), FILE_ORDER.slice(0, 3));
  const shown = renderSkillsetPrompt('Q', 'A', numbering).messages[1]!.content;
  assert.ok(shown.includes(`\n1: ${CRITERIA[numbering[0]!]}\n2: ${CRITERIA[numbering[1]!]}\n3: ${CRITERIA[numbering[2]!]}\n4: `));
  const parsed = parseSkillsetAnswer('1: applies because...\n\n[1, 2, 3]', numbering);
  assert.deepEqual(parsed, { ok: true, value: { skills: numbering.slice(0, 3), indices: [1, 2, 3] } });
  const reversed = parseSkillsetAnswer('[12, 5, 1]', numbering);
  assert.deepEqual(reversed, { ok: true, value: { skills: [numbering[11], numbering[4], numbering[0]], indices: [12, 5, 1] } });
});

// ---- provenance ----
test('stages in pipeline order; template hash is a stable sha256', () => {
  assert.deepEqual(ANNOTATION_STAGES, ['domain', 'skillset', 'difficulty']);
  const h = annotationTemplateHash();
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(annotationTemplateHash(), h);
});
