import { hostname } from 'node:os';
import { ApplicationFailure } from '@temporalio/activity';
import { InputError } from '../core/errors.js';
import { describeEndpoint, type EndpointRef } from '../core/provider/endpoint.js';

/** The failure type that stops a run whose endpoint worker cannot render its prompts (core/pipeline RUN_STOPPING_ERRORS). */
const WORKER_CANNOT_WORK = 'WorkerCannotWork';

/**
 * A chunk failed because of this worker, not the endpoint or the instance: the texts its prompts
 * need are missing or broken (an InputError while rendering, e.g. an input from before prompts
 * travelled in it, on a worker without data/). Retrying would fail the same way attempt after
 * attempt, so the worker says so in its log and the run stops with the reason (`status` shows it).
 * Any other error is returned as it was.
 */
export function workerCannotWork(err: unknown, endpoint: EndpointRef, runId: string, step: string): unknown {
  if (!(err instanceof InputError)) return err;
  const message =
    `the worker ${process.pid}@${hostname()} for ${describeEndpoint(endpoint)} cannot render run ${runId}'s ${step} prompts: ${err.message}. ` +
    'Its input carries no prompt texts and it has no data/flask: run a worker of this version (prompt texts travel in the input), or give it the project\'s data/ folder';
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
  return ApplicationFailure.nonRetryable(message, WORKER_CANNOT_WORK);
}
