import type { Analysis, Figure, RunFigures } from './figures.js';
import type { RunProvenance } from './provenance.js';
import type { MeanCi } from '../stats/bootstrap.js';
import { textTable } from './textTable.js';
import { judgeLegend, POOLED_DEFINITION } from './scoreSources.js';

export type ReportBy = 'skill' | 'difficulty' | 'domain';

/** The analyses the table and JSON views show (--by skill ends with the overall row). */
export const VIEW_ANALYSES: Record<ReportBy, Analysis[]> = { skill: ['skill', 'overall'], difficulty: ['difficulty'], domain: ['domain'] };

const f3 = (v: number | null | undefined) => (v === null || v === undefined ? 'N/A' : v.toFixed(3));
const f2 = (v: number | null | undefined) => (v === null || v === undefined ? 'N/A' : v.toFixed(2));

/** "3.412 [3.35, 3.47] n=405" (+ " N/A 3"), or "-" when the run has no score there. */
function ciCell(c: (MeanCi & { naCount?: number }) | undefined): string {
  if (!c || (c.n === 0 && !c.naCount)) return '-';
  if (c.n === 0) return `N/A (all ${c.naCount} N/A)`;
  return `${f3(c.mean)} [${f2(c.low)}, ${f2(c.high)}] n=${c.n}${c.naCount ? ` N/A ${c.naCount}` : ''}`;
}

export function bootstrapNote(f: RunFigures | undefined): string {
  if (!f) return '';
  return `mean [95% CI] n: percentile bootstrap over instances, B=${f.bootstrap.resamples}, seed=${f.bootstrap.seed} (--bootstrap N, --seed S)`;
}

/** One column per run; rows in FLASK's order; an "overall" row for --by skill. */
export function figuresTable(figs: readonly RunFigures[], by: ReportBy): string {
  const rows: string[][] = [];
  if (by === 'skill') {
    const keys = unique(figs.flatMap((f) => f.skills.map((s) => s.skill)));
    for (const k of keys) rows.push([k, ...figs.map((f) => ciCell(f.skills.find((s) => s.skill === k)))]);
    rows.push(['overall (all scores)', ...figs.map((f) => ciCell(f.overall))]);
    return textTable(['skill', ...figs.map(columnOf)], rows);
  }
  if (by === 'domain') {
    const keys = unique(figs.flatMap((f) => f.domains.map((d) => d.domain)));
    for (const k of keys) rows.push([k, ...figs.map((f) => ciCell(f.domains.find((d) => d.domain === k)))]);
    return textTable(['domain', ...figs.map(columnOf)], rows);
  }
  const keys = unique(figs.flatMap((f) => f.difficulty.map((d) => `${d.skill}\u0000${d.level}`)));
  for (const key of keys) {
    const [skill, lvl] = key.split('\u0000');
    const cells = figs.map((f) => f.difficulty.find((d) => d.skill === skill && d.level === Number(lvl)));
    const name = cells.find(Boolean)!.difficulty;
    rows.push([`${skill} / L${lvl} ${name}`, ...cells.map((c) => (c ? `${ciCell(c)}; cum ${ciCell(c.cumulative)}` : '-'))]);
  }
  return textTable(['skill / level', ...figs.map(columnOf)], rows);
}

/**
 * For runs without one scored instance: the table would be all dashes, so say so and where the
 * reasons are (a bad judge is exactly when a user reads this).
 */
export function nothingScoredLines(prov: readonly RunProvenance[]): string[] {
  return prov.filter((p) => p.scored === 0).map((p) =>
    `${p.runId}: nothing to score: no instance was scored (${p.failed} failed of ${p.instances}); flask-eval failures ${p.runId} lists why`);
}

/** Which role was simulated: "[SIMULATED judge: ...]" says the responses are real when only the judge was not. */
function simulatedBanner(p: Pick<RunProvenance, 'simulatedRoles'>): string {
  const roles = p.simulatedRoles;
  if (roles.length === 0) return '[SIMULATED: offline endpoint, not a real model]';
  const who = roles.join(' and ');
  return `[SIMULATED ${who}: the offline endpoint, not ${roles.length > 1 ? 'real models' : 'a real model'}]`;
}

/** A run's header: its counts; a panel's counts per judge, one line each, numbered as its report columns (RUN@J1, ...). */
export function runHeaderLine(p: RunProvenance): string {
  const sim = p.simulated ? `  ${simulatedBanner(p)}` : '';
  if (p.judges.length < 2) {
    return `${p.runId}: ${p.kind}, model ${p.modelId ?? '-'}, judge ${p.judgeModel ?? '-'}; ${p.scored} scored, ${p.failed} failed of ${p.instances} instances${sim}`;
  }
  return [`${p.runId}: ${p.kind}, model ${p.modelId ?? '-'}, panel of ${p.judges.length} judges; ${p.instances} instances${sim}`,
    ...p.judges.map((j) => `  ${judgeLegend(j)}: ${j.scored} scored, ${j.failed} failed of ${p.instances} instances`)].join('\n');
}

/** The column's name: the run's, or "RUN@J1" / "RUN@pooled" for a panel. */
export const columnOf = (f: RunFigures): string => f.column ?? f.runId;

/** What a pooled column is, printed under any table that has one. */
export function pooledNote(figs: readonly RunFigures[]): string | null {
  return figs.some((f) => f.source?.pooled) ? POOLED_DEFINITION : null;
}

/**
 * JSON: one row per run and figure, the columns of the summary views (run_id, key, score_sum,
 * count, avg, na_count; level, difficulty and cumulative_avg per difficulty) plus the CI and how
 * it was drawn, on every row.
 */
export function figuresJson(figs: readonly RunFigures[], prov: readonly RunProvenance[], by: ReportBy): string {
  const rows: Record<string, unknown>[] = [];
  for (const f of figs) {
    const simulated = prov.find((p) => p.runId === f.runId)?.simulated ?? false;
    const ci = { method: 'percentile bootstrap over instances', level: f.bootstrap.level, resamples: f.bootstrap.resamples, seed: f.bootstrap.seed };
    const judge = f.source?.judge ? { judge: `J${f.source.judge.position}`, judge_id: f.source.judge.id, judge_model: f.source.judge.model, judge_profile: f.source.judge.profile } : {};
    const column = f.column && f.column !== f.runId ? { column: f.column, ...(f.source?.pooled ? { pooled: POOLED_DEFINITION } : {}), ...judge } : {};
    const row = (key: string, x: Figure, more: Record<string, unknown> = {}) => rows.push({
      run_id: f.runId, ...column, key, ...more, score_sum: x.sum, count: x.n, avg: x.mean, na_count: x.naCount,
      ci95_low: x.low, ci95_high: x.high, instances: x.instances, simulated, bootstrap: ci,
    });
    if (by === 'skill') {
      for (const s of f.skills) row(s.skill, s);
      if (f.overall) row('overall', f.overall);
    } else if (by === 'domain') {
      for (const d of f.domains) row(d.domain, d);
    } else {
      for (const d of f.difficulty) {
        row(d.skill, d, {
          level: d.level, difficulty: d.difficulty,
          cumulative_avg: d.cumulative.mean, cumulative_ci95_low: d.cumulative.low, cumulative_ci95_high: d.cumulative.high,
        });
      }
    }
  }
  return JSON.stringify(rows, null, 2) + '\n';
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
