// docker-compose.yml loads the way `docker compose` loads it (compose-go: interpolation, the compose
// schema, depends_on consistency) and keeps our rules (scripts/compose-check). The checker is built
// here with `go build` from the Go module proxy; broken fixtures prove each rule really bites.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';
import { goAvailable, runComposeCheck } from '../helpers/composeCheck.js';

interface CheckResult { status: number | null; out: string }

function runCheck(file: string, env: Record<string, string> = {}): CheckResult {
  // The shell's keys must not decide the outcome: interpolation sees only what the test gives it.
  return runComposeCheck(['-f', file], env);
}

/** A small valid project in the shape of ours; each fixture below breaks one thing in it. */
const VALID = `
services:
  postgresql:
    image: postgres:16.6-bookworm
    healthcheck: { test: ["CMD", "pg_isready"], interval: 5s }
    restart: unless-stopped
  schema:
    image: temporalio/admin-tools:1.32.1
    command: ["true"]
    depends_on: { postgresql: { condition: service_healthy } }
  temporal:
    image: temporalio/server:1.32.1
    healthcheck: { test: ["CMD", "wget", "-q", "http://127.0.0.1:7243/api/v1/cluster-info"] }
    ports: ["127.0.0.1:7233:7233"]
    depends_on:
      postgresql: { condition: service_healthy }
      schema: { condition: service_completed_successfully }
    restart: unless-stopped
  store:
    image: flask-eval:local
    command: ["server", "start"]
    environment: { FLASK_STATE_DIR: /results, TEMPORAL_ADDRESS: "temporal:7233" }
    volumes: ["./results:/results"]
    healthcheck: { test: ["CMD", "true"] }
    depends_on: { temporal: { condition: service_healthy } }
    restart: unless-stopped
  worker:
    image: flask-eval:local
    command: ["worker"]
    environment:
      TEMPORAL_ADDRESS: temporal:7233
      OPENAI_API_KEY: \${OPENAI_API_KEY:-}
    healthcheck: { test: ["CMD", "true"] }
    depends_on: { temporal: { condition: service_healthy } }
    deploy: { replicas: 3 }
    restart: unless-stopped
`;

function fixture(name: string, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `flask-compose-${name}-`));
  const file = path.join(dir, 'docker-compose.yml');
  writeFileSync(file, text);
  return file;
}

const skip = goAvailable ? false : 'Go is not installed: compose-check is built with `go build` (apt-get install golang)';

test('our docker-compose.yml loads with compose-go and passes every rule', { skip }, () => {
  const r = runCheck(path.join(PROJECT_ROOT, 'docker-compose.yml'));
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /loads \(compose-go\) and passes/);
  for (const service of ['postgresql', 'temporal', 'temporal-ui', 'store', 'worker']) assert.match(r.out, new RegExp(`${service} \\(long-lived`));
  assert.match(r.out, /store \(long-lived, replicas 1\)/);
});

test('interpolation is applied as docker compose applies it (FLASK_WORKERS scales the workers)', { skip }, () => {
  const r = runCheck(path.join(PROJECT_ROOT, 'docker-compose.yml'), { FLASK_WORKERS: '5' });
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /worker \(long-lived, replicas 5\)/);
});

test('the valid fixture passes (so each failure below comes from its one change)', { skip }, () => {
  const r = runCheck(fixture('valid', VALID));
  assert.equal(r.status, 0, r.out);
});

const broken: Array<{ name: string; edit: (s: string) => string; status: number; message: RegExp }> = [
  {
    name: 'a long-lived service without a healthcheck',
    edit: (s) => s.replace(`    healthcheck: { test: ["CMD", "true"] }\n    depends_on: { temporal: { condition: service_healthy } }\n    deploy`, `    depends_on: { temporal: { condition: service_healthy } }\n    deploy`),
    status: 1, message: /service "worker": has no healthcheck/,
  },
  {
    name: 'an API key written into the file',
    edit: (s) => s.replace('OPENAI_API_KEY: ${OPENAI_API_KEY:-}', 'OPENAI_API_KEY: sk-live-0123456789'),
    status: 1, message: /service "worker": environment OPENAI_API_KEY has a value written in the file \(sk-l\*\*\*\*\)/,
  },
  {
    name: 'an API key hidden in an interpolation default',
    edit: (s) => s.replace('OPENAI_API_KEY: ${OPENAI_API_KEY:-}', 'OPENAI_API_KEY: ${OPENAI_API_KEY:-sk-live-0123456789}'),
    status: 1, message: /environment OPENAI_API_KEY has a value written in the file/,
  },
  {
    name: 'a key in environment that would hide the one in env_file',
    edit: (s) => s.replace('    deploy: { replicas: 3 }\n', '    deploy: { replicas: 3 }\n    env_file: [{ path: ./keys.env, required: false }]\n'),
    status: 1, message: /service "worker": sets OPENAI_API_KEY in environment and also reads env_file: environment overrides the file/,
  },
  {
    name: 'depends_on a healthchecked service without service_healthy',
    edit: (s) => s.replace('    depends_on: { temporal: { condition: service_healthy } }\n    restart', '    depends_on: [temporal]\n    restart'),
    status: 1, message: /service "store": depends_on "temporal" with condition service_started/,
  },
  {
    name: 'a long-lived service without a restart policy',
    edit: (s) => s.replace('    deploy: { replicas: 3 }\n    restart: unless-stopped\n', '    deploy: { replicas: 3 }\n'),
    status: 1, message: /service "worker": is long-lived but has no restart policy/,
  },
  {
    name: 'results on a named volume the host cannot see',
    edit: (s) => s.replace('volumes: ["./results:/results"]', 'volumes: ["results:/results"]') + 'volumes:\n  results:\n',
    status: 1, message: /service "store": keeps its results in \/results, which is not on a bind mount/,
  },
  {
    name: 'the store scaled past one replica',
    edit: (s) => s.replace('    volumes: ["./results:/results"]\n', '    volumes: ["./results:/results"]\n    deploy: { replicas: 2 }\n'),
    status: 1, message: /service "store": owns the results file but runs 2 replicas/,
  },
  {
    name: 'a port published on every interface',
    edit: (s) => s.replace('"127.0.0.1:7233:7233"', '"7233:7233"'),
    status: 1, message: /service "temporal": publishes port 7233 on every interface/,
  },
  {
    name: 'a dependency on a service that does not exist (compose-go consistency)',
    edit: (s) => s.replace('depends_on: { postgresql: { condition: service_healthy } }', 'depends_on: { postgres: { condition: service_healthy } }'),
    status: 2, message: /does not load: .*postgres/,
  },
  {
    name: 'a value the compose schema rejects',
    edit: (s) => s.replace('    deploy: { replicas: 3 }', '    deploy: { replicas: three }'),
    status: 2, message: /does not load: .*replicas/,
  },
  {
    name: 'a required variable that is not set (interpolation)',
    edit: (s) => s.replace('TEMPORAL_ADDRESS: "temporal:7233"', 'TEMPORAL_ADDRESS: "${FLASK_TEMPORAL_HOST:?set FLASK_TEMPORAL_HOST}:7233"'),
    status: 2, message: /does not load: .*FLASK_TEMPORAL_HOST/,
  },
];

for (const b of broken) {
  test(`compose-check fails on ${b.name}`, { skip }, () => {
    const text = b.edit(VALID);
    assert.notEqual(text, VALID, 'the fixture edit did not apply');
    const r = runCheck(fixture(b.name.replace(/\W+/g, '-').slice(0, 40), text));
    assert.equal(r.status, b.status, r.out);
    assert.match(r.out, b.message);
  });
}

test('compose-check fails on a Dockerfile that bakes a key into the image', { skip }, () => {
  const file = fixture('dockerfile', VALID.replace('  worker:\n    image: flask-eval:local\n', '  worker:\n    image: flask-eval:local\n    build: .\n'));
  writeFileSync(path.join(path.dirname(file), 'Dockerfile'), 'FROM node:20-bookworm-slim\nENV OPENAI_API_KEY=sk-live-0123456789\n');
  const r = runCheck(file);
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /Dockerfile:2 sets an API key in the image: ENV \*\*\*\*|Dockerfile:2 sets an API key in the image/);
});

test('--json prints the loaded model alone (what tests/integration/dockerSteps.test.ts runs the services from)', { skip }, () => {
  const r = runComposeCheck(['-f', path.join(PROJECT_ROOT, 'docker-compose.yml'), '--json'], { FLASK_WORKER_CONCURRENCY: '3' });
  assert.equal(r.status, 0, r.out);
  const model = JSON.parse(r.stdout) as { services: Record<string, { command?: string[]; environment?: Record<string, string> }> };
  assert.deepEqual(model.services.worker!.command, ['worker', '--judge-concurrency', '3', '--model-concurrency', '3'], 'interpolated');
  assert.equal(model.services.store!.environment?.FLASK_STATE_DIR, '/results');
});
