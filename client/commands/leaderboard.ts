import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { buildLeaderboard, type Leaderboard } from '../../core/report/leaderboard.js';
import { loadInstanceScores } from '../../core/report/instanceScores.js';
import { readProvenance } from '../../core/report/provenance.js';
import { resolveScoreSources } from '../../core/report/scoreSources.js';
import { textTable } from '../../core/report/textTable.js';
import { strFlag } from '../flags.js';
import { loadExperiment } from '../../core/experiment/load.js';
import { experimentCells } from '../../core/experiment/cells.js';
import { bootstrapFromFlags, withReader } from './report.js';

export const LEADERBOARD_HELP = `flask-eval leaderboard (RUN RUN [RUN...] | --experiment FILE) [--format table|csv|json] [--alpha 0.05] [--bootstrap 1000] [--seed 20230720] [--db FILE]
  Ranks runs scored on the same instances (several models, one judge; a panel's judges are
  columns RUN@J1, RUN@J2): overall and per-skill means with 95% CIs, each run's 95% rank interval
  (joint bootstrap over the instances every run scored), and tiers of runs not significantly
  different (pairwise paired sign-flip tests on the overall figure, Holm-corrected over all pairs
  at --alpha). Instances some run did not score are left out, and the output says how many.
  --experiment FILE   an experiment file's runs (flask-eval run FILE): one leaderboard of its models per judge x eval set`;

const f3 = (x: number | null) => (x === null ? 'N/A' : x.toFixed(3));

function leaderboardText(lb: Leaderboard): string {
  const lines = [
    `${lb.rows.length} runs on the ${lb.instances} instances every run scored${lb.excluded ? ` (${lb.excluded} instances scored by only some runs left out)` : ''}`,
    `95% CIs and rank intervals: joint percentile bootstrap over instances, B=${lb.bootstrap.resamples}, seed=${lb.bootstrap.seed}; tiers: pairwise paired sign-flip tests on overall, Holm over ${lb.pairs.length} pairs, alpha ${lb.alpha}`,
    '',
  ];
  lines.push(textTable(['rank', 'run', 'overall', '95% CI', 'rank 95%', 'tier', 'not significantly different from'],
    lb.rows.map((r) => [String(r.rank), r.run, f3(r.overall.mean), `[${f3(r.overall.low)}, ${f3(r.overall.high)}]`, `${r.rankLow}-${r.rankHigh}`, String(r.tier), r.tiedWith.join(', ') || '-'])).trimEnd(), '');
  lines.push(textTable(['skill', ...lb.rows.map((r) => r.run)], lb.skills.map((k) => [k, ...lb.rows.map((r) => f3(r.skills[k]?.mean ?? null))])).trimEnd());
  return lines.join('\n') + '\n';
}

function leaderboardCsv(lb: Leaderboard): string {
  const cell = (x: string | number | null) => (x === null ? '' : String(x));
  const out = ['run,rank,tier,figure,mean,low,high,n,rank_low,rank_high'];
  for (const r of lb.rows) {
    out.push([r.run, r.rank, r.tier, 'overall', r.overall.mean, r.overall.low, r.overall.high, r.overall.n, r.rankLow, r.rankHigh].map(cell).join(','));
    for (const k of lb.skills) {
      const s = r.skills[k];
      if (s) out.push([r.run, r.rank, r.tier, k, s.mean, s.low, s.high, s.n, null, null].map(cell).join(','));
    }
  }
  return out.join('\n') + '\n';
}

export async function leaderboardCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals: names } = parseArgs({
    args: argv, allowPositionals: true,
    options: { db: { type: 'string' }, format: { type: 'string', default: 'table' }, alpha: { type: 'string' }, bootstrap: { type: 'string' }, seed: { type: 'string' }, experiment: { type: 'string' } },
  });
  const experimentFile = strFlag(v, 'experiment');
  if (experimentFile === undefined && names.length < 2) throw new InputError(`leaderboard ranks two runs or more\n\n${LEADERBOARD_HELP}`);
  if (experimentFile !== undefined && names.length > 0) throw new InputError('give runs or --experiment FILE, not both');
  if (!['table', 'csv', 'json'].includes(v.format as string)) throw new InputError(`--format must be table, csv or json (got "${v.format}")`);
  const alpha = Number(strFlag(v, 'alpha') ?? 0.05);
  if (!(alpha > 0 && alpha < 1)) throw new InputError(`--alpha must be between 0 and 1 (got "${v.alpha}")`);
  const bs = bootstrapFromFlags(v);
  const rank = (runs: string[]) => rankRuns(strFlag(v, 'db'), runs, bs, alpha, log);
  if (experimentFile === undefined) {
    const lb = await rank(names);
    if (v.format === 'json') process.stdout.write(JSON.stringify(lb, null, 2) + '\n');
    else if (v.format === 'csv') process.stdout.write(leaderboardCsv(lb));
    else process.stdout.write(leaderboardText(lb));
    return;
  }
  // An experiment: the models are ranked within each judge x eval set (scores of different
  // judges or instance sets are not on one scale).
  const groups = experimentLeaderboards(experimentFile);
  const boards: Array<{ judge: string; evalSet: string; leaderboard: Leaderboard }> = [];
  for (const g of groups) boards.push({ judge: g.judge, evalSet: g.evalSet, leaderboard: await rank(g.runs) });
  if (v.format === 'json') process.stdout.write(JSON.stringify(boards, null, 2) + '\n');
  else if (v.format === 'csv') {
    process.stdout.write(['judge,eval_set,' + leaderboardCsv(boards[0]!.leaderboard).split('\n')[0], ...boards.flatMap((b) => leaderboardCsv(b.leaderboard).trimEnd().split('\n').slice(1).map((l) => `${b.judge},${b.evalSet},${l}`))].join('\n') + '\n');
  } else process.stdout.write(boards.map((b) => `== judge ${b.judge}, eval set ${b.evalSet} ==\n${leaderboardText(b.leaderboard)}`).join('\n'));
}

/** The experiment's cells grouped by judge and eval set: each group's runs are ranked together. */
function experimentLeaderboards(file: string): Array<{ judge: string; evalSet: string; runs: string[] }> {
  const { experiment } = loadExperiment(file);
  const groups = new Map<string, { judge: string; evalSet: string; runs: string[] }>();
  for (const c of experimentCells(experiment, file)) {
    const key = `${c.judge.name}\u0000${c.evalSet.name}`;
    if (!groups.has(key)) groups.set(key, { judge: c.judge.name, evalSet: c.evalSet.name, runs: [] });
    groups.get(key)!.runs.push(c.runId);
  }
  const out = [...groups.values()];
  if (out[0]!.runs.length < 2) throw new InputError(`${file}: a leaderboard ranks two models or more; the experiment has ${out[0]!.runs.length} model`);
  return out;
}

async function rankRuns(db: string | undefined, names: string[], bs: ReturnType<typeof bootstrapFromFlags>, alpha: number, log: (s: string) => void): Promise<Leaderboard> {
  const { prov, labels, scores } = await withReader(db, async (r, where) => {
    const runIds = [...new Set(names.map((n) => n.split('@')[0]!))];
    const prov = await readProvenance(r, runIds);
    for (const id of runIds) if (!prov.some((p) => p.runId === id)) throw new InputError(`no run named "${id}" in ${where} (flask-eval runs lists them)`);
    const sources = await resolveScoreSources(r, names);
    return { prov, labels: sources.map((s) => s.label), scores: await loadInstanceScores(r, sources) };
  });
  const sim = prov.filter((p) => p.simulated).map((p) => p.runId);
  if (sim.length) log(`note: ${sim.join(', ')}: produced by the offline endpoint: SIMULATED figures`);
  const lb = buildLeaderboard(scores, labels, bs, alpha);
  if (lb.instances === 0) throw new InputError(`the runs ${names.join(', ')} have no scored instance in common: nothing to rank`);
  return lb;
}
