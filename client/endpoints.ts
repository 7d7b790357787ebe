import { endpointRef, offlineBaseUrl, type EndpointRef, OPENAI_BASE_URL } from '../core/provider/endpoint.js';
import net from 'node:net';
import { endpointIsOffline, type EndpointConfig } from '../core/config.js';
import { InputError, RunStoppedError } from '../core/errors.js';
import { OpenAIProvider } from '../core/provider/openaiProvider.js';
import { ProviderError, type ChatProvider } from '../core/provider/provider.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../core/rate/index.js';
import { startOfflineServer, type OfflineServer } from '../simulator/server.js';
import type { SimulatedJudgeBias } from '../simulator/judge.js';


/** An endpoint as a process serves it: its identity (no key), a provider holding the key. */
export interface ServedEndpoint {
  ref: EndpointRef;
  provider: ChatProvider;
  /** Learned from the endpoint by the preflight (the offline server says so). */
  simulated: boolean;
}

let offline: Promise<OfflineServer> | undefined;

/** The in-process offline server (one per process, shared by every role). */
function offlineServer(): Promise<OfflineServer> {
  offline ??= startOfflineServer({ seed: offlineSeed(), latencyMs: Number(process.env.FLASK_OFFLINE_LATENCY_MS ?? 0), judgeBias: offlineJudgeBias(), serial: process.env.FLASK_OFFLINE_SERIAL === '1' });
  return offline;
}

/**
 * FLASK_OFFLINE_JUDGE_BIAS='{"sampleSd":0.5,"lengthPer100Words":0.3,"positionShift":[0.5,0,0]}': the
 * offline judge's planted flaws (offline/judge.ts SimulatedJudgeBias), for trying judge-report on a
 * judge whose noise and biases are known. SIMULATED like every offline score.
 */
function offlineJudgeBias(): SimulatedJudgeBias | undefined {
  const raw = process.env.FLASK_OFFLINE_JUDGE_BIAS;
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as SimulatedJudgeBias;
  } catch (e) {
    throw new InputError(`FLASK_OFFLINE_JUDGE_BIAS is not JSON (${(e as Error).message}): e.g. '{"sampleSd":0.5}'`);
  }
}

function offlineSeed(): number {
  return Number(process.env.FLASK_OFFLINE_SEED ?? 0);
}

export async function closeOfflineServer(): Promise<void> {
  const o = offline;
  offline = undefined;
  if (o) await (await o).close();
}

/**
 * Build the provider for an endpoint config. No key and no base URL: the in-process offline
 * server, identified as `offline:seed=N` so that any process with that seed serves the same
 * simulated endpoint. Keys stay in the provider (this process's memory).
 */
export async function serveEndpoint(e: EndpointConfig, queueBase: string): Promise<ServedEndpoint> {
  const ref = endpointRefOf(e, queueBase);
  if (endpointIsOffline(e)) {
    const server = await offlineServer();
    return { ref, provider: new OpenAIProvider({ apiKey: 'offline', baseURL: server.url }), simulated: true };
  }
  // A local server (vLLM, Ollama) often needs no key; the SDK insists on one.
  return { ref, provider: new OpenAIProvider({ apiKey: e.apiKey ?? 'no-key', baseURL: e.baseURL ?? OPENAI_BASE_URL }), simulated: false };
}

/** The identity (and task queue) an endpoint config is served under, without serving it. */
export function endpointRefOf(e: EndpointConfig, queueBase: string): EndpointRef {
  if (endpointIsOffline(e)) return endpointRef(offlineBaseUrl(offlineSeed()), e.model, queueBase);
  try {
    return endpointRef(e.baseURL ?? OPENAI_BASE_URL, e.model, queueBase);
  } catch (err) {
    throw new InputError(`${(err as Error).message}: check --judge-base-url / --model-base-url (or OPENAI_BASE_URL / FLASK_MODEL_BASE_URL)`);
  }
}

/** How long a connection may take before the address is called dead. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long GET /models may take before the user is told the server looks busy. */
const BUSY_NOTICE_MS = 10_000;

/**
 * One cheap call per endpoint before a run starts: does it answer, does it take the key, does
 * it say it is simulated? A dead address fails in seconds (no TCP connection), a wrong key at its
 * first answer. A server that accepts the connection but answers late is busy, not dead (a
 * one-slot local server finishing another request): it is waited for, with a message, up to the
 * request timeout.
 */
export async function preflight(
  role: 'judge' | 'model', ep: ServedEndpoint, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS, log: (s: string) => void = () => undefined,
): Promise<ServedEndpoint> {
  const flag = role === 'judge' ? '--judge-base-url / OPENAI_BASE_URL, --judge-api-key / OPENAI_API_KEY' : '--model-base-url / FLASK_MODEL_BASE_URL, --model-api-key / FLASK_MODEL_API_KEY';
  const connectError = await tryConnect(ep.ref.baseUrl, Math.min(CONNECT_TIMEOUT_MS, timeoutMs));
  if (connectError) {
    throw new RunStoppedError(`the ${role} endpoint ${ep.ref.baseUrl} did not answer: no connection within ${Math.min(CONNECT_TIMEOUT_MS, timeoutMs) / 1000}s (${connectError}). Is the server running? Check ${flag}.`);
  }
  const busy = setTimeout(() => log(
    `the ${role} endpoint ${ep.ref.baseUrl} accepted the connection but has not answered GET /models for ${BUSY_NOTICE_MS / 1000}s: ` +
      `busy (a one-at-a-time server answering another request?); waiting up to ${Math.round(timeoutMs / 1000)}s (--request-timeout)`,
  ), BUSY_NOTICE_MS);
  try {
    const probe = await ep.provider.probe(timeoutMs);
    return { ...ep, simulated: ep.simulated || probe.simulated };
  } catch (e) {
    if (e instanceof ProviderError) {
      if (e.kind === 'auth') throw new RunStoppedError(`the ${role} endpoint ${ep.ref.baseUrl} rejected the key: ${e.message}`);
      if (e.kind === 'connection' || e.kind === 'timeout') {
        throw new RunStoppedError(
          `the ${role} endpoint ${ep.ref.baseUrl} accepted a connection but did not answer GET /models within ${Math.round(timeoutMs / 1000)}s (${e.message}): ` +
            `busy or hung. A slow server needs a longer --request-timeout; check ${flag}.`,
        );
      }
      // 5xx or 429 at preflight: the endpoint is there; the run's own retries deal with it.
      return ep;
    }
    throw e;
  } finally {
    clearTimeout(busy);
  }
}

/** A TCP connection to the URL's host and port: undefined when it opens, else why not. */
function tryConnect(baseUrl: string, timeoutMs: number): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return Promise.resolve(undefined); // not a URL this check understands: the probe will say
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.resolve(undefined);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port });
    const done = (why?: string) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer from ${url.host}`));
    socket.once('connect', () => done());
    socket.once('error', (e) => done(e.message));
  });
}
