// A Dockerfile carried out without Docker: its instructions parsed, in order, and each stage's
// filesystem a folder of its own (container path /app = <stage root>/app). COPY follows Docker's
// rules (a directory's contents into the destination, .dockerignore applied to the build context,
// --from= another stage's files); RUN runs the same command with sh -c in the stage's WORKDIR with
// the stage's ENV. What a folder cannot be is refused, not skipped: an instruction this does not
// know, a COPY source with a wildcard, a RUN naming an absolute path (it would act on the host).
// FROM gives an empty root: the base image's Node is the host's Node (the test checks the major).
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import path from 'node:path';

export type Instruction =
  | { op: 'FROM'; image: string; name?: string; line: number }
  | { op: 'WORKDIR'; dir: string; line: number }
  | { op: 'COPY'; from?: string; src: string; dest: string; line: number }
  | { op: 'RUN'; command: string; line: number }
  | { op: 'ENV'; vars: Record<string, string>; line: number }
  | { op: 'USER'; user: string; line: number }
  | { op: 'ENTRYPOINT' | 'CMD'; argv: string[]; line: number };

/** The instructions of a Dockerfile, continuation lines joined, comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    let s = lines[i]!.trim();
    if (!s || s.startsWith('#')) continue;
    while (s.endsWith('\\') && i + 1 < lines.length) {
      s = `${s.slice(0, -1).trim()} ${lines[++i]!.trim()}`;
    }
    const [, word, rest] = /^(\S+)\s*(.*)$/.exec(s)!;
    const op = word!.toUpperCase();
    const where = `Dockerfile:${line}`;
    switch (op) {
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest!);
        if (!m) throw new Error(`${where}: FROM ${rest}: expected IMAGE [AS NAME]`);
        out.push({ op, image: m[1]!, name: m[2], line });
        break;
      }
      case 'WORKDIR':
        out.push({ op, dir: rest!, line });
        break;
      case 'COPY': {
        const words = rest!.split(/\s+/);
        let from: string | undefined;
        while (words[0]?.startsWith('--')) {
          const flag = words.shift()!;
          if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
          else if (!flag.startsWith('--chown=') && !flag.startsWith('--chmod=')) throw new Error(`${where}: COPY ${flag} is not carried out here`);
        }
        if (words.length !== 2) throw new Error(`${where}: COPY with ${words.length - 1} sources: give one source per COPY`);
        if (/[*?[]/.test(words[0]!)) throw new Error(`${where}: COPY ${words[0]}: wildcards are not carried out here`);
        out.push({ op, from, src: words[0]!, dest: words[1]!, line });
        break;
      }
      case 'RUN':
        if (rest!.startsWith('[')) throw new Error(`${where}: RUN in exec form is not carried out here`);
        out.push({ op, command: rest!, line });
        break;
      case 'ENV': {
        const vars: Record<string, string> = {};
        const pairs = rest!.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|'[^']*'|\S*)/g);
        if (pairs && pairs.join(' ').length === rest!.replace(/\s+/g, ' ').length) {
          for (const p of pairs) {
            const eq = p.indexOf('=');
            vars[p.slice(0, eq)] = p.slice(eq + 1).replace(/^(["'])(.*)\1$/, '$2');
          }
        } else {
          const [k, ...v] = rest!.split(/\s+/);
          vars[k!] = v.join(' ');
        }
        out.push({ op, vars, line });
        break;
      }
      case 'USER':
        out.push({ op, user: rest!, line });
        break;
      case 'ENTRYPOINT':
      case 'CMD':
        if (!rest!.startsWith('[')) throw new Error(`${where}: ${op} in shell form: use the exec form (a JSON array), which gets signals`);
        out.push({ op, argv: JSON.parse(rest!) as string[], line });
        break;
      default:
        throw new Error(`${where}: ${op} is not carried out here (teach tests/helpers/dockerSteps.ts, or do without it)`);
    }
  }
  return out;
}

/**
 * .dockerignore as Docker reads it: patterns relative to the context root, `*` and `?` within a
 * path element, `**` across elements, `!` re-includes; a path is excluded when the last pattern
 * matching it or one of its parent folders excludes it.
 */
export function dockerignore(text: string): (relPath: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
      let re = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i];
        if (c === '*' && pattern[i + 1] === '*') {
          if (pattern[i + 2] === '/') {
            re += '(?:.*/)?';
            i += 2;
          } else {
            re += '.*';
            i += 1;
          }
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else re += c!.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (relPath: string) => {
    const parts = relPath.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const r of rules) if (prefixes.some((p) => r.re.test(p))) excluded = !r.negate;
    return excluded;
  };
}

/** Copy a file, folder (its contents) or symlink as COPY does, skipping what `skip` excludes. */
function copyInto(src: string, dest: string, rel: string, skip: (rel: string) => boolean): void {
  if (rel && skip(rel)) return;
  const st = lstatSync(src);
  if (st.isSymbolicLink()) {
    mkdirSync(path.dirname(dest), { recursive: true });
    symlinkSync(readlinkSync(src), dest);
  } else if (st.isDirectory()) {
    mkdirSync(dest, { recursive: true });
    for (const e of readdirSync(src)) copyInto(path.join(src, e), path.join(dest, e), rel ? `${rel}/${e}` : e, skip);
  } else {
    mkdirSync(path.dirname(dest), { recursive: true });
    copyFileSync(src, dest);
    chmodSync(dest, st.mode & 0o7777);
  }
}

export interface Stage {
  name?: string;
  /** The stage's filesystem root: container path P is path.join(root, P). */
  root: string;
  workdir: string;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  user?: string;
}

/** Where a container path of a stage is in this folder. */
export function hostPath(stage: Stage, containerPath: string): string {
  return path.join(stage.root, path.posix.resolve(stage.workdir, containerPath));
}

function runShell(command: string, cwd: string, env: NodeJS.ProcessEnv, log: (s: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (d: Buffer) => { tail = (tail + d.toString()).slice(-8000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      log(`RUN ${command} -> ${signal ?? `exit ${code}`}`);
      if (code === 0) resolve();
      else reject(new Error(`RUN ${command} failed (${signal ?? `exit ${code}`}) in ${cwd}:\n${tail}`));
    });
  });
}

/**
 * Carry out every instruction in order. `context` is the build context (the project root),
 * `dir` an empty folder for the stages, `baseEnv` what the base image's environment would be
 * (PATH to a Node, HOME...). Returns the stages, the last one being the image.
 */
export async function carryOut(o: { instructions: Instruction[]; context: string; ignore: (rel: string) => boolean; dir: string; baseEnv: Record<string, string>; log: (s: string) => void }): Promise<Stage[]> {
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  for (const ins of o.instructions) {
    if (ins.op === 'FROM') {
      stage = { name: ins.name, root: path.join(o.dir, `stage-${stages.length}`), workdir: '/', env: {}, entrypoint: [], cmd: [] };
      mkdirSync(stage.root, { recursive: true });
      stages.push(stage);
      continue;
    }
    if (!stage) throw new Error(`Dockerfile:${ins.line}: ${ins.op} before FROM`);
    switch (ins.op) {
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, ins.dir);
        mkdirSync(hostPath(stage, '.'), { recursive: true });
        break;
      case 'ENV':
        Object.assign(stage.env, ins.vars);
        break;
      case 'USER':
        stage.user = ins.user;
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = ins.argv;
        stage.cmd = []; // as Docker: a new ENTRYPOINT resets an inherited CMD
        break;
      case 'CMD':
        stage.cmd = ins.argv;
        break;
      case 'COPY': {
        const dest = hostPath(stage, ins.dest);
        const destIsDir = ins.dest.endsWith('/');
        let src: string;
        let skip: (rel: string) => boolean;
        if (ins.from !== undefined) {
          const from = stages.find((s) => s.name === ins.from) ?? stages[Number(ins.from)];
          if (!from || from === stage) throw new Error(`Dockerfile:${ins.line}: COPY --from=${ins.from}: no earlier stage of that name`);
          src = hostPath(from, ins.src);
          skip = () => false;
        } else {
          const rel = path.posix.normalize(ins.src).replace(/^\/+/, '');
          if (rel.startsWith('..')) throw new Error(`Dockerfile:${ins.line}: COPY ${ins.src} is outside the build context`);
          if (rel !== '.' && o.ignore(rel)) throw new Error(`Dockerfile:${ins.line}: COPY ${ins.src}: .dockerignore excludes it from the build context`);
          src = path.join(o.context, rel);
          const base = rel === '.' ? '' : rel;
          skip = (r) => o.ignore(base ? `${base}/${r}` : r);
        }
        if (!existsSync(src)) throw new Error(`Dockerfile:${ins.line}: COPY ${ins.src}: no such file in the ${ins.from !== undefined ? `stage ${ins.from}` : 'build context'}`);
        const isDir = lstatSync(src).isDirectory();
        copyInto(src, !isDir && destIsDir ? path.join(dest, path.basename(src)) : dest, '', (r) => skip(r));
        o.log(`COPY ${ins.from !== undefined ? `--from=${ins.from} ` : ''}${ins.src} ${ins.dest}`);
        break;
      }
      case 'RUN': {
        const absolute = /(^|[\s=:'"])\/(?!dev\/null)[A-Za-z]/.exec(ins.command);
        if (absolute) throw new Error(`Dockerfile:${ins.line}: RUN ${ins.command}: names an absolute path, which would act on this host; use paths relative to WORKDIR`);
        await runShell(ins.command, hostPath(stage, '.'), { ...o.baseEnv, ...stage.env }, o.log);
        break;
      }
    }
  }
  return stages;
}
