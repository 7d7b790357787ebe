import { InputError } from '../../core/errors.js';
import { loadInstanceScores } from '../../core/report/instanceScores.js';
import { powerPlan, type PowerPlan } from '../../core/report/powerPlan.js';
import { readProvenance } from '../../core/report/provenance.js';
import { textTable } from '../../core/report/textTable.js';
import { strFlag } from '../flags.js';
import { EXIT } from '../output/exitCodes.js';
import { withReader } from './report.js';

const num = (x: number | null, d = 3) => (x === null ? 'n/a' : x.toFixed(d));

function planText(a: string, b: string, p: PowerPlan): string {
  const s = p.settings;
  return [
    `power plan from ${a} vs ${b}: ${p.instances} common instances; to detect a difference of ${s.delta} at alpha ${s.alpha} (two-sided, over ${s.tests} figures) with power ${s.power}`,
    `method: ${p.method}`,
    '',
    textTable(['figure', 'pairs now', 'SD of B - A', 'detectable now', 'pairs needed', 'share of instances', 'instances needed'],
      p.rows.map((r) => [r.figure, String(r.pairs), num(r.sd), num(r.detectableNow), r.pairsNeeded === null ? 'n/a' : String(r.pairsNeeded), `${(100 * r.coverage).toFixed(0)}%`,
        r.instancesNeeded === null ? 'n/a' : String(r.instancesNeeded)])).trimEnd(),
    '',
  ].join('\n');
}

/** `compare A B --plan D`: instances needed per skill, from the differences A and B show. */
export async function comparePlan(names: string[], v: Record<string, string | boolean | undefined>, log: (s: string) => void): Promise<number> {
  if (names.length !== 2) throw new InputError('compare --plan D takes two runs (a pilot pair: the SD of their per-instance differences is what the plan uses)');
  const delta = Number(strFlag(v, 'plan'));
  if (!(delta > 0)) throw new InputError(`--plan takes the difference to detect in score points, > 0 (got "${v.plan}")`);
  const power = Number(strFlag(v, 'power') ?? 0.8);
  if (!(power > 0 && power < 1)) throw new InputError(`--power must be between 0 and 1 (got "${v.power}")`);
  const alpha = Number(strFlag(v, 'alpha') ?? 0.05);
  if (!(alpha > 0 && alpha < 1)) throw new InputError(`--alpha must be between 0 and 1 (got "${v.alpha}")`);
  const [a, b] = names as [string, string];
  const scores = await withReader(strFlag(v, 'db'), async (r, where) => {
    const prov = await readProvenance(r, [a, b]);
    for (const n of [a, b]) if (!prov.some((p) => p.runId === n)) throw new InputError(`no run named "${n}" in ${where} (flask-eval runs lists them)`);
    if (prov.some((p) => p.simulated)) log('note: a run was produced by the offline endpoint: the SD, and so the plan, are SIMULATED');
    return loadInstanceScores(r, [a, b]);
  });
  const plan = powerPlan(scores.get(a) ?? [], scores.get(b) ?? [], { delta, alpha, power });
  if (plan.instances < 2) throw new InputError(`${a} and ${b} have ${plan.instances} scored instance(s) in common: a plan needs the differences of at least 2`);
  if (v.format === 'json') process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
  else process.stdout.write(planText(a, b, plan));
  return EXIT.ok;
}
