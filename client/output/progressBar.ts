import type { Progress } from '../../core/pipeline.js';

/** A one-line progress bar on a terminal; a plain line every few seconds elsewhere (CI logs). */
export function progressPrinter(
  label: string,
  opts: { endpoints?: () => string } = {},
  out: NodeJS.WriteStream = process.stderr,
): { update(p: Progress): void; end(): void } {
  const started = Date.now();
  let lastPlain = 0;
  let lastLine = '';
  const render = (p: Progress) => {
    const finished = p.done + p.failed;
    const frac = p.total > 0 ? finished / p.total : 1;
    const width = 30;
    const filled = Math.round(frac * width);
    const secs = (Date.now() - started) / 1000;
    const rate = secs > 0 ? (finished - p.resumed) / secs : 0;
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${finished}/${p.total} ` +
      `done ${p.done} failed ${p.failed} pending ${p.pending} | tokens ${p.tokens} | calls ${p.calls} | ${rate.toFixed(1)}/s` +
      (p.resumed > 0 ? ` | ${p.resumed} already landed` : '') +
      (p.rateLimited > 0 ? ` | 429s ${p.rateLimited}` : '') +
      (p.resent > 0 ? ` | re-sent ${p.resent}` : '') +
      (opts.endpoints ? ` | ${opts.endpoints()}` : '');
  };
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
