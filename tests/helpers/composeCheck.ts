// scripts/compose-check (compose-go, the loader of `docker compose`), built with `go build` when its
// sources changed. The binary's name carries a hash of the sources, so checkouts of different
// versions that share .flask-eval/bin never run each other's checker.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';

const SOURCE = path.join(PROJECT_ROOT, 'scripts', 'compose-check');

export const goAvailable = spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0;

export function composeChecker(): string {
  const hash = createHash('sha256');
  for (const f of readdirSync(SOURCE).sort()) hash.update(f).update(readFileSync(path.join(SOURCE, f)));
  const bin = path.join(PROJECT_ROOT, '.flask-eval', 'bin', `compose-check-${hash.digest('hex').slice(0, 12)}`);
  if (existsSync(bin)) return bin;
  mkdirSync(path.dirname(bin), { recursive: true });
  const r = spawnSync('go', ['build', '-o', bin, '.'], { cwd: SOURCE, encoding: 'utf8', env: { ...process.env, CGO_ENABLED: '0' } });
  assert.equal(r.status, 0, `go build scripts/compose-check failed:\n${r.stderr}`);
  return bin;
}

/** The environment compose would interpolate from: the shell's, minus anything that would decide the outcome. */
export function composeEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/API_KEY|BASE_URL|^FLASK_|^TEMPORAL_|^COMPOSE_/.test(k)));
  return { ...base, ...env };
}

export function runComposeCheck(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; out: string } {
  const r = spawnSync(composeChecker(), args, { encoding: 'utf8', env: composeEnv(env), maxBuffer: 16 << 20 });
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}
