import http from 'node:http';
import { createInterface } from 'node:readline';
import { InputError } from '../core/errors.js';

/**
 * HTTP over the state server's unix socket: JSON requests, NDJSON uploads and NDJSON result
 * streams. A 400 answer is the user's mistake (InputError, printed without a stack trace).
 */

export class StateServerError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'StateServerError';
  }
}

function failure(status: number, body: string): Error {
  let message = body;
  try {
    message = (JSON.parse(body) as { error?: string }).error ?? body;
  } catch {
    // not JSON: the raw text is the message
  }
  return status === 400 ? new InputError(message) : new StateServerError(`state server: ${message}`, status);
}

function open(socket: string, method: string, urlPath: string, timeoutMs?: number): http.ClientRequest {
  const req = http.request({ socketPath: socket, method, path: urlPath, headers: { connection: 'close' } });
  if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(new StateServerError(`state server at ${socket} did not answer ${method} ${urlPath} within ${timeoutMs} ms`)));
  return req;
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => { text += c; });
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}

function responseOf(req: http.ClientRequest): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
}

/** One JSON request, one JSON answer. */
export async function requestJson<T>(socket: string, method: 'GET' | 'POST', urlPath: string, body?: unknown, timeoutMs = 5000): Promise<T> {
  const req = open(socket, method, urlPath, timeoutMs);
  const response = responseOf(req);
  req.end(body === undefined ? undefined : JSON.stringify(body));
  const res = await response;
  const text = await readAll(res);
  if (res.statusCode !== 200) throw failure(res.statusCode ?? 0, text);
  return JSON.parse(text) as T;
}

/** Upload `lines` as NDJSON (with backpressure: a 100k-instance run is never one string), get a JSON answer. */
export async function postNdjson<T>(socket: string, urlPath: string, lines: Iterable<unknown>): Promise<T> {
  const req = open(socket, 'POST', urlPath);
  req.setHeader('content-type', 'application/x-ndjson');
  const response = responseOf(req);
  let early: http.IncomingMessage | undefined;
  void response.then((r) => { early = r; }, () => undefined);
  for (const line of lines) {
    if (early) break; // the server answered already (a refusal): stop sending
    if (!req.write(`${JSON.stringify(line)}\n`)) {
      await new Promise<void>((r) => {
        const done = () => { req.off('drain', done); req.off('close', done); r(); };
        req.once('drain', done);
        req.once('close', done);
      });
    }
  }
  req.end();
  const res = await response;
  const text = await readAll(res);
  if (res.statusCode !== 200) throw failure(res.statusCode ?? 0, text);
  return JSON.parse(text) as T;
}

/** POST a JSON body, read the answer as NDJSON, one parsed value at a time. */
export async function* streamNdjson(socket: string, urlPath: string, body: unknown): AsyncGenerator<unknown> {
  const req = open(socket, 'POST', urlPath);
  const response = responseOf(req);
  req.end(JSON.stringify(body));
  const res = await response;
  if (res.statusCode !== 200) throw failure(res.statusCode ?? 0, await readAll(res));
  const lines = createInterface({ input: res, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line) yield JSON.parse(line);
    }
  } finally {
    lines.close();
    res.destroy(); // a consumer that stops early ends the server's stream too
  }
}

export interface Lease {
  release(): Promise<void>;
  /** Resolves if the daemon closes the lease: `stopped` when it said it was stopping (server stop), false when it died. */
  lost: Promise<{ stopped: boolean }>;
}

/**
 * GET /lease, held open: while it is open the daemon does not stop on idle. Closing the socket
 * (release, or this process dying) ends it. The socket never keeps this process alive.
 */
export async function openLease(socket: string, timeoutMs = 5000): Promise<Lease> {
  const req = open(socket, 'GET', '/lease');
  const response = responseOf(req);
  req.end();
  const timer = setTimeout(() => req.destroy(new StateServerError(`state server at ${socket} did not grant a lease within ${timeoutMs} ms`)), timeoutMs);
  let res: http.IncomingMessage;
  try {
    res = await response;
    if (res.statusCode !== 200) throw failure(res.statusCode ?? 0, await readAll(res));
    await new Promise<void>((resolve, reject) => {
      res.once('data', () => resolve());
      res.once('error', reject);
      res.once('end', () => reject(new StateServerError('state server closed the lease at once')));
    });
  } finally {
    clearTimeout(timer);
  }
  req.socket?.unref();
  let released = false;
  let stopped = false;
  res.on('data', (c: Buffer) => { if (c.toString().includes('"stopping"')) stopped = true; });
  const lost = new Promise<{ stopped: boolean }>((resolve) => res.once('close', () => resolve({ stopped })));
  return {
    lost,
    async release() {
      if (released) return;
      released = true;
      res.destroy();
      req.destroy();
      await Promise.race([lost, new Promise((r) => setTimeout(r, 1000))]);
    },
  };
}
