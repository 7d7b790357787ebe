// Everything Temporal's worker bundles as workflow code: orchestration only, no I/O.
export { runWorkflow, runStatusQuery } from './runWorkflow.js';
export { batchWorkflow, batchProgressQuery } from './batchWorkflow.js';
export { experimentWorkflow, experimentStatusQuery } from './experimentWorkflow.js';
