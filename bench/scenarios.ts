/**
 * The scenarios of `npm run bench` (bench/run-all.ts). Each runs the ideal baseline client and the
 * project against a fresh offline server with the same settings.
 *
 * `project` lists the project's flags per CLI generation, picked by `--flags` (default: auto, i.e.
 * `next` when `review --help` mentions --judge-rpm): `today` is the CLI of 2026-11-28
 * (--concurrency, --judge-rps), `next` the one with --judge-rpm / --judge-tpm / --max-concurrency.
 * Adapt them here; they are appended to
 *   review --model gpt4 --limit N --run <unique> --judge-base-url <offline> --judge-api-key x --judge-model flask-offline-judge
 */
import type { OfflineServerOptions } from '../simulator/server.js';

export interface Scenario {
  name: string;
  what: string;
  reviews: number;
  quickReviews: number;
  server: Pick<OfflineServerOptions, 'latencyMs' | 'requestsPerMinute' | 'tokensPerMinute' | 'serverErrorRate'>;
  baseline: { concurrency: number; rpm?: number };
  project: { today: string[]; next: string[] };
  /** the figure the project's rate is divided by */
  ratioTo: 'baseline' | 'rpm' | 'tpm';
  /** a scenario that needs set-up the bench cannot do yet: listed, run only by --only, then reported as a hook */
  hook?: string;
  /** 'synthetic': more instances than FLASK's 1,700 (bench/syntheticSet.ts), given with --eval-set/--answers */
  dataset?: 'synthetic';
  /** long: run only when named by --only */
  onlyWhenNamed?: boolean;
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'zero-latency', what: 'judge answers at once: the orchestration cost', reviews: 1700, quickReviews: 200,
    server: {}, baseline: { concurrency: 32 },
    project: { today: ['--concurrency', '32'], next: [] }, ratioTo: 'baseline',
  },
  ...[8, 32, 64].map((c): Scenario => ({
    name: `latency-2s-c${c}`, what: `2 s judge latency, ${c} in flight`, reviews: 400, quickReviews: c === 8 ? 48 : 2 * c,
    server: { latencyMs: 2000 }, baseline: { concurrency: c },
    project: { today: ['--concurrency', String(c)], next: ['--max-concurrency', String(c)] }, ratioTo: 'baseline',
  })),
  {
    name: 'rpm-300', what: '300 requests/min, 1 s latency, the limit given', reviews: 600, quickReviews: 100,
    server: { latencyMs: 1000, requestsPerMinute: 300 }, baseline: { concurrency: 8, rpm: 300 },
    project: { today: ['--judge-rps', '5'], next: ['--judge-rpm', '300'] }, ratioTo: 'rpm',
  },
  {
    name: 'rpm-300-adaptive', what: '300 requests/min, 1 s latency, no limit given (adaptive)', reviews: 600, quickReviews: 100,
    server: { latencyMs: 1000, requestsPerMinute: 300 }, baseline: { concurrency: 8, rpm: 300 },
    project: { today: [], next: [] }, ratioTo: 'rpm',
  },
  {
    // a review is ~1,380 prompt tokens + max_tokens 1,024 at admission, ~1,650 used: ~60 reviews/min
    name: 'tpm-100k', what: '100,000 tokens/min, 1 s latency, the limit given', reviews: 200, quickReviews: 40,
    server: { latencyMs: 1000, tokensPerMinute: 100_000 }, baseline: { concurrency: 2 },
    project: { today: ['--judge-rps', '1'], next: ['--judge-tpm', '100000'] }, ratioTo: 'tpm',
  },
  {
    name: 'errors-30pct', what: '30% of requests answered 500/502/503, 500 ms latency', reviews: 400, quickReviews: 100,
    server: { latencyMs: 500, serverErrorRate: 0.3 }, baseline: { concurrency: 32 },
    project: { today: ['--concurrency', '32'], next: ['--max-concurrency', '32'] }, ratioTo: 'baseline',
  },
  {
    name: 'instances-100k', what: '100,000 instances, zero latency (history/payload limits, peak RSS)', reviews: 100_000, quickReviews: 5_000,
    server: {}, baseline: { concurrency: 32 }, project: { today: ['--concurrency', '64'], next: [] }, ratioTo: 'baseline',
    dataset: 'synthetic', onlyWhenNamed: true,
  },
  {
    name: 'report-1m', what: '`report --by skill` over 1,000,000 score rows, start-up included (< 0.5 s)', reviews: 333_334, quickReviews: 33_334,
    server: {}, baseline: { concurrency: 1 }, project: { today: [], next: [] }, ratioTo: 'baseline',
    hook: 'measured by its own script: npx tsx bench/report-1m.ts (synthesises the 1M-row results file with SQL, times `flask-eval report <run> --by skill`)',
  },
];
