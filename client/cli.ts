#!/usr/bin/env node
import { closeOpenFiles } from '../core/store/openFiles.js';
import { explainError } from './output/errorReport.js';
import { EXIT, EXIT_CODES_HELP } from './output/exitCodes.js';

const log = (s: string) => process.stderr.write(`${s}\n`);

/** A command returns its exit status (a run: exitCodeForProgress), or nothing for 0. */
type Command = { run: (argv: string[]) => Promise<number | void>; help: string };

/**
 * Commands load their module only when used: `report` and `query` must not pay for loading the
 * Temporal worker and the openai SDK that the run commands need.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  review: async () => { const m = await import('./commands/review.js'); return { run: (a) => m.reviewCommand(a, log), help: m.REVIEW_HELP }; },
  run: async () => { const m = await import('./commands/run.js'); return { run: (a) => m.runCommand(a, log), help: m.RUN_HELP }; },
  infer: async () => { const m = await import('./commands/infer.js'); return { run: (a) => m.inferCommand(a, log), help: m.INFER_HELP }; },
  eval: async () => { const m = await import('./commands/infer.js'); return { run: (a) => m.evalCommand(a, log), help: m.EVAL_HELP }; },
  'import-answers': async () => { const m = await import('./commands/importAnswers.js'); return { run: (a) => m.importAnswersCommand(a, log), help: m.IMPORT_HELP }; },
  annotate: async () => { const m = await import('./commands/annotate.js'); return { run: (a) => m.annotateCommand(a, log), help: m.ANNOTATE_HELP }; },
  prompts: async () => { const m = await import('./commands/prompts.js'); return { run: (a) => m.promptsCommand(a), help: m.PROMPTS_HELP }; },
  estimate: async () => { const m = await import('./commands/estimate.js'); return { run: (a) => m.estimateCommand(a), help: m.ESTIMATE_HELP }; },
  report: async () => { const m = await import('./commands/report.js'); return { run: (a) => m.reportCommand(a, log), help: m.REPORT_HELP }; },
  leaderboard: async () => { const m = await import('./commands/leaderboard.js'); return { run: (a) => m.leaderboardCommand(a, log), help: m.LEADERBOARD_HELP }; },
  compare: async () => { const m = await import('./commands/compare.js'); return { run: (a) => m.compareCommand(a, log), help: m.COMPARE_HELP }; },
  agreement: async () => { const m = await import('./commands/agreement.js'); return { run: (a) => m.agreementCommand(a, log), help: m.AGREEMENT_HELP }; },
  runs: async () => { const m = await import('./commands/runs.js'); return { run: (a) => m.runsCommand(a), help: m.RUNS_HELP }; },
  show: async () => { const m = await import('./commands/show.js'); return { run: (a) => m.showCommand(a), help: m.SHOW_HELP }; },
  failures: async () => { const m = await import('./commands/failures.js'); return { run: (a) => m.failuresCommand(a), help: m.FAILURES_HELP }; },
  'judge-agreement': async () => { const m = await import('./commands/judgeAgreement.js'); return { run: (a) => m.judgeAgreementCommand(a, log), help: m.JUDGE_AGREEMENT_HELP }; },
  rescore: async () => { const m = await import('./commands/rescore.js'); return { run: (a) => m.rescoreCommand(a, log), help: m.RESCORE_HELP }; },
  cache: async () => { const m = await import('./commands/cache.js'); return { run: (a) => m.cacheCommand(a, log), help: m.CACHE_HELP }; },
  'import-labels': async () => { const m = await import('./commands/importLabels.js'); return { run: (a) => m.importLabelsCommand(a, log), help: m.IMPORT_LABELS_HELP }; },
  'judge-report': async () => { const m = await import('./commands/judgeReport.js'); return { run: (a) => m.judgeReportCommand(a, log), help: m.JUDGE_REPORT_HELP }; },
  export: async () => { const m = await import('./commands/export.js'); return { run: (a) => m.exportCommand(a, log), help: m.EXPORT_HELP }; },
  snapshot: async () => { const m = await import('./commands/snapshot.js'); return { run: (a) => m.snapshotCommand(a, log), help: m.SNAPSHOT_HELP }; },
  query: async () => { const m = await import('./commands/query.js'); return { run: (a) => m.queryCommand(a), help: m.QUERY_HELP }; },
  status: async () => { const m = await import('./commands/status.js'); return { run: (a) => m.statusCommand(a, log), help: m.STATUS_HELP }; },
  worker: async () => { const m = await import('./commands/worker.js'); return { run: (a) => m.workerCommand(a, log), help: m.WORKER_HELP }; },
  server: async () => { const m = await import('./commands/server.js'); return { run: (a) => m.serverCommand(a, log), help: m.SERVER_HELP }; },
  'offline-judge': async () => { const m = await import('./commands/server.js'); return { run: (a) => m.offlineJudgeCommand(a), help: 'flask-eval offline-judge [--port 8808 --latency-ms N --serial --rpm N --tpm N --error-rate F --malformed-rate F]   the offline OpenAI-compatible server (SIMULATED scores)' }; },
  demo: async () => { const m = await import('./commands/demo.js'); return { run: (a) => m.demoCommand(a, log), help: 'flask-eval demo [--full] [--model gpt4] [--limit 300]   review a published model end to end' }; },
};

async function loadAll(): Promise<Command[]> {
  return Promise.all(Object.values(COMMANDS).map((load) => load()));
}

async function usage(): Promise<string> {
  return `flask-eval: FLASK fine-grained evaluation (Ye et al., arXiv 2307.10928) on Temporal + DuckDB\n\n` +
    (await loadAll()).map((c) => c.help.split('\n')[0]).join('\n') +
    `\n\nflask-eval COMMAND --help for details; flask-eval help --all for every command's; flask-eval --version (and which build runs).\n\n${EXIT_CODES_HELP}`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const all = rest.includes('--all') ? `\n\n${(await loadAll()).map((c) => c.help).join('\n\n')}` : '';
    process.stdout.write(`${await usage()}${all}\n`);
    return EXIT.ok;
  }
  if (name === '--version') {
    // Which build runs: bin/flask-eval.js falls back to the TypeScript sources (tsx, slower start)
    // when a source is newer than dist/ (`npm run build`).
    const { projectVersion } = await import('../core/config.js');
    process.stdout.write(`flask-eval ${projectVersion()} (${process.env.FLASK_FRESH_BUILD === '1' ? 'compiled, dist/' : 'from the TypeScript sources via tsx: npm run build for a faster start'})\n`);
    return EXIT.ok;
  }
  const load = COMMANDS[name];
  if (!load) {
    log(`unknown command "${name}"\n\n${await usage()}`);
    return EXIT.badInput;
  }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.help}\n`);
    return EXIT.ok;
  }
  try {
    return (await cmd.run(rest)) ?? EXIT.ok;
  } catch (e) {
    // Expected failures (bad input, a stopped run, an unreachable server) print a message, no stack.
    const err = e as Error & { exitStatus?: number };
    if (typeof err.exitStatus === 'number') {
      log(`error: ${err.message}`);
      return err.exitStatus;
    }
    const { code, message } = explainError(e);
    log(message);
    return code;
  }
}

process.exitCode = await main(process.argv.slice(2));
// The results file is checkpointed and released before the process ends.
await closeOpenFiles().catch((e: Error) => log(`warning: closing the results file: ${e.message}`));
// Temporal's native runtime keeps the event loop alive after shutdown.
setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
