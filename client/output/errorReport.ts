import { InputError, RunStoppedError } from '../../core/errors.js';
import { EXIT } from './exitCodes.js';
import { diskFullMessage } from '../../core/diskSpace.js';

/** What the CLI prints for an error, and its exit status. */
export interface ErrorReport {
  code: number;
  message: string;
}

type AnyError = Error & { code?: string; cause?: unknown; type?: string | null; workflowId?: string; details?: unknown };

/** The error and its causes, outermost first (cycles cut). */
function causeChain(e: unknown): AnyError[] {
  const out: AnyError[] = [];
  const seen = new Set<unknown>();
  let c: unknown = e;
  while (c instanceof Error && !seen.has(c)) {
    seen.add(c);
    out.push(c as AnyError);
    c = (c as AnyError).cause;
  }
  return out;
}

const CONNECTION_REFUSED = /ECONNREFUSED|Connection refused|Failed to connect before the deadline|No connection established|UNAVAILABLE|tcp connect error/i;

/** Hints for the failure types the activities raise (ApplicationFailure.type). */
function hintFor(type: string | null | undefined, message: string): string {
  const t = `${type ?? ''} ${message}`;
  if (/auth|401|403|invalid api key|incorrect api key/i.test(t)) return 'check the key: --judge-api-key-file / --model-api-key-file, or OPENAI_API_KEY / FLASK_MODEL_API_KEY';
  if (/not_found|404|model .*does not exist/i.test(t)) return 'check the model name (--judge-model, --model-name) and the base URL (--judge-base-url, --model-base-url)';
  if (/EndpointMismatch/i.test(t)) return 'the run is bound to other endpoints: run the command with the endpoints the run was started with (flask-eval query "SELECT judge_endpoint, model_endpoint FROM runs"), or pass --change-judge to change its judge';
  return '';
}

function temporalAddress(env: NodeJS.ProcessEnv, message: string): string {
  return env.TEMPORAL_ADDRESS || /\b(\d{1,3}(?:\.\d{1,3}){3}:\d+)\b/.exec(message)?.[1] || `127.0.0.1:${env.FLASK_TEMPORAL_PORT || 7233}`;
}

/**
 * Turn any error a command throws into a message a user can act on and an exit status. Expected
 * failures get no stack trace; only unexpected ones (exit 1) do.
 */
export function explainError(e: unknown, env: NodeJS.ProcessEnv = process.env): ErrorReport {
  const chain = causeChain(e);
  const top = chain[0];
  if (!top) return { code: EXIT.unexpected, message: `error: ${String(e)}` };
  if (top instanceof InputError || top.name === 'InputError') return { code: EXIT.badInput, message: `error: ${top.message}` };
  if (top.code?.startsWith('ERR_PARSE_ARGS')) return { code: EXIT.badInput, message: `error: ${top.message} (see --help)` };
  if (top instanceof RunStoppedError || top.name === 'RunStoppedError') return { code: EXIT.runStopped, message: `error: ${top.message}` };

  const noSpace = chain.find((c) => c.code === 'ENOSPC' || /ENOSPC|No space left on device|database or disk is full/i.test(c.message));
  if (noSpace) {
    const where = (noSpace as { path?: string }).path ?? /["'](\/[^"']+)["']/.exec(noSpace.message)?.[1] ?? env.FLASK_STATE_DIR ?? '.flask-eval';
    return { code: EXIT.runStopped, message: `error: ${diskFullMessage(where, noSpace) ?? `the disk holding ${where} is full`} (${noSpace.message.split('\n')[0]}). Free space and rerun the same command: landed results are kept and the run resumes` };
  }

  const oom = chain.find((c) => /Out of Memory Error/i.test(c.message) && !/FLASK_(DUCKDB|QUERY)_MEMORY/.test(c.message));
  if (oom) {
    return { code: EXIT.runStopped, message: `error: the state server's DuckDB ran out of memory (${oom.message.replace(/^state server: /, '').split('\n')[0]}).\n  Its cap is FLASK_DUCKDB_MEMORY (default 512MB): set it higher (e.g. FLASK_DUCKDB_MEMORY=2GB), \`flask-eval server stop\`, and rerun the command; nothing landed is lost` };
  }

  if (top.name === 'WorkflowNotFoundError') {
    const id = top.workflowId ? ` ${top.workflowId}` : '';
    return { code: EXIT.badInput, message: `error: no run workflow${id} in Temporal (namespace ${env.TEMPORAL_NAMESPACE || 'default'}): check the run name (flask-eval query "SELECT run_id FROM runs")` };
  }

  if (top.name === 'WorkflowFailedError') {
    // The root cause is the one that says something: ActivityFailure / ChildWorkflowFailure only wrap it.
    const root = [...chain].reverse().find((c) => c.message && !/^(Activity task failed|Child Workflow execution failed|Workflow execution failed)$/i.test(c.message)) ?? top;
    if (root.name === 'TerminatedFailure') return { code: EXIT.runStopped, message: 'error: the run was terminated (temporal workflow terminate, or a reset); rerun the same command to resume it' };
    if (root.name === 'CancelledFailure') return { code: EXIT.runStopped, message: 'error: the run was cancelled; rerun the same command to resume it' };
    const hint = hintFor(root.type, root.message);
    return { code: EXIT.runStopped, message: `error: the run stopped: ${root.message}${hint ? `\n  ${hint}` : ''}` };
  }

  const refused = chain.find((c) => CONNECTION_REFUSED.test(c.message) || c.code === 'ECONNREFUSED' || (c as { errno?: number }).errno === -111);
  if (refused) {
    if (chain.some((c) => c.name === 'APIConnectionError')) {
      return { code: EXIT.runStopped, message: `error: the endpoint does not answer (${refused.message}): check --judge-base-url / --model-base-url and that the server is running` };
    }
    const addr = temporalAddress(env, chain.map((c) => c.message).join(' '));
    const how = env.TEMPORAL_ADDRESS
      ? `start the Temporal server at ${addr}, or unset TEMPORAL_ADDRESS to use the embedded dev server`
      : 'start the state server (flask-eval server) or rerun the command: it starts the embedded dev server itself';
    return { code: EXIT.runStopped, message: `error: cannot reach Temporal at ${addr} (connection refused): ${how}` };
  }

  if (top.name === 'ServiceError' || top.name === 'TransportError') {
    return { code: EXIT.runStopped, message: `error: Temporal request failed: ${chain[chain.length - 1]!.message}` };
  }

  return { code: EXIT.unexpected, message: `error: ${top.stack ?? top.message}` };
}
