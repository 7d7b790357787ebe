import type { Figure, RunFigures } from './figures.js';
import type { RunProvenance } from './provenance.js';
import type { MeanCi } from '../stats/bootstrap.js';
import { textTable } from './textTable.js';

export type ReportBy = 'skill' | 'difficulty' | 'domain';

const f3 = (v: number | null | undefined) => (v === null || v === undefined ? 'N/A' : v.toFixed(3));
const f2 = (v: number | null | undefined) => (v === null || v === undefined ? 'N/A' : v.toFixed(2));

/** "3.412 [3.35, 3.47] n=405" (+ " N/A 3"), or "-" when the run has no score there. */
export function ciCell(c: (MeanCi & { naCount?: number }) | undefined): string {
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
    return textTable(['skill', ...figs.map((f) => f.runId)], rows);
  }
  if (by === 'domain') {
    const keys = unique(figs.flatMap((f) => f.domains.map((d) => d.domain)));
    for (const k of keys) rows.push([k, ...figs.map((f) => ciCell(f.domains.find((d) => d.domain === k)))]);
    return textTable(['domain', ...figs.map((f) => f.runId)], rows);
  }
  const keys = unique(figs.flatMap((f) => f.difficulty.map((d) => `${d.skill}\u0000${d.level}`)));
  for (const key of keys) {
    const [skill, lvl] = key.split('\u0000');
    const cells = figs.map((f) => f.difficulty.find((d) => d.skill === skill && d.level === Number(lvl)));
    const name = cells.find(Boolean)!.difficulty;
    rows.push([`${skill} / L${lvl} ${name}`, ...cells.map((c) => (c ? `${ciCell(c)}; cum ${ciCell(c.cumulative)}` : '-'))]);
  }
  return textTable(['skill / level', ...figs.map((f) => f.runId)], rows);
}

export function runHeaderLine(p: RunProvenance): string {
  return `${p.runId}: ${p.kind}, model ${p.modelId ?? '-'}, judge ${p.judgeModel ?? '-'}; ${p.scored} scored, ${p.failed} failed of ${p.instances} instances` +
    (p.simulated ? '  [SIMULATED: offline endpoint, not a real model]' : '');
}

/** JSON: the bootstrap settings, and per run its provenance and the figures of one analysis. */
export function figuresJson(figs: readonly RunFigures[], prov: readonly RunProvenance[], by: ReportBy): string {
  const pick = (f: RunFigures) => (by === 'skill' ? { skills: f.skills.map(clean), overall: clean(f.overall) } : by === 'domain' ? { domains: f.domains.map(clean) } : { difficulty: f.difficulty.map(clean) });
  return JSON.stringify({
    ci: { method: 'percentile bootstrap over instances', level: figs[0]?.bootstrap.level ?? 0.95, resamples: figs[0]?.bootstrap.resamples, seed: figs[0]?.bootstrap.seed },
    runs: figs.map((f) => ({ run: f.runId, simulated: prov.find((p) => p.runId === f.runId)?.simulated ?? false, scoredInstances: f.instances, ...pick(f) })),
  }, null, 2) + '\n';
}

function clean<T extends Figure | object>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
