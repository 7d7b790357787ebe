import type { Progress } from '../../core/pipeline.js';

/** The CLI's exit statuses (documented in `flask-eval --help` and the README). */
export const EXIT = {
  /** Every instance of the run ended scored (or labelled); any other command succeeded. */
  ok: 0,
  /** An unexpected error (a bug, or a failure we did not foresee): printed with its stack. */
  unexpected: 1,
  /** Bad input or usage: a file, a flag, an unknown run. Nothing was started or stored. */
  badInput: 2,
  /** The run stopped or could not start: a refused key, an unknown model, an unreachable endpoint or Temporal, an endpoint mismatch. */
  runStopped: 3,
  /** The run finished but some instances failed (their reasons are in the summary and in DuckDB). */
  someFailed: 4,
  /** `compare --fail-if-worse`: B is significantly worse than A by more than the tolerance. */
  gateFailed: 5,
} as const;

export const EXIT_CODES_HELP = `Exit status:
  0  every instance of the run ended scored (labelled, answered); other commands: success
  1  unexpected error (printed with its stack trace; please report it)
  2  bad input or usage (a file, a flag, an unknown run): nothing was started or stored
  3  the run stopped or could not start: a refused key, an unknown model, an unreachable
     endpoint or Temporal server, an endpoint mismatch, its --max-cost budget (the reason is printed)
  4  the run finished but some instances failed (see the summary; flask-eval review --run NAME --retry-failed)
  5  compare --fail-if-worse: the second run is significantly worse than the first by more than allowed`;

/** A followed run's exit status from its final counts: 0 only when every instance ended scored. */
export function exitCodeForProgress(p: Pick<Progress, 'total' | 'done' | 'failed'> & { stopped?: string }): number {
  if (p.stopped) return EXIT.runStopped; // e.g. the --max-cost budget was reached
  return p.failed === 0 && p.done >= p.total ? EXIT.ok : EXIT.someFailed;
}
