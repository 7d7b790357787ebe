import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import { startOfflineServer, type OfflineServer, type OfflineServerOptions } from '../../simulator/server.js';
import { loadEvalSet, AnswerSchema } from '../../core/flask/dataset.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { readJsonl } from '../../core/inputs/jsonl.js';
import { renderReviewPrompt, loadReviewPromptKit } from '../../core/prompts/review.js';
import { parseMultipart } from '../../simulator/batches.js';
import { setTimeout as sleep } from 'node:timers/promises';

// The offline server is SIMULATED; these tests check the Files + Batch API protocol through the
// real openai SDK, and that every batch line gets the live endpoint's own answer.

const servers: OfflineServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(opts: OfflineServerOptions = {}): Promise<{ server: OfflineServer; client: OpenAI }> {
  const server = await startOfflineServer({ apiKey: 'test-key', ...opts });
  servers.push(server);
  return { server, client: new OpenAI({ apiKey: 'test-key', baseURL: server.url, maxRetries: 0 }) };
}

const kit = loadReviewPromptKit();
const instances = loadEvalSet(DATA_FILES.evalSet);
const answers = new Map(readJsonl(publishedAnswersFile('gpt4'), AnswerSchema).map((r) => [r.value.questionId, r.value.text]));

/** Chat bodies of FLASK reviews of the published GPT-4 answers: n lines. */
function reviewBodies(n: number, offset = 0) {
  return instances.filter((i) => answers.has(i.idx)).slice(offset, offset + n).map((i) => ({
    custom_id: `review-${i.idx}`,
    body: { model: 'gpt-4-0613', messages: renderReviewPrompt(i, answers.get(i.idx)!, kit), temperature: kit.temperature, max_tokens: kit.maxTokens },
  }));
}

const jsonl = (lines: { custom_id: string; body: unknown }[]) =>
  lines.map((l) => JSON.stringify({ custom_id: l.custom_id, method: 'POST', url: '/v1/chat/completions', body: l.body })).join('\n') + '\n';

async function submit(client: OpenAI, text: string) {
  const file = await client.files.create({ file: await toFile(Buffer.from(text), 'batch.jsonl'), purpose: 'batch' });
  return client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { run: 'test' } });
}

async function waitFor(client: OpenAI, id: string, done: (s: string) => boolean, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const b = await client.batches.retrieve(id);
    if (done(b.status)) return b;
    if (Date.now() > until) throw new Error(`batch ${id} still ${b.status}`);
    await sleep(50);
  }
}

async function lines(client: OpenAI, fileId: string | null | undefined): Promise<any[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test('files.create / batches.create / retrieve / files.content: validating -> in_progress -> completed, each line the live answer', async () => {
  const { client, server } = await serve({ batches: { completionDelayMs: 800, validatingMs: 150 } });
  const reqs = reviewBodies(8);
  const text = jsonl(reqs);
  const file = await client.files.create({ file: await toFile(Buffer.from(text), 'reviews.jsonl'), purpose: 'batch' });
  assert.equal(file.purpose, 'batch');
  assert.equal(file.bytes, Buffer.byteLength(text));
  assert.equal(file.filename, 'reviews.jsonl');
  assert.equal(await (await client.files.content(file.id)).text(), text, 'the upload is stored byte for byte');

  const t0 = Date.now();
  const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  assert.equal(created.status, 'validating');
  assert.equal(created.input_file_id, file.id);
  assert.deepEqual(created.request_counts, { total: 8, completed: 0, failed: 0 });
  assert.equal(created.output_file_id, null);

  // in progress: the counts grow line by line
  const seen: number[] = [];
  let b = created;
  while (b.status !== 'completed') {
    await sleep(60);
    b = await client.batches.retrieve(created.id);
    if (b.status === 'in_progress') seen.push(b.request_counts!.completed);
    assert.ok(['validating', 'in_progress', 'completed'].includes(b.status), b.status);
  }
  assert.ok(Date.now() - t0 >= 750, 'not completed before completionDelayMs');
  assert.ok(seen.length >= 3 && seen.some((c) => c > 0 && c < 8), `progress seen: ${seen}`);
  assert.deepEqual(seen, [...seen].sort((x, y) => x - y));
  assert.deepEqual(b.request_counts, { total: 8, completed: 8, failed: 0 });
  assert.equal(b.error_file_id, null);
  assert.ok(b.completed_at! >= b.in_progress_at! && b.in_progress_at! >= b.created_at);
  assert.equal(b.model, 'gpt-4-0613');
  assert.ok(b.usage!.input_tokens > 0 && b.usage!.output_tokens > 0);

  const out = await lines(client, b.output_file_id);
  assert.deepEqual(out.map((l) => l.custom_id).sort(), reqs.map((r) => r.custom_id).sort());
  // Each line is what the live endpoint answers for the same body.
  for (const l of out.slice(0, 4)) {
    assert.equal(l.response.status_code, 200);
    assert.equal(l.error, null);
    const req = reqs.find((r) => r.custom_id === l.custom_id)!;
    const live = await client.chat.completions.create(req.body as any);
    assert.equal(l.response.body.choices[0].message.content, live.choices[0]!.message.content);
    assert.equal(l.response.body.usage.prompt_tokens, live.usage!.prompt_tokens);
    assert.match(l.response.body.choices[0].message.content, /\{[^}]*\}/, 'a FLASK review with a score dictionary');
  }
  const sumIn = out.reduce((s, l) => s + l.response.body.usage.prompt_tokens, 0);
  assert.equal(b.usage!.input_tokens, sumIn);
  assert.equal(server.stats().byKind.review, 8 + 4);

  const list = await client.batches.list();
  assert.ok(list.data.some((x) => x.id === b.id));
});

test('per-line failures land in the error file; sent again in a new batch they may succeed', async () => {
  const { client } = await serve({ batches: { completionDelayMs: 200, lineFailureRate: 0.4 }, seed: 3 });
  const reqs = reviewBodies(20, 20);
  const b = await waitFor(client, (await submit(client, jsonl(reqs))).id, (s) => s === 'completed');
  const out = await lines(client, b.output_file_id);
  const err = await lines(client, b.error_file_id);
  assert.ok(err.length >= 2 && out.length >= 2, `out ${out.length} err ${err.length}`);
  assert.deepEqual(b.request_counts, { total: 20, completed: out.length, failed: err.length });
  for (const e of err) {
    assert.equal(e.response.status_code, 500);
    assert.equal(e.response.body.error.type, 'server_error');
  }
  assert.deepEqual([...out, ...err].map((l) => l.custom_id).sort(), reqs.map((r) => r.custom_id).sort());

  // re-batch the failed lines until none is left (bounded): the draw changes with each batching
  let failed = reqs.filter((r) => err.some((e) => e.custom_id === r.custom_id));
  let rounds = 0;
  while (failed.length > 0 && rounds < 10) {
    rounds++;
    const again = await waitFor(client, (await submit(client, jsonl(failed))).id, (s) => s === 'completed');
    const left = await lines(client, again.error_file_id);
    failed = failed.filter((r) => left.some((e) => e.custom_id === r.custom_id));
  }
  assert.equal(failed.length, 0, 'every line eventually succeeds when sent again');
});

test('expiry: lines done by then are in the output file, the rest in the error file as batch_expired', async () => {
  const { client } = await serve({ batches: { completionDelayMs: 2000, validatingMs: 0, expireAfterMs: 1000 } });
  const reqs = reviewBodies(10, 40);
  const b = await waitFor(client, (await submit(client, jsonl(reqs))).id, (s) => s !== 'validating' && s !== 'in_progress');
  assert.equal(b.status, 'expired');
  assert.ok(b.expired_at);
  const out = await lines(client, b.output_file_id);
  const err = await lines(client, b.error_file_id);
  // lines become visible evenly over 2000 ms: 5 of 10 by 1000 ms
  assert.equal(out.length, 5);
  assert.equal(err.length, 5);
  for (const e of err) assert.deepEqual([e.response, e.error.code], [null, 'batch_expired']);
  assert.deepEqual(b.request_counts, { total: 10, completed: 5, failed: 5 });
});

test('an invalid input file fails the batch with errors naming the line; unknown ids are 404', async () => {
  const { client } = await serve({ batches: { completionDelayMs: 100, validatingMs: 20 } });
  const good = reviewBodies(1)[0]!;
  const text = jsonl([good]) + 'not json\n' + JSON.stringify({ custom_id: good!.custom_id, method: 'POST', url: '/v1/chat/completions', body: good!.body }) + '\n' +
    JSON.stringify({ custom_id: 'x', method: 'POST', url: '/v1/embeddings', body: {} }) + '\n';
  const b = await waitFor(client, (await submit(client, text)).id, (s) => s !== 'validating');
  assert.equal(b.status, 'failed');
  assert.deepEqual(b.errors!.data!.map((e) => [e.code, e.line]), [['invalid_json_line', 2], ['duplicate_custom_id', 3], ['mismatched_endpoint', 4]]);
  assert.equal(b.output_file_id, null);

  await assert.rejects(client.batches.retrieve('batch_nope'), (e: any) => e.status === 404);
  await assert.rejects(client.files.content('file-nope'), (e: any) => e.status === 404);
  await assert.rejects(client.batches.create({ input_file_id: 'file-nope', endpoint: '/v1/chat/completions', completion_window: '24h' }), (e: any) => e.status === 404);
  const f = await client.files.create({ file: await toFile(Buffer.from(jsonl([good])), 'a.jsonl'), purpose: 'batch' });
  await assert.rejects(client.batches.create({ input_file_id: f.id, endpoint: '/v1/embeddings', completion_window: '24h' }), (e: any) => e.status === 400);
  // the API key is checked as on every route
  const stranger = new OpenAI({ apiKey: 'wrong', baseURL: client.baseURL, maxRetries: 0 });
  await assert.rejects(stranger.files.create({ file: await toFile(Buffer.from('x'), 'a.jsonl'), purpose: 'batch' }), (e: any) => e.status === 401);
});

test('cancel: a batch in progress ends cancelled', async () => {
  const { client } = await serve({ batches: { completionDelayMs: 5000, validatingMs: 0 } });
  const created = await submit(client, jsonl(reviewBodies(3, 60)));
  const c = await client.batches.cancel(created.id);
  assert.equal(c.status, 'cancelling');
  const b = await waitFor(client, created.id, (s) => s === 'cancelled', 2000);
  assert.ok(b.cancelled_at);
  await assert.rejects(client.batches.cancel(created.id), (e: any) => e.status === 409);
});

test('parseMultipart reads the fields of a form-data body', () => {
  const body = Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--XyZ\r\nContent-Disposition: form-data; name="file"; filename="b.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n{"a":1}\r\n\r\n--XyZ--\r\n');
  const p = parseMultipart(body, 'multipart/form-data; boundary=XyZ')!;
  assert.equal(p.get('purpose')!.data.toString(), 'batch');
  assert.equal(p.get('file')!.filename, 'b.jsonl');
  assert.equal(p.get('file')!.data.toString(), '{"a":1}\r\n');
  assert.equal(parseMultipart(body, 'application/json'), undefined);
});

test('stateFile: a restarted offline server still knows its files and batches; a batch in progress completes', async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const stateFile = path.join(mkdtempSync(path.join(tmpdir(), 'flask-batches-')), 'batches.json');
  const opts = { batches: { completionDelayMs: 1200, validatingMs: 50, stateFile }, seed: 9 };
  const first = await serve(opts);
  const reqs = reviewBodies(6, 80);
  const done = await waitFor(first.client, (await submit(first.client, jsonl(reqs.slice(0, 2)))).id, (s) => s === 'completed');
  const running = await submit(first.client, jsonl(reqs));
  await sleep(200);
  await first.server.close();

  const second = await serve(opts); // same state file, new port
  const again = await second.client.batches.retrieve(done.id);
  assert.equal(again.status, 'completed');
  assert.deepEqual((await lines(second.client, again.output_file_id)).map((l) => l.custom_id).sort(), reqs.slice(0, 2).map((r) => r.custom_id).sort());
  const b = await waitFor(second.client, running.id, (s) => s === 'completed');
  assert.deepEqual(b.request_counts, { total: 6, completed: 6, failed: 0 });
  assert.equal(b.created_at, running.created_at, 'the same batch, not a new one');
  const out = await lines(second.client, b.output_file_id);
  assert.deepEqual(out.map((l) => l.custom_id).sort(), reqs.map((r) => r.custom_id).sort());
});
