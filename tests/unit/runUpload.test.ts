import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createStateHttpServer, removeStaleUploads } from '../../server/httpApi.js';
import { storeClient } from '../../server/attach.js';
import { Database } from '../../core/store/database.js';
import { SnapshotPublisher, snapshotBuildDir } from '../../core/store/snapshot.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { DATA_FILES } from '../../core/paths.js';
import { baseRun, counts } from '../helpers/harness.js';

/** A state server's HTTP API on a socket of its own, over a fresh results file. */
async function withApi(fn: (o: { socket: string; db: Database; dir: string }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-upload-'));
  const db = new Database(path.join(dir, 'results.duckdb'), { snapshotBuildDir: snapshotBuildDir(path.join(dir, 'results.duckdb')) });
  const socket = path.join(dir, 'api.sock');
  const server = createStateHttpServer({ db, snapshot: new SnapshotPublisher(db), health: () => ({}), onLeases: () => undefined, onStop: () => undefined, onPin: () => undefined, log: () => undefined });
  server.listen(socket);
  await once(server, 'listening');
  try {
    await fn({ socket, db, dir });
  } finally {
    server.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** POST raw NDJSON lines to /runs; the status and the body. */
function postLines(socket: string, lines: unknown[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: '/runs', method: 'POST', headers: { 'content-type': 'application/x-ndjson' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  });
}

const instances = loadEvalSet(DATA_FILES.evalSet).slice(0, 4500);
const responses = instances.map((i) => ({ idx: i.idx, modelId: 'm', text: `answer ${i.idx}`, source: 'imported' as const }));

test('an upload lands in batches, in order, through the state server; the spool file is removed', async () => {
  await withApi(async ({ socket, db, dir }) => {
    const run = baseRun('upload-ok');
    const result = await storeClient(socket).prepareRun({ record: run, instances, responses });
    assert.equal(result.newInstances, instances.length);
    assert.equal(result.newResponses, responses.length);
    const c = await counts(db, run.runId);
    assert.equal(c.instances, instances.length);
    assert.equal(c.responses, responses.length);
    // ords follow the upload across batches of 2,000
    const ords = await db.read((sql) => sql.all<{ idx: number; ord: number }>('SELECT idx, ord FROM instances WHERE run_id = ? ORDER BY ord', [run.runId]));
    assert.deepEqual(ords.map((r) => r.idx), instances.map((i) => i.idx));
    assert.deepEqual(ords.map((r) => r.ord), instances.map((_, k) => k));
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.upload-')), []);
    // The same upload again: nothing new (a resumed run).
    const again = await storeClient(socket).prepareRun({ record: run, instances, responses });
    assert.equal(again.existed, true);
    assert.equal(again.newInstances, 0);
  });
});

test('an upload cut short (no end line, or fewer rows than announced) stores nothing', async () => {
  await withApi(async ({ socket, db, dir }) => {
    const run = baseRun('upload-cut');
    const header = { record: run, options: {} };
    const rows = instances.slice(0, 10).map((instance) => ({ instance }));
    const cut = await postLines(socket, [header, ...rows]);
    assert.equal(cut.status, 400);
    assert.match(cut.body, /incomplete upload \(10 instances, 0 responses received, no end line\); nothing was stored/);
    const short = await postLines(socket, [header, ...rows, { end: { instances: 11, responses: 0 } }]);
    assert.equal(short.status, 400);
    assert.match(short.body, /11 and 0 announced/);
    const c = await counts(db, run.runId);
    assert.equal(c.instances, 0);
    assert.equal((await db.read((sql) => sql.all('SELECT * FROM runs WHERE run_id = ?', [run.runId]))).length, 0);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.upload-')), []);
  });
});

test("a killed state server's half-spooled uploads are removed when one starts; live ones and other files are kept", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-spool-'));
  try {
    for (const f of ['.upload-111-1.ndjson', '.upload-111-2.ndjson', '.upload-222-1.ndjson', 'results.duckdb', 'upload-111-1.ndjson']) writeFileSync(path.join(dir, f), 'x');
    const removed = removeStaleUploads(dir, (pid) => pid === 222);
    assert.deepEqual(removed.sort(), ['.upload-111-1.ndjson', '.upload-111-2.ndjson']);
    assert.deepEqual(readdirSync(dir).sort(), ['.upload-222-1.ndjson', 'results.duckdb', 'upload-111-1.ndjson']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
