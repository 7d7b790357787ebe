import { z } from 'zod';
import { InputError } from '../errors.js';
import { scanJsonl } from '../inputs/jsonl.js';
import { SKILLS, type SkillName } from '../flask/skills.js';
import type { Sql } from './database.js';
import { insertRows } from './jsonRows.js';

/**
 * One line of a human labels file (flask-eval import-labels): one annotator's scores of one
 * instance's response, by FLASK skill name or key, 1-5 (integers) or "N/A".
 *   {"idx": 12, "annotator": "ann-1", "scores": {"Logical Correctness": 4, "readability": "N/A"}}
 */
const HumanLabelLine = z.object({
  idx: z.number().int(),
  annotator: z.string().min(1).max(100),
  scores: z.record(z.string(), z.union([z.number().int().min(1).max(5), z.literal('N/A')])).refine((s) => Object.keys(s).length > 0, 'at least one skill score'),
}).strict();
type HumanLabelLine = z.output<typeof HumanLabelLine>;

export interface HumanLabelRow {
  idx: number;
  annotator: string;
  skill: SkillName;
  skillKey: string;
  score: number | null;
  line: number;
}

/** A FLASK skill by its rubric name or its key (case-insensitive), or undefined. */
function skillByNameOrKey(s: string): (typeof SKILLS)[number] | undefined {
  const t = s.trim().toLowerCase();
  return SKILLS.find((k) => k.name.toLowerCase() === t || k.key.toLowerCase() === t);
}

/**
 * The file's rows, every problem reported at once by file:line: JSON and shape (schema), unknown
 * skills, instances the run does not have, skills the instance is not scored on, the same
 * (instance, annotator, skill) twice.
 */
export function readHumanLabels(file: string, instanceSkills: ReadonlyMap<number, readonly string[]>, runId: string): HumanLabelRow[] {
  const rows: HumanLabelRow[] = [];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  let shapeErrors: string | undefined;
  try {
    scanJsonl(file, HumanLabelLine, (line, v) => {
      const skills = instanceSkills.get(v.idx);
      if (!skills) {
        problems.push(`${file}:${line}: run "${runId}" has no instance idx ${v.idx}`);
        return;
      }
      for (const [name, score] of Object.entries(v.scores)) {
        const skill = skillByNameOrKey(name);
        if (!skill) {
          problems.push(`${file}:${line}: "${name}" is not a FLASK skill (use a rubric name such as "Logical Correctness" or a key such as "correctness")`);
          continue;
        }
        if (!skills.includes(skill.name)) {
          problems.push(`${file}:${line}: instance ${v.idx} is not scored on ${skill.name} (its skills: ${skills.join(', ')})`);
          continue;
        }
        const key = `${v.idx}|${v.annotator}|${skill.name}`;
        if (seen.has(key)) {
          problems.push(`${file}:${line}: ${v.annotator}'s ${skill.name} of instance ${v.idx} is already on line ${seen.get(key)}`);
          continue;
        }
        seen.set(key, line);
        rows.push({ idx: v.idx, annotator: v.annotator, skill: skill.name, skillKey: skill.key, score: score === 'N/A' ? null : score, line });
      }
    }, ' (one line per instance and annotator: {"idx": 12, "annotator": "a1", "scores": {"Readability": 4, "Conciseness": "N/A"}})');
  } catch (e) {
    // Lines of the wrong shape: reported with the other problems, in one message.
    if (!(e instanceof InputError)) throw e;
    shapeErrors = e.message;
  }
  if (shapeErrors) throw new InputError(`${shapeErrors}${problems.length ? `\n${file}: and ${problems.length} more problem(s):\n${problems.slice(0, 20).map((p) => `  ${p}`).join('\n')}` : ''}`);
  if (problems.length) {
    throw new InputError(`${file}: ${problems.length} problem(s), nothing stored:\n${problems.slice(0, 20).map((p) => `  ${p}`).join('\n')}${problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : ''}`);
  }
  return rows;
}

/** Land labels; a (run, instance, annotator, skill) already stored is kept as it was (counted). */
export async function landHumanLabels(sql: Sql, runId: string, rows: readonly HumanLabelRow[], source: { path: string; sha256: string }): Promise<{ landed: number; existing: number }> {
  const before = Number((await sql.one(`SELECT count(*)::INT AS n FROM human_labels WHERE run_id = ?`, [runId]))?.n ?? 0);
  await insertRows(sql, 'human_labels', {
    run_id: 'VARCHAR', idx: 'INTEGER', annotator: 'VARCHAR', skill: 'VARCHAR', skill_key: 'VARCHAR', score: 'DOUBLE',
    source_path: 'VARCHAR', source_sha256: 'VARCHAR', source_line: 'INTEGER',
  }, rows.map((r) => ({
    run_id: runId, idx: r.idx, annotator: r.annotator, skill: r.skill, skill_key: r.skillKey, score: r.score,
    source_path: source.path, source_sha256: source.sha256, source_line: r.line,
  })));
  const after = Number((await sql.one(`SELECT count(*)::INT AS n FROM human_labels WHERE run_id = ?`, [runId]))?.n ?? 0);
  return { landed: after - before, existing: rows.length - (after - before) };
}
