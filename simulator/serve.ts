/**
 * The offline OpenAI-compatible server as a stand-alone process:
 *   npx tsx simulator/serve.ts --port 8808 --latency-ms 50 --rpm 600 --tpm 400000 --error-rate 0.02 --malformed-rate 0.02 --seed 0 --api-key X
 * Its scores and labels are SIMULATED (deterministic hashes), for demos and tests only.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startOfflineServer, OFFLINE_MODEL_ID, OFFLINE_ANSWER_MODEL_ID, type OfflineServerOptions } from './server.js';

const HELP = `usage: tsx simulator/serve.ts [options]
  --port N                  TCP port on 127.0.0.1 (default 8808; 0 = any free port)
  --latency-ms N            added to every request but GET /models (default 0; env FLASK_OFFLINE_LATENCY_MS)
  --serial                  one request at a time, GET /models included, like a local server with one slot:
                            --latency-ms is then each request's service time (env FLASK_OFFLINE_SERIAL=1)
  --rpm N                   requests per minute before HTTP 429 (default 0 = unlimited)
  --tpm N                   tokens per minute (prompt + max_tokens at admission, then the usage) before HTTP 429 (default 0 = unlimited)
  --error-rate F            fraction of requests answered 500/502/503 (default 0)
  --malformed-rate F        fraction of judge/annotator answers that are malformed (default 0)
  --seed N                  seed of every simulated choice (default 0)
  --api-key K               require "Authorization: Bearer K" (default: any key)
  --answer-words N          typical answer length of the evaluated-model role (default 80)
  --empty-answer-rate F     fraction of empty model answers (default 0)
  --truncated-answer-rate F fraction of model answers cut with finish_reason "length" (default 0)
The scores and labels this server produces are SIMULATED: it is not a real judge.`;

function num(values: Record<string, unknown>, name: string, opts: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  const bad =
    typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v) || (opts.int && !Number.isInteger(v)) ||
    (opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max);
  if (bad) {
    const range = opts.max !== undefined ? ` between ${opts.min ?? '-inf'} and ${opts.max}` : opts.min !== undefined ? ` >= ${opts.min}` : '';
    throw new Error(`--${name} needs a${opts.int ? 'n integer' : ' number'}${range} (got "${String(raw)}")`);
  }
  return v;
}

/** Parse flags, start the server, stop on SIGINT/SIGTERM. Also `flask-eval offline-judge`. */
export async function serveOffline(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'latency-ms': { type: 'string' },
      serial: { type: 'boolean' },
      rpm: { type: 'string' },
      tpm: { type: 'string' },
      'error-rate': { type: 'string' },
      'malformed-rate': { type: 'string' },
      seed: { type: 'string' },
      'api-key': { type: 'string' },
      'answer-words': { type: 'string' },
      'empty-answer-rate': { type: 'string' },
      'truncated-answer-rate': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const opts: OfflineServerOptions = {
    port: num(values, 'port', { int: true, min: 0, max: 65535 }) ?? 8808,
    latencyMs: num({ 'latency-ms': process.env.FLASK_OFFLINE_LATENCY_MS, ...values }, 'latency-ms', { min: 0 }),
    serial: !!values.serial || process.env.FLASK_OFFLINE_SERIAL === '1',
    requestsPerMinute: num(values, 'rpm', { min: 0 }),
    tokensPerMinute: num(values, 'tpm', { min: 0 }),
    serverErrorRate: num(values, 'error-rate', { min: 0, max: 1 }),
    malformedRate: num(values, 'malformed-rate', { min: 0, max: 1 }),
    seed: num(values, 'seed', { int: true }),
    apiKey: values['api-key'],
    answerWords: num(values, 'answer-words', { int: true, min: 1 }),
    emptyAnswerRate: num(values, 'empty-answer-rate', { min: 0, max: 1 }),
    truncatedAnswerRate: num(values, 'truncated-answer-rate', { min: 0, max: 1 }),
  };
  const server = await startOfflineServer(opts);
  console.log(`offline OpenAI-compatible server listening at ${server.url} (models: ${OFFLINE_MODEL_ID}, ${OFFLINE_ANSWER_MODEL_ID})`);
  console.log('NOTE: the scores and labels it produces are SIMULATED (deterministic hashes), not a real judge. Ctrl-C stops it.');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const s = server.stats();
    server.close().then(
      () => {
        console.log(`${signal}: stopped after ${s.requests} chat request(s) (${s.status429} x 429, ${s.status5xx} x 5xx, ${s.malformed} malformed).`);
        process.exitCode = 0;
      },
      (e: unknown) => {
        console.error(`error while closing: ${(e as Error)?.message ?? String(e)}`);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  serveOffline(process.argv.slice(2)).catch((e: unknown) => {
    console.error(`offline server: ${(e as Error)?.message ?? String(e)}`);
    process.exitCode = 1;
  });
}
