import { difficultyLevel } from '../flask/difficulty.js';
import { SKILL_KEY_ORDER } from '../flask/skills.js';
import { placeholders, type Reader } from './reader.js';

/** One scored instance of one run: its scores by skill key (null = N/A), level and domains. */
export interface InstanceScores {
  idx: number;
  /** skill key -> 1..5, or null for N/A; in the instance's own skill order */
  scores: Map<string, number | null>;
  /** 1..5, undefined when FLASK left the difficulty unlabelled (-1) */
  level: number | undefined;
  /** empty when FLASK left the domain unlabelled ("-1") */
  domains: string[];
}

/**
 * Every scored review's scores, per run, read from the base tables (not the summary views) so
 * that every figure and its CI come from the same instance-level data. Only reviews with status
 * 'scored' count; scores are joined to their instance by idx.
 */
export async function loadInstanceScores(r: Reader, runIds: readonly string[]): Promise<Map<string, InstanceScores[]>> {
  const rows = await r.all(
    `SELECT s.run_id, s.idx, s.skill_key, s.score, i.difficulty, i.domains
     FROM review_scores s
     JOIN reviews v ON v.run_id = s.run_id AND v.idx = s.idx AND v.status = 'scored'
     JOIN instances i ON i.run_id = s.run_id AND i.idx = s.idx
     WHERE s.run_id IN (${placeholders(runIds.length)})
     ORDER BY s.run_id, i.ord, s.idx, list_position(i.skills, s.skill), s.skill`,
    [...runIds],
  );
  const out = new Map<string, InstanceScores[]>(runIds.map((id) => [id, []]));
  let last: InstanceScores | undefined;
  let lastRun = '';
  for (const row of rows) {
    const run = String(row.run_id);
    const idx = Number(row.idx);
    if (!last || lastRun !== run || last.idx !== idx) {
      last = {
        idx,
        scores: new Map(),
        level: row.difficulty == null ? undefined : difficultyLevel(String(row.difficulty)),
        domains: ((row.domains as string[] | null) ?? []).map(String),
      };
      lastRun = run;
      out.get(run)!.push(last);
    }
    last.scores.set(String(row.skill_key), row.score === null ? null : Number(row.score));
  }
  return out;
}

/** Skill keys in FLASK's report order, then any unexpected key. */
export function orderSkills(keys: Iterable<string>): string[] {
  const set = new Set(keys);
  return [...SKILL_KEY_ORDER.filter((k) => set.has(k)), ...[...set].filter((k) => !(SKILL_KEY_ORDER as readonly string[]).includes(k)).sort()];
}
