import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Database } from '../../core/store/database.js';
import { stateServerMemoryLimit } from '../../server/daemon.js';

test("the state server's DuckDB memory limit: 512MB unless FLASK_DUCKDB_MEMORY says otherwise; nonsense is refused", () => {
  const saved = process.env.FLASK_DUCKDB_MEMORY;
  try {
    delete process.env.FLASK_DUCKDB_MEMORY;
    assert.equal(stateServerMemoryLimit(), '512MB');
    process.env.FLASK_DUCKDB_MEMORY = '2GB';
    assert.equal(stateServerMemoryLimit(), '2GB');
    process.env.FLASK_DUCKDB_MEMORY = 'lots';
    assert.throws(() => stateServerMemoryLimit(), /FLASK_DUCKDB_MEMORY=lots: give a size such as 512MB or 2GB/);
  } finally {
    if (saved === undefined) delete process.env.FLASK_DUCKDB_MEMORY;
    else process.env.FLASK_DUCKDB_MEMORY = saved;
  }
});

test('a Database opened with a memory limit runs DuckDB under it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-mem-'));
  const db = new Database(path.join(dir, 'r.duckdb'), { memoryLimit: '300MB' });
  try {
    const row = await db.read((sql) => sql.one<{ m: string }>("SELECT current_setting('memory_limit') AS m"));
    // DuckDB reports it in its own units (300MB = 286.1 MiB)
    assert.match(String(row?.m), /^(286\.1 MiB|300\.0 MB)$/);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
