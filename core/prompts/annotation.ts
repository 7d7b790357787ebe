/**
 * The prompts of FLASK's 3-stage metadata annotation (Ye et al., arXiv 2307.10928, Sec. 3.2 and
 * appendix): domain -> skill set -> difficulty, each answered by a strong LLM.
 *
 * The templates and judge settings are data/flask/annotation_prompts/STAGE/{prompt,reviewer}.jsonl.
 * How FLASK fills their placeholders is in its annotation scripts, which our copy does not hold;
 * we read them from public copies of kaistAI/FLASK (paths as named in FLASK's README):
 *   - metadata_annotation/domain/domain_annotation.py      gen_prompt, parse_domain
 *   - metadata_annotation/skillset/skillset_annotation.py  gen_prompt, parse
 *     (also stored in the fork Reason-Wang/FLASK at the same path)
 *   - metadata_annotation/difficulty/difficulty_annotation.py  gen_prompt
 * and render byte for byte as they do:
 *   - {domain}:  for each domain of the taxonomy, in file order, "\n{i}. {Domain}: {sub1}, {sub2}, ..."
 *                (FLASK reads src/domain.json; we use domain_taxonomy.json, the same taxonomy).
 *   - {skills}:  for each shown position i, "\n{i}: {Criteria}" -- FLASK shows only the criteria,
 *                not the skill name, and numbers with "i: " (a colon, not "i.").
 *   - difficulty: FLASK picks the math variant if the FIRST labelled domain is "Math", else the
 *                coding variant if the first is "Coding", else the general one (domain_labeled[0]).
 * Where we differ from the scripts, on purpose:
 *   - skill order: FLASK calls random.shuffle (unseeded, cumulative across instances) before every
 *     prompt; we shuffle with a seeded PRNG per instance so a run can be reproduced (skillNumbering),
 *     and seed 0 keeps the file order.
 *   - skill-set template: FLASK always uses reviewer 0 -> prompt 1 (with "[Ground Truth Answer]");
 *     every FLASK input has a reference answer. Without one we use prompt 2, which omits the section.
 * Sampling settings: we send reviewer.jsonl's metadata (temperature 0.2, max_tokens 1024) for skill
 * set and difficulty, and temperature 0 for the domain stage (the value domain_annotation.py writes
 * into its request records, FLASK_DOMAIN_TEMPERATURE). FLASK's scripts themselves send neither:
 * they put "temperature" and "max_tokens" next to "request", not inside it, and
 * openai_concurrent.call_and_return passes only item["request"] (model, messages) to
 * ChatCompletion.create, so every FLASK stage ran at the API's defaults. See README,
 * "Differences from FLASK's scripts".
 */
import { createHash } from 'node:crypto';
import { rubricFor, type Rubric } from '../flask/rubrics.js';
import { formatTemplate, templateById, type PromptTemplate, type Reviewer } from '../flask/templates.js';
import { perPromptSet, promptFilesOf, readPromptSet, type PromptSet } from '../flask/promptSet.js';
import { DATA_FILES } from '../paths.js';
import { DOMAIN_TAXONOMY, resolveDomain } from '../flask/domains.js';
import { SKILL_NAMES, resolveSkill, type SkillName } from '../flask/skills.js';
import { InputError } from '../errors.js';
import type { ChatMessage } from './chat.js';
import { mulberry32 } from '../stats/random.js';

export type AnnotationStage = 'domain' | 'skillset' | 'difficulty';
/** The stages in pipeline order: each later stage may use the earlier stages' labels. */
export const ANNOTATION_STAGES: readonly AnnotationStage[] = ['domain', 'skillset', 'difficulty'];

export interface AnnotationPrompt {
  messages: ChatMessage[];
  temperature: number;
  maxTokens: number;
  promptId: number;
}

/**
 * domain_annotation.py writes "temperature": 0 into its request records (reviewer.jsonl says 0.2);
 * the record's temperature never reaches the API (see the module comment), but it is the value
 * FLASK's authors chose for this stage.
 */
const FLASK_DOMAIN_TEMPERATURE = 0;

/** prompt_id of each stage's templates (see the module comment for where each choice comes from). */
const ANNOTATION_PROMPT_IDS = {
  domain: 1,
  skillsetWithAnswer: 1,
  skillsetWithoutAnswer: 2,
  difficultyGeneral: 1,
  difficultyMath: 2,
  difficultyCoding: 3,
} as const;

interface StageKit {
  file: string;
  templates: Map<number, PromptTemplate>;
  reviewers: Reviewer[];
}

interface AnnotationKit {
  stages: Record<AnnotationStage, StageKit>;
  rubrics: Rubric[];
  /** The 12 skills in skillset_description.json's order (FLASK's unshuffled order). */
  fileOrder: SkillName[];
  hash: string;
}

function stageOf(set: PromptSet, stage: AnnotationStage): StageKit {
  const { file, templates, reviewers } = promptFilesOf(set, `annotation_prompts/${stage}`);
  return { file, templates: new Map(templates.map((t) => [t.prompt_id, t])), reviewers };
}

/**
 * Templates, judge settings and rubrics of the 3 stages: from data/ (once per process), or from
 * the set an activity's input carries (a worker without data/; one kit per set).
 */
function kit(set: PromptSet = readPromptSet('annotation')): AnnotationKit {
  return kitOf(set);
}

const kitOf = perPromptSet((set): AnnotationKit => {
  const stages = { domain: stageOf(set, 'domain'), skillset: stageOf(set, 'skillset'), difficulty: stageOf(set, 'difficulty') };
  const rubrics = set.rubrics;
  const fileOrder = rubrics.map((r) => {
    const name = SKILL_NAMES.find((n) => n === r.Skill) ?? resolveSkill(r.Skill);
    if (!name) throw new InputError(`${DATA_FILES.rubrics}: unknown skill "${r.Skill}"`);
    return name;
  });
  if (new Set(fileOrder).size !== SKILL_NAMES.length || fileOrder.length !== SKILL_NAMES.length) {
    throw new InputError(`${DATA_FILES.rubrics}: expected each of the ${SKILL_NAMES.length} skills exactly once`);
  }
  const hashed = {
    stages: ANNOTATION_STAGES.map((s) => ({
      stage: s,
      templates: [...stages[s].templates.values()],
      reviewers: stages[s].reviewers,
    })),
    rubrics,
    taxonomy: DOMAIN_TAXONOMY,
    domainTemperature: FLASK_DOMAIN_TEMPERATURE,
  };
  const hash = createHash('sha256').update(JSON.stringify(hashed)).digest('hex');
  return { stages, rubrics, fileOrder, hash };
});

function settingsFor(stage: StageKit, promptId: number): Reviewer['metadata'] {
  const r = stage.reviewers.find((x) => x.prompt_id === promptId);
  if (!r) throw new InputError(`${stage.file}: no reviewer entry for prompt_id ${promptId}`);
  return r.metadata;
}

function build(stage: StageKit, promptId: number, values: Record<string, string>, temperature?: number): AnnotationPrompt {
  const t = templateById(stage.templates, promptId, stage.file);
  const settings = settingsFor(stage, promptId);
  const user = formatTemplate(t.prompt_template, { ...t.defaults, ...values });
  return {
    messages: [
      { role: 'system', content: t.system_prompt },
      { role: 'user', content: user },
    ],
    temperature: temperature ?? settings.temperature,
    maxTokens: settings.max_tokens,
    promptId,
  };
}

/** FLASK's {domain} block: "\n1. Language: Poetry, Literature\n2. Culture: Art, ..." (domain_annotation.py). */
function renderDomainList(taxonomy: Readonly<Record<string, readonly string[]>> = DOMAIN_TAXONOMY): string {
  let domains = '';
  let index = 1;
  for (const [name, subdomains] of Object.entries(taxonomy)) {
    domains += `\n${index}. ${name}: `;
    domains += subdomains.join(', ');
    index += 1;
  }
  return domains;
}

/** Stage 1: the domain of an instruction (one of 10, two in ambiguous cases). */
export function renderDomainPrompt(instruction: string, set?: PromptSet): AnnotationPrompt {
  const k = kit(set);
  return build(k.stages.domain, ANNOTATION_PROMPT_IDS.domain, { question: instruction, domain: renderDomainList() }, FLASK_DOMAIN_TEMPERATURE);
}

function checkNumbering(numbering: readonly SkillName[]): void {
  const known = new Set<string>(SKILL_NAMES);
  const bad = numbering.filter((s) => !known.has(s));
  if (numbering.length !== SKILL_NAMES.length || new Set(numbering).size !== SKILL_NAMES.length || bad.length > 0) {
    throw new Error(
      `skill numbering must list each of the ${SKILL_NAMES.length} skills exactly once, got [${numbering.join(', ')}]`,
    );
  }
}

/** FLASK's {skills} block: "\n1: {Criteria}\n2: {Criteria}..." in the order shown (skillset_annotation.py). */
function renderSkillOptions(numbering: readonly SkillName[], rubrics: readonly Rubric[] = kit().rubrics): string {
  checkNumbering(numbering);
  let skills = '';
  numbering.forEach((skill, i) => {
    skills += `\n${i + 1}: ${rubricFor(rubrics, skill).Criteria}`;
  });
  return skills;
}

/**
 * Stage 2: the 3 primary skills, answered as indices into `numbering` (index 0 is shown as "1").
 * Keep the numbering: parseSkillsetAnswer needs the same one to map the indices back.
 */
export function renderSkillsetPrompt(
  instruction: string,
  referenceAnswer: string | undefined,
  numbering: readonly SkillName[],
  set?: PromptSet,
): AnnotationPrompt {
  const k = kit(set);
  const hasAnswer = referenceAnswer !== undefined && referenceAnswer.trim() !== '';
  const promptId = hasAnswer ? ANNOTATION_PROMPT_IDS.skillsetWithAnswer : ANNOTATION_PROMPT_IDS.skillsetWithoutAnswer;
  return build(k.stages.skillset, promptId, {
    question: instruction,
    skills: renderSkillOptions(numbering, k.rubrics),
    sample_answer: hasAnswer ? referenceAnswer : '',
  });
}

/** Which difficulty template FLASK uses: decided by the first labelled domain only. */
function difficultyPromptId(domains: readonly string[]): number {
  const first = domains.length > 0 ? resolveDomain(domains[0]!) : undefined;
  if (first === 'Math') return ANNOTATION_PROMPT_IDS.difficultyMath;
  if (first === 'Coding') return ANNOTATION_PROMPT_IDS.difficultyCoding;
  return ANNOTATION_PROMPT_IDS.difficultyGeneral;
}

/** Stage 3: the difficulty level; `domains` are the stage-1 labels, in the judge's order. */
export function renderDifficultyPrompt(instruction: string, domains: readonly string[], set?: PromptSet): AnnotationPrompt {
  return build(kit(set).stages.difficulty, difficultyPromptId(domains), { question: instruction });
}

/**
 * The order in which the 12 skills are shown for one instance. Same (seed, instanceId) -> same
 * order, on any machine; seed 0 -> skillset_description.json's order, unshuffled. The PRNG is
 * mulberry32 seeded with the first 4 bytes of sha256(`${seed}:${instanceId}`); Fisher-Yates.
 */
export function skillNumbering(seed: number, instanceId: number, set?: PromptSet): SkillName[] {
  const order = [...kit(set).fileOrder];
  if (seed === 0) return order;
  const rand = mulberry32(createHash('sha256').update(`${seed}:${instanceId}`).digest().readUInt32LE(0));
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** sha256 of the 3 stages' templates and judge settings, the rubrics and the taxonomy: recorded for provenance. */
export function annotationTemplateHash(): string {
  return kit().hash;
}
