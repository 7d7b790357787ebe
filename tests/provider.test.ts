import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAIProvider, parseRetryAfter } from '../core/provider/openaiProvider.js';
import { ProviderError } from '../core/provider/provider.js';
import { callModel } from '../activities/callModel.js';
import { ApplicationFailure } from '@temporalio/common';

/** A server answering each request with the next scripted status; it records what it received. */
async function scripted(statuses: { status: number; headers?: Record<string, string>; body?: unknown }[]) {
  const seen: { auth?: string; body: Record<string, unknown> }[] = [];
  let i = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      seen.push({ auth: req.headers.authorization, body: JSON.parse(raw || '{}') });
      const s = statuses[Math.min(i++, statuses.length - 1)];
      res.writeHead(s.status, { 'content-type': 'application/json', ...s.headers });
      res.end(JSON.stringify(s.body ?? { error: { message: `status ${s.status}`, type: 'test' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const request = { messages: [{ role: 'user' as const, content: 'hi' }], temperature: 0.2, maxTokens: 1024 };
const ok = { id: 'x', object: 'chat.completion', created: 0, model: 'judge-1', choices: [{ index: 0, message: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } };

test('sends the settings it is given (temperature, max_tokens), once, with the key as bearer', async () => {
  const s = await scripted([{ status: 200, body: ok }]);
  const p = new OpenAIProvider({ apiKey: 'sk-test', baseURL: s.url });
  const r = await p.complete('judge-1', request);
  assert.deepEqual(r, { text: 'fine', finishReason: 'stop', promptTokens: 3, completionTokens: 1, model: 'judge-1' });
  assert.equal(s.seen.length, 1);
  assert.equal(s.seen[0].body.temperature, 0.2);
  assert.equal(s.seen[0].body.max_tokens, 1024);
  assert.equal(s.seen[0].auth, 'Bearer sk-test');
  await s.close();
});

test('a 429 is retryable, carries Retry-After, and the SDK does not retry on its own', async () => {
  const s = await scripted([{ status: 429, headers: { 'retry-after': '7' } }, { status: 200, body: ok }]);
  const p = new OpenAIProvider({ apiKey: 'k', baseURL: s.url });
  await assert.rejects(p.complete('m', request), (e: unknown) => {
    assert.ok(e instanceof ProviderError);
    assert.equal(e.kind, 'rate_limit');
    assert.equal(e.retryAfterMs, 7000);
    assert.equal(e.retryable, true);
    return true;
  });
  assert.equal(s.seen.length, 1, 'maxRetries: 0 — retries are Temporal\'s job');
  await s.close();
});

test('callModel turns provider errors into Temporal failures: 429 -> next retry delay, 401/400 -> non-retryable', async () => {
  const s = await scripted([{ status: 429, headers: { 'retry-after-ms': '1500' } }, { status: 401 }, { status: 400 }, { status: 503 }]);
  const p = new OpenAIProvider({ apiKey: 'k', baseURL: s.url });
  const failure = async () => {
    try {
      await callModel(p, 'm', request);
    } catch (e) {
      assert.ok(e instanceof ApplicationFailure);
      return e;
    }
    throw new Error('expected a failure');
  };
  const rate = await failure();
  assert.equal(rate.type, 'ProviderError.rate_limit');
  assert.equal(rate.nonRetryable, false);
  assert.equal(rate.nextRetryDelay, 1500);
  const auth = await failure();
  assert.equal(auth.type, 'ProviderError.auth');
  assert.equal(auth.nonRetryable, true);
  assert.match(auth.message, /rejected the API key \(401\).*OPENAI_API_KEY/);
  const bad = await failure();
  assert.equal(bad.type, 'ProviderError.bad_request');
  assert.equal(bad.nonRetryable, true);
  const server = await failure();
  assert.equal(server.type, 'ProviderError.server');
  assert.equal(server.nonRetryable, false);
  await s.close();
});

test('connection refused is a retryable connection error', async () => {
  const s = await scripted([{ status: 200, body: ok }]);
  await s.close();
  const p = new OpenAIProvider({ apiKey: 'k', baseURL: s.url });
  await assert.rejects(p.complete('m', request), (e: unknown) => e instanceof ProviderError && e.kind === 'connection' && e.retryable);
});

test('Retry-After as seconds, milliseconds or an HTTP date', () => {
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': '2' })), 2000);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '250' })), 250);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now), 5000);
  assert.equal(parseRetryAfter(new Headers({})), undefined);
});
