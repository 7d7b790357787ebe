import type { BootstrapOptions } from '../stats/bootstrap.js';
import type { Reader } from '../store/reader.js';
import { buildLeaderboard } from './leaderboard.js';
import { loadInstanceScores } from './instanceScores.js';
import type { ScoreSource } from './scoreSources.js';

/** The HTML report's leaderboard: `flask-eval leaderboard`'s figures for the report's columns. */
export interface LeaderboardSection {
  note: string;
  head: string[];
  rows: string[][];
}

const f3 = (x: number | null) => (x === null ? 'N/A' : x.toFixed(3));

/** The report's columns ranked (two or more with instances in common), else null: nothing to rank. */
export async function leaderboardSection(r: Reader, sources: readonly ScoreSource[], bs: BootstrapOptions, alpha = 0.05): Promise<LeaderboardSection | null> {
  if (sources.length < 2) return null;
  const labels = sources.map((s) => s.label);
  const lb = buildLeaderboard(await loadInstanceScores(r, sources), labels, bs, alpha);
  if (lb.instances === 0) return null;
  return {
    note: `${lb.rows.length} columns ranked on the ${lb.instances} instances every one scored${lb.excluded ? ` (${lb.excluded} scored by only some left out)` : ''}. ` +
      `95% CIs and rank intervals: one joint percentile bootstrap over instances, B = ${lb.bootstrap.resamples}, seed = ${lb.bootstrap.seed}; ` +
      `tiers: pairwise paired sign-flip tests on the overall figure, Holm-corrected over ${lb.pairs.length} pairs at alpha ${lb.alpha} (as flask-eval leaderboard).`,
    head: ['rank', 'run', 'overall', '95% CI', 'rank 95%', 'tier', 'not significantly different from'],
    rows: lb.rows.map((x) => [String(x.rank), x.run, f3(x.overall.mean), `[${f3(x.overall.low)}, ${f3(x.overall.high)}]`, `${x.rankLow}-${x.rankHigh}`, String(x.tier), x.tiedWith.join(', ') || '-']),
  };
}
