import { continueAsNew, defineQuery, setHandler, startChild, workflowInfo, type ChildWorkflowHandle } from '@temporalio/workflow';
import { runWorkflowId } from '../core/pipeline.js';
import { EXPERIMENT_STATUS_QUERY, type CellOutcome, type ExperimentStatus, type ExperimentWorkflowInput } from '../core/experiment/workflowTypes.js';
import { runWorkflow } from './runWorkflow.js';

export const experimentStatusQuery = defineQuery<ExperimentStatus>(EXPERIMENT_STATUS_QUERY);

/** A cell costs the parent ~6 events; continue-as-new keeps a 1,000-cell matrix well inside the limits. */
const MAX_HISTORY_EVENTS = 2000;

/**
 * An experiment: its cells are runs, each the child run workflow `review`/`eval` would start
 * (same workflow id, so `status RUN` and the reports see a cell as the run it is), `parallel` at a
 * time. A cell whose run fails is recorded and the others go on. Rerunning the experiment starts
 * the cells again; each skips every instance already landed, so nothing is judged twice.
 */
export async function experimentWorkflow(input: ExperimentWorkflowInput): Promise<CellOutcome[]> {
  const ended: CellOutcome[] = [...(input.ended ?? [])];
  const running = new Map<string, ChildWorkflowHandle<typeof runWorkflow>>();
  setHandler(experimentStatusQuery, () => ({ ended, running: [...running.keys()] }));
  let next = input.next ?? 0;

  const waitForOne = async () => {
    const [runId, outcome] = await Promise.race(
      [...running].map(async ([runId, h]): Promise<[string, CellOutcome]> => {
        try {
          return [runId, { runId, progress: await h.result() }];
        } catch (e) {
          const cause = (e as { cause?: { message?: string } }).cause?.message;
          return [runId, { runId, error: cause ?? (e as Error).message }];
        }
      }),
    );
    running.delete(runId);
    ended.push(outcome);
  };

  while (next < input.cells.length) {
    while (running.size < input.parallel && next < input.cells.length) {
      const cell = input.cells[next]!;
      next++;
      try {
        running.set(cell.runId, await startChild(runWorkflow, { workflowId: runWorkflowId(cell.runId), taskQueue: cell.controlQueue, args: [cell] }));
      } catch (e) {
        // The run's workflow already runs on its own (a `review --run` of the same name): the cell
        // is reported, the others go on.
        ended.push({ runId: cell.runId, error: `could not start: ${(e as Error).message}` });
      }
    }
    if (running.size > 0) await waitForOne();
    const info = workflowInfo();
    if ((info.continueAsNewSuggested || info.historyLength > (input.maxHistoryEvents ?? MAX_HISTORY_EVENTS)) && next < input.cells.length) {
      while (running.size > 0) await waitForOne();
      await continueAsNew<typeof experimentWorkflow>({ ...input, next, ended });
    }
  }
  while (running.size > 0) await waitForOne();
  return ended;
}
