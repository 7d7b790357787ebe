// A probe of the cluster itself, independent of flask-eval's pipeline: a workflow of `steps` activity
// calls with a durable timer between them, so a fault injected mid-run (server SIGKILLed, PostgreSQL
// restarted) lands between or during steps. Used by tests/integration/cluster.test.ts.
import { proxyActivities, sleep } from '@temporalio/workflow';

export interface ProbeActivities {
  /** Idempotent by (workflow, step): the test's activity records each landing and each execution. */
  land(step: number): Promise<number>;
}

const { land } = proxyActivities<ProbeActivities>({
  startToCloseTimeout: '20s',
  retry: { initialInterval: '200ms', maximumInterval: '2s', backoffCoefficient: 2 },
});

export async function clusterProbe(steps: number, pauseMs: number): Promise<number[]> {
  const landed: number[] = [];
  for (let step = 0; step < steps; step++) {
    landed.push(await land(step));
    await sleep(pauseMs);
  }
  return landed;
}
