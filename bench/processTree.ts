/**
 * Memory of the project's whole process tree while it runs (Linux /proc, sampled): the CLI, its
 * children (the embedded Temporal dev server), and processes that left the tree (a daemon that
 * detached itself) but carry the bench's marker variable in their environment.
 */
import { readFileSync, readdirSync } from 'node:fs';

const PAGE = 4096;

/** `role`: what the process is to flask-eval (the command, the state server, the dev server), else its name. */
export interface ProcSample { pid: number; comm: string; role: string; rssBytes: number }
export interface TreePeak {
  /** the largest sum of RSS over the tree at one sample */
  peakTreeBytes: number;
  /** each process's largest RSS seen */
  perProcess: ProcSample[];
  samples: number;
  /** every process seen in the tree, with its start time (to stop leftovers afterwards, and only them) */
  pids: { pid: number; start: string }[];
}

/** Is `pid` still the process that was seen (same start time), not a reused pid? */
export function sameProcess(p: { pid: number; start: string }): boolean {
  return stat(p.pid)?.start === p.start;
}

function stat(pid: number): { ppid: number; comm: string; start: string } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const f = s.slice(close + 2).split(' ');
    return { comm: s.slice(s.indexOf('(') + 1, close), ppid: Number(f[1]), start: f[19]! };
  } catch {
    return undefined;
  }
}

function roleOf(pid: number, root: number, comm: string): string {
  if (pid === root) return 'command';
  let args = '';
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ');
  } catch {
    // gone
  }
  if (/server start.*--(foreground|auto)/.test(args)) return 'state server';
  if (comm === 'temporal' || args.includes('start-dev')) return 'dev server';
  return comm;
}

function rss(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE;
  } catch {
    return 0;
  }
}

/** Sample every `everyMs` from start() to stop(). */
export class TreeSampler {
  private timer: NodeJS.Timeout | undefined;
  private tagged = new Map<number, boolean>();
  private peak = 0;
  private per = new Map<number, ProcSample>();
  private starts = new Map<number, string>();
  private samples = 0;

  constructor(private readonly root: number, private readonly marker: string, private readonly everyMs = 200) {}

  private hasMarker(pid: number): boolean {
    let t = this.tagged.get(pid);
    if (t === undefined) {
      try {
        t = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(this.marker);
      } catch {
        t = false;
      }
      this.tagged.set(pid, t);
    }
    return t;
  }

  /** The pids in the tree now. */
  members(): number[] {
    const parent = new Map<number, number>();
    const comm = new Map<number, string>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const pid = Number(d);
      const s = stat(pid);
      if (!s) continue;
      parent.set(pid, s.ppid);
      comm.set(pid, s.comm);
    }
    const inTree = new Set<number>();
    const isIn = (pid: number, depth = 0): boolean => {
      if (inTree.has(pid)) return true;
      if (pid === this.root || this.hasMarker(pid)) return true;
      const pp = parent.get(pid);
      return pp !== undefined && pp > 1 && depth < 64 && isIn(pp, depth + 1);
    };
    for (const pid of parent.keys()) if (isIn(pid)) inTree.add(pid);
    return [...inTree];
  }

  private sample(): void {
    let sum = 0;
    for (const pid of this.members()) {
      const r = rss(pid);
      sum += r;
      const prev = this.per.get(pid);
      const st = stat(pid);
      if (st && !this.starts.has(pid)) this.starts.set(pid, st.start);
      if (!prev || r > prev.rssBytes) {
        const comm = st?.comm ?? prev?.comm ?? '?';
        this.per.set(pid, { pid, comm, role: prev?.role ?? roleOf(pid, this.root, comm), rssBytes: r });
      }
    }
    this.samples++;
    this.peak = Math.max(this.peak, sum);
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  stop(): TreePeak {
    if (this.timer) clearInterval(this.timer);
    return { peakTreeBytes: this.peak, perProcess: [...this.per.values()].sort((a, b) => b.rssBytes - a.rssBytes), samples: this.samples, pids: [...this.starts].map(([pid, start]) => ({ pid, start })) };
  }
}
