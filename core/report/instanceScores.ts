import { difficultyLevel } from '../flask/difficulty.js';
import { SKILL_KEY_ORDER } from '../flask/skills.js';
import type { Reader } from '../store/reader.js';
import { sourceScoresSql, type ScoreSource } from './scoreSources.js';

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
 * Every scored review's scores, per source (a run with one judge, named by itself, or one judge of
 * a panel, or a panel pooled: core/report/scoreSources.ts), keyed by the source's label, read from
 * the base tables (not the summary views) so that every figure and its CI come from the same
 * instance-level data. Only reviews with status 'scored' count; scores are joined to their instance by idx.
 */
export async function loadInstanceScores(r: Reader, sourceList: readonly (string | ScoreSource)[]): Promise<Map<string, InstanceScores[]>> {
  const sources = sourceList.map((s): ScoreSource => (typeof s === 'string' ? { label: s, runId: s, judge: null, pooled: false, judges: [] } : s));
  if (sources.length === 0) return new Map();
  const from = sourceScoresSql(sources);
  const rows = await r.all(
    `SELECT s.src, s.idx, s.skill_key, s.score, i.difficulty, i.domains
     FROM (${from.sql}) s
     JOIN instances i ON i.run_id = s.run_id AND i.idx = s.idx
     ORDER BY s.src, i.ord, s.idx, list_position(i.skills, s.skill), s.skill`,
    from.params,
  );
  const out = new Map<string, InstanceScores[]>(sources.map((s) => [s.label, []]));
  let last: InstanceScores | undefined;
  let lastRun = '';
  for (const row of rows) {
    const run = sources[Number(row.src)]!.label;
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
