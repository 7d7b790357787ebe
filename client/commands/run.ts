import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import { InputError } from '../../core/errors.js';
import { loadExperiment } from '../../core/experiment/load.js';
import { experimentCells, type ExperimentCell } from '../../core/experiment/cells.js';
import { EXPERIMENT_STATUS_QUERY, experimentWorkflowId, type CellOutcome, type ExperimentStatus, type ExperimentWorkflowInput } from '../../core/experiment/workflowTypes.js';
import { emptyProgress, addProgress, runWorkflowId, type Progress, type RunWorkflowInput } from '../../core/pipeline.js';
import { formatUsd, loadPriceTable } from '../../core/cost/pricing.js';
import type { RunEstimate } from '../../core/cost/estimate.js';
import { textTable } from '../../core/report/textTable.js';
import type { EndpointLimits } from '../../core/rate/index.js';
import { bindRun, runSummary, workflowInputOf } from '../execute.js';
import type { ServedEndpoint } from '../endpoints.js';
import { openSession } from '../session.js';
import { runProgress } from '../runs.js';
import { progressPrinter } from '../output/progressBar.js';
import { EXIT } from '../output/exitCodes.js';
import { cellEstimate, cellRequest } from '../experimentCells.js';
import { strFlag } from '../flags.js';

export const RUN_HELP = `flask-eval run EXPERIMENT.yaml [--dry-run] [--detach] [--db FILE]
  Runs an experiment file's matrix (models x judges x eval sets) as ONE durable workflow: each
  cell is a run named <experiment>-<model>-<judge>-<eval set>, started as the child run workflow
  review/eval would start, --parallel-cells at a time. Rerunning the same command resumes (attaches
  to the running experiment, or starts it again: every cell skips the instances it already has).
  --dry-run   the cells and their estimated calls, tokens and cost (flask-eval estimate's figures); nothing is called
  The file's format (YAML or JSON): docs/experiments.md. Rank the cells: flask-eval leaderboard --experiment EXPERIMENT.yaml`;

const usd = (x: number | undefined) => (x === undefined ? 'n/a' : formatUsd(x));

function cellsTable(cells: ExperimentCell[], estimates?: RunEstimate[]): string {
  return textTable(
    ['cell (run)', 'model', 'judge', 'eval set', ...(estimates ? ['calls', 'cost max', 'cost typical'] : [])],
    cells.map((c, i) => [
      c.runId, c.model.name, c.judge.judges.length > 1 ? `${c.judge.name} (panel of ${c.judge.judges.length})` : c.judge.name, c.evalSet.name,
      ...(estimates ? [String(estimates[i]!.calls), usd(estimates[i]!.cost.upper), usd(estimates[i]!.cost.typical)] : []),
    ]),
  );
}

/** The sum of the cells' costs, undefined when a cell's is unknown (a model without a price). */
const sumCost = (xs: Array<number | undefined>) => (xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((a, b) => a + b!, 0));

export async function runCommand(argv: string[], log: (s: string) => void): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true, options: { 'dry-run': { type: 'boolean' }, detach: { type: 'boolean' }, db: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new InputError(`run takes one experiment file\n\n${RUN_HELP}`);
  const { file, experiment: exp } = loadExperiment(positionals[0]!);
  const cells = experimentCells(exp, file);
  const budget = exp.budgets['max-estimated-cost'];
  if (v['dry-run'] || budget !== undefined) {
    const prices = loadPriceTable(exp.settings.prices);
    const estimates: RunEstimate[] = [];
    for (const c of cells) estimates.push(await cellEstimate(c, exp, prices));
    const upper = sumCost(estimates.map((e) => e.cost.upper));
    const typical = sumCost(estimates.map((e) => e.cost.typical));
    if (v['dry-run']) {
      process.stdout.write(`experiment ${exp.name}: ${cells.length} cells (${exp.models.length} models x ${exp.judges.length} judges x ${exp['eval-sets'].length} eval sets), ${exp.settings['parallel-cells']} at a time\n\n`);
      process.stdout.write(cellsTable(cells, estimates));
      process.stdout.write(`\ntotal: ${estimates.reduce((a, e) => a + e.calls, 0)} calls, cost max ${usd(upper)}, typical ${usd(typical)}` +
        ` (prices: ${prices.files.join(' + ')}; per cell as flask-eval estimate review|eval; a model without a price: n/a)\n`);
      if (budget !== undefined) process.stdout.write(`budget max-estimated-cost ${formatUsd(budget)}: ${upper === undefined ? 'cannot be checked (a cost is n/a: add prices)' : upper > budget ? 'OVER: the run would refuse to start' : 'within'}\n`);
      return EXIT.ok;
    }
    if (upper === undefined) throw new InputError(`${file}: budgets.max-estimated-cost needs every cell's cost, and a model has no price: add it to settings.prices (a prices file, data/prices.json's shape)`);
    if (upper > budget!) throw new InputError(`${file}: the estimated cost ${formatUsd(upper)} (upper bound; flask-eval run --dry-run shows it per cell) is over budgets.max-estimated-cost ${formatUsd(budget!)}: raise the budget or shrink the matrix (settings.limit, fewer cells)`);
  }
  return runExperiment(positionals[0]!, cells, exp, strFlag(v, 'db'), !!v.detach, log);
}

async function runExperiment(file: string, cells: ExperimentCell[], exp: Parameters<typeof cellRequest>[1], db: string | undefined, detach: boolean, log: (s: string) => void): Promise<number> {
  // Every cell's flags are checked, and its files read, before anything is stored or started.
  const name = exp.name;
  const requests = cells.map((c) => cellRequest(c, exp, db, (s) => log(`[${c.runId}] ${s}`)));
  const session = await openSession({ dbFile: requests[0]!.db.file, log });
  try {
    const inputs: RunWorkflowInput[] = [];
    const totals = new Map<string, number>();
    const toServe = new Map<string, { endpoint: ServedEndpoint; limits: EndpointLimits }>();
    for (const request of requests) {
      const bound = await bindRun(request);
      for (const t of bound.toServe) if (!toServe.has(t.endpoint.ref.id)) toServe.set(t.endpoint.ref.id, t);
      const prepared = await session.prepareRun({ record: bound.record, instances: request.inputs.instances, responses: request.inputs.responses, retryFailed: false, changeJudge: false, limit: request.options.limit });
      log(`${prepared.existed ? 'resuming' : 'created'} ${bound.record.runId}: ${prepared.instances} instances`);
      totals.set(bound.record.runId, prepared.instances);
      inputs.push(workflowInputOf(prepared.record, request.steps, bound, request.options, session.controlQueue));
    }
    if (!detach) await session.serve([...toServe.values()]);
    const workflowId = experimentWorkflowId(name);
    const input: ExperimentWorkflowInput = { experiment: name, cells: inputs, parallel: exp.settings['parallel-cells'] };
    let handle = session.client.workflow.getHandle(workflowId);
    let attached = false;
    try {
      attached = (await handle.describe()).status.name === 'RUNNING';
    } catch (e) {
      if (!(e instanceof WorkflowNotFoundError)) throw e;
    }
    if (!attached) handle = await session.client.workflow.start('experimentWorkflow', { workflowId, taskQueue: session.controlQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING' });
    log(`${attached ? 'Attached to running' : 'Started'} experiment workflow ${workflowId}: ${cells.length} cells, ${input.parallel} at a time`);
    if (detach) {
      log(`Detached: the experiment goes on once workers serve its endpoints (this command again without --detach, or flask-eval worker). Each cell is a run: flask-eval status RUN.`);
      return EXIT.ok;
    }
    const interrupted = () => {
      log(`\nInterrupted. The experiment stays in Temporal (${workflowId}); run the same command again to resume it.`);
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    const total = [...totals.values()].reduce((a, b) => a + b, 0);
    let cellsLine = '';
    const bar = progressPrinter(`experiment ${name}`, { endpoints: () => cellsLine });
    let ended: CellOutcome[] = [];
    const result = handle.result() as Promise<CellOutcome[]>;
    let finished = false;
    void result.then(() => { finished = true; }, () => { finished = true; });
    while (!finished) {
      await Promise.race([result.catch(() => undefined), sleep(1000)]);
      if (finished) break;
      const status = await handle.query<ExperimentStatus>(EXPERIMENT_STATUS_QUERY).catch(() => undefined);
      if (!status) continue;
      const p = await experimentProgress(status, total, (runId) => runProgress(session.client, session.client.workflow.getHandle(runWorkflowId(runId))));
      cellsLine = `cells ${status.ended.length}/${cells.length} ended, running ${status.running.join(', ') || '-'}`;
      bar.update(p);
    }
    ended = await result.finally(() => process.off('SIGINT', interrupted));
    cellsLine = `cells ${ended.length}/${cells.length} ended`;
    bar.update(await experimentProgress({ ended, running: [] }, total, async () => emptyProgress()));
    bar.end();
    const failed = ended.filter((c) => c.error);
    for (const c of ended) log(`${c.runId}: ${c.progress ? runSummary(c.progress, undefined, 'review') : `FAILED: ${c.error}`}`);
    log(`Experiment ${name}: ${ended.length - failed.length} of ${cells.length} cells finished${failed.length ? `, ${failed.length} failed (run the same command again to retry them)` : ''}. ` +
      `Rank them: flask-eval leaderboard --experiment ${file}`);
    if (failed.length > 0 || ended.some((c) => c.progress?.stopped)) return EXIT.runStopped;
    return ended.some((c) => (c.progress?.failed ?? 0) > 0) ? EXIT.someFailed : EXIT.ok;
  } finally {
    await session.close();
  }
}

/** One progress line for the whole matrix: ended cells' counts plus what running cells report. */
async function experimentProgress(status: ExperimentStatus, total: number, running: (runId: string) => Promise<Progress>): Promise<Progress> {
  let p = emptyProgress(total);
  for (const c of status.ended) if (c.progress) p = addProgress(p, c.progress);
  for (const runId of status.running) p = addProgress(p, await running(runId).catch(() => emptyProgress()));
  return { ...p, total, pending: Math.max(0, total - p.done - p.failed) };
}
