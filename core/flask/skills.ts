/**
 * The 12 FLASK alignment skills. Rubric names (as in skillset_description.json and the
 * evaluation set) are canonical; the short key is what FLASK's aggregation scripts use:
 * the word after "logical" for the three logical skills, otherwise the first word.
 */
export const SKILLS = [
  { name: 'Logical Robustness', key: 'robustness' },
  { name: 'Logical Correctness', key: 'correctness' },
  { name: 'Logical Efficiency', key: 'efficiency' },
  { name: 'Factuality', key: 'factuality' },
  { name: 'Commonsense Understanding', key: 'commonsense' },
  { name: 'Comprehension', key: 'comprehension' },
  { name: 'Insightfulness', key: 'insightfulness' },
  { name: 'Completeness', key: 'completeness' },
  { name: 'Metacognition', key: 'metacognition' },
  { name: 'Readability', key: 'readability' },
  { name: 'Conciseness', key: 'conciseness' },
  { name: 'Harmlessness', key: 'harmlessness' },
] as const;

export type SkillName = (typeof SKILLS)[number]['name'];
export type SkillKey = (typeof SKILLS)[number]['key'];

/** FLASK's report order (aggregate_skill.py's key_order). */
export const SKILL_KEY_ORDER: readonly SkillKey[] = SKILLS.map((s) => s.key);
export const SKILL_NAMES: readonly SkillName[] = SKILLS.map((s) => s.name);

const byKey = new Map<string, SkillName>(SKILLS.map((s) => [s.key, s.name]));

/**
 * FLASK's key normalisation (gpt4_eval.parse_score + aggregate_skill.py): lower-case,
 * underscores and dashes as spaces, then "logical x" -> x, otherwise the first word.
 */
export function skillKeyOf(text: string): string {
  const words = text
    .toLowerCase()
    .replace(/[_-]+/g, ' ')
    .replace(/[^a-z ]+/g, ' ')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  if (words.length === 0) return '';
  if (words[0] === 'logical' && words.length > 1) return words[1]!;
  return words[0]!;
}

/** Resolve any spelling a judge or a user may use ("logical_correctness", "Commonsense") to a rubric name. */
export function resolveSkill(text: string): SkillName | undefined {
  return byKey.get(skillKeyOf(text));
}

export function skillKey(name: SkillName): SkillKey {
  return SKILLS.find((s) => s.name === name)!.key;
}
