import { z } from 'zod';
import { readJsonFile } from '../inputs/jsonl.js';
import { SKILL_NAMES, type SkillName } from './skills.js';
import { InputError } from '../errors.js';

/** One entry of skillset_description.json. */
const RubricSchema = z.object({
  Skill: z.string(),
  Criteria: z.string(),
  Scoring: z.object({ '1': z.string(), '2': z.string(), '3': z.string(), '4': z.string(), '5': z.string() }),
});
export type Rubric = z.output<typeof RubricSchema>;

/** The rubrics in file order (the order matters for the skill-set annotation prompt). */
export function loadRubrics(file: string): Rubric[] {
  const rubrics = readJsonFile(file, z.array(RubricSchema));
  const missing = SKILL_NAMES.filter((n) => !rubrics.some((r) => r.Skill === n));
  if (missing.length > 0) throw new InputError(`${file}: no rubric for skill(s) ${missing.join(', ')}`);
  return rubrics;
}

/** FLASK's gen_prompt picks the first rubric whose name contains the label. */
export function rubricFor(rubrics: readonly Rubric[], skill: SkillName): Rubric {
  const r = rubrics.find((x) => x.Skill.includes(skill));
  if (!r) throw new InputError(`no rubric for skill "${skill}"`);
  return r;
}
