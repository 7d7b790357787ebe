import { InputError } from '../errors.js';
import type { BootstrapOptions } from '../stats/bootstrap.js';
import { ALL_ANALYSES, computeFigures, type Analysis, type RunFigures } from './figures.js';
import { loadRunScores } from './runScores.js';
import { readProvenance, type RunProvenance } from './provenance.js';
import type { Reader } from '../store/reader.js';
import { resolveScoreSources, type ScoreSource } from './scoreSources.js';

/**
 * Provenance and figures (with CIs) of the named runs; an unknown run name is an input error.
 * Only the `analyses` asked for are computed (their bootstraps are most of a report's time).
 * A panel run gives one column of figures per judge (in the order the judges were given) and,
 * with `pooled`, the pooled column (core/report/scoreSources.ts); "RUN@J2" / "RUN@pooled" pick one.
 * `figs` has one entry per column; `prov` one per run.
 */
export async function loadRunFigures(
  r: Reader, names: readonly string[], bs: BootstrapOptions, where = 'the results database', analyses: readonly Analysis[] = ALL_ANALYSES,
  opts: { pooled?: boolean } = {},
): Promise<{ prov: RunProvenance[]; figs: RunFigures[]; sources: ScoreSource[] }> {
  const runIds = [...new Set(names.map((n) => n.split('@')[0]))];
  const prov = await readProvenance(r, runIds as string[]);
  const missing = runIds.filter((id) => !prov.some((p) => p.runId === id));
  if (missing.length) {
    const known = (await r.all(`SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 20`)).map((x) => String(x.run_id));
    throw new InputError(`no run named ${missing.map((m) => `"${m}"`).join(', ')} in ${where}; runs there: ${known.join(', ') || '(none)'} (flask-eval runs lists them all)`);
  }
  const sources = await resolveScoreSources(r, names, opts);
  const scores = await loadRunScores(r, sources, analyses.includes('domain'));
  const figs = await computeFigures(sources.map((s) => ({ runId: s.runId, scores: scores.get(s.label)! })), bs, analyses);
  return { prov, sources, figs: figs.map((f, i) => ({ ...f, column: sources[i]!.label, source: sources[i] })) };
}
