import { formatUsd } from '../../core/cost/pricing.js';
import type { Progress } from '../../core/pipeline.js';

/** One endpoint's live counts, per call (a worker's memory, or a chunk heartbeat's `live`). */
export interface EndpointLive {
  model: string;
  started: number;
  answered: number;
  failed: number;
  rateLimited: number;
  reasked: number;
  /** instances taken through their step (landed or not) */
  instancesThrough: number;
  inFlight: number;
  /** age of the oldest call in flight, ms */
  oldestInFlightMs: number;
  meanLatencyMs?: number;
  /** what the limiter allows now: "adaptive, 2 in flight", "rpm 300" */
  limit?: string;
}

/** `5m` / `42s`: durations on the progress line. */
function shortDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m}m` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * An endpoint's side of the progress line: calls started / answered / failed / re-asked, the
 * instances through, the slowest call in flight and its age, and an ETA from the observed
 * latency: the calls still to make (instances left x calls per instance so far) x the mean
 * latency / the calls in flight allowed, less what the oldest call in flight has already waited.
 */
export function endpointLiveLine(e: EndpointLive, instancesLeft: number, concurrency: number): string {
  const perInstance = e.instancesThrough > 0 ? Math.max(1, (e.started - e.inFlight) / e.instancesThrough) : 1;
  const left = Math.max(0, instancesLeft);
  const latency = e.meanLatencyMs ?? (e.inFlight > 0 ? e.oldestInFlightMs : undefined);
  const etaMs = latency === undefined ? undefined : Math.max(0, (left * perInstance * latency) / Math.max(1, concurrency) - (e.inFlight > 0 ? e.oldestInFlightMs : 0));
  const eta = left === 0 ? 'ETA 0s' : etaMs !== undefined ? `ETA ~${shortDuration(etaMs)}` : 'ETA ?';
  return `${e.model}: calls ${e.started} started, ${e.answered} answered, ${e.failed} failed, ${e.reasked} re-asked` +
    (e.rateLimited ? `, ${e.rateLimited} x 429` : '') +
    `; ${e.instancesThrough} instances through; ${e.inFlight} in flight` + (e.inFlight > 0 ? ` (oldest ${shortDuration(e.oldestInFlightMs)})` : '') +
    (e.meanLatencyMs !== undefined ? `, latency ${shortDuration(e.meanLatencyMs)}` : '') +
    (e.limit ? ` (${e.limit})` : '') + `; ${eta}`;
}

/** The progress line: landed counts (the run's), then the endpoints' live side. `status` prints it too. */
export function progressLine(label: string, p: Progress, secs: number, endpoints?: string): string {
  const finished = p.done + p.failed;
  const frac = p.total > 0 ? finished / p.total : 1;
  const width = 30;
  const filled = Math.round(frac * width);
  const rate = secs > 0 ? (finished - p.resumed) / secs : 0;
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${finished}/${p.total} ` +
    `done ${p.done} failed ${p.failed} pending ${p.pending} | tokens ${p.tokens} | calls ${p.calls} | ${rate.toFixed(1)}/s` +
    (p.cached ? ` | from the cache ${p.cached}` : '') +
    (p.costUsd !== undefined ? ` | spent ${formatUsd(p.costUsd)}` : '') +
    (p.resumed > 0 ? ` | ${p.resumed} already landed` : '') +
    (p.rateLimited > 0 ? ` | 429s ${p.rateLimited}` : '') +
    (p.resent > 0 ? ` | re-sent ${p.resent}` : '') +
    (endpoints ? ` | ${endpoints}` : '');
}

/** A one-line progress bar on a terminal; a plain line every few seconds elsewhere (CI logs). */
export function progressPrinter(
  label: string,
  opts: { endpoints?: (p: Progress) => string } = {},
  out: NodeJS.WriteStream = process.stderr,
): { update(p: Progress): void; end(): void } {
  const started = Date.now();
  let lastPlain = 0;
  let lastLine = '';
  const render = (p: Progress) => progressLine(label, p, (Date.now() - started) / 1000, opts.endpoints?.(p));
  let shown: Progress | undefined;
  return {
    update(p) {
      // A batch whose status query failed reports less than was shown: the line never goes backwards.
      if (shown && p.done + p.failed < shown.done + shown.failed) p = shown;
      shown = p;
      lastLine = render(p);
      if (out.isTTY) out.write(`\r${lastLine}\x1b[K`);
      else if (Date.now() - lastPlain > 5000) {
        out.write(`${lastLine}\n`);
        lastPlain = Date.now();
      }
    },
    end() {
      if (out.isTTY) out.write('\n');
      else if (lastLine) out.write(`${lastLine}\n`);
    },
  };
}
