import { InputError } from '../errors.js';
import type { BootstrapOptions } from '../stats/bootstrap.js';
import { ALL_ANALYSES, computeFigures, type Analysis, type RunFigures } from './figures.js';
import { loadRunScores } from './runScores.js';
import { readProvenance, type RunProvenance } from './provenance.js';
import type { Reader } from './reader.js';

/**
 * Provenance and figures (with CIs) of the named runs; an unknown run name is an input error.
 * Only the `analyses` asked for are computed (their bootstraps are most of a report's time).
 */
export async function loadRunFigures(
  r: Reader, runIds: readonly string[], bs: BootstrapOptions, where = 'the results database', analyses: readonly Analysis[] = ALL_ANALYSES,
): Promise<{ prov: RunProvenance[]; figs: RunFigures[] }> {
  const prov = await readProvenance(r, runIds);
  const missing = runIds.filter((id) => !prov.some((p) => p.runId === id));
  if (missing.length) {
    const known = (await r.all(`SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 20`)).map((x) => String(x.run_id));
    throw new InputError(`no run named ${missing.map((m) => `"${m}"`).join(', ')} in ${where}; runs there: ${known.join(', ') || '(none)'} (flask-eval runs lists them all)`);
  }
  const scores = await loadRunScores(r, runIds, analyses.includes('domain'));
  return { prov, figs: await computeFigures(runIds.map((id) => ({ runId: id, scores: scores.get(id)! })), bs, analyses) };
}
