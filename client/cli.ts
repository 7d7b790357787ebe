#!/usr/bin/env node
import { InputError } from '../core/errors.js';
import { Database } from '../core/store/database.js';
import { reviewCommand, REVIEW_HELP } from './commands/review.js';
import { reportCommand, REPORT_HELP } from './commands/report.js';
import { queryCommand, QUERY_HELP } from './commands/query.js';
import { promptsCommand, PROMPTS_HELP } from './commands/prompts.js';
import { workerCommand, WORKER_HELP } from './commands/worker.js';
import { serverCommand, offlineJudgeCommand } from './commands/server.js';
import { statusCommand } from './commands/status.js';
import { demoCommand } from './commands/demo.js';
import { inferCommand, evalCommand, INFER_HELP, EVAL_HELP } from './commands/infer.js';
import { importAnswersCommand, IMPORT_HELP } from './commands/importAnswers.js';
import { exportCommand, EXPORT_HELP } from './commands/export.js';
import { compareCommand, COMPARE_HELP } from './commands/compare.js';
import { annotateCommand, ANNOTATE_HELP } from './commands/annotate.js';
import { agreementCommand, AGREEMENT_HELP } from './commands/agreement.js';
import { estimateCommand, ESTIMATE_HELP } from './commands/estimate.js';
import { judgeAgreementCommand, JUDGE_AGREEMENT_HELP } from './commands/judgeAgreement.js';

const log = (s: string) => process.stderr.write(`${s}\n`);

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<void>; help: string }> = {
  review: { run: (a) => reviewCommand(a, log), help: REVIEW_HELP },
  infer: { run: (a) => inferCommand(a, log), help: INFER_HELP },
  eval: { run: (a) => evalCommand(a, log), help: EVAL_HELP },
  'import-answers': { run: (a) => importAnswersCommand(a, log), help: IMPORT_HELP },
  annotate: { run: (a) => annotateCommand(a, log), help: ANNOTATE_HELP },
  prompts: { run: (a) => promptsCommand(a), help: PROMPTS_HELP },
  estimate: { run: (a) => estimateCommand(a), help: ESTIMATE_HELP },
  report: { run: (a) => reportCommand(a, log), help: REPORT_HELP },
  compare: { run: (a) => compareCommand(a, log), help: COMPARE_HELP },
  agreement: { run: (a) => agreementCommand(a, log), help: AGREEMENT_HELP },
  'judge-agreement': { run: (a) => judgeAgreementCommand(a, log), help: JUDGE_AGREEMENT_HELP },
  export: { run: (a) => exportCommand(a, log), help: EXPORT_HELP },
  query: { run: (a) => queryCommand(a), help: QUERY_HELP },
  status: { run: (a) => statusCommand(a, log), help: 'flask-eval status RUN   progress of a run from its workflow' },
  worker: { run: (a) => workerCommand(a, log), help: WORKER_HELP },
  server: { run: (a) => serverCommand(a, log), help: 'flask-eval server   the embedded Temporal dev server in the foreground (UI)' },
  'offline-judge': { run: (a) => offlineJudgeCommand(a), help: 'flask-eval offline-judge [--port 8808 --latency-ms N --rpm N --error-rate F --malformed-rate F]   the offline OpenAI-compatible server (SIMULATED scores)' },
  demo: { run: (a) => demoCommand(a, log), help: 'flask-eval demo [--full] [--model gpt4] [--limit 300]   review a published model end to end' },
};

function usage(): string {
  return `flask-eval: FLASK fine-grained evaluation (Ye et al., arXiv 2307.10928) on Temporal + DuckDB\n\n` +
    Object.values(COMMANDS).map((c) => c.help.split('\n')[0]).join('\n') + `\n\nflask-eval COMMAND --help for details.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    log(`unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.help}\n`);
    return 0;
  }
  try {
    await cmd.run(rest);
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof InputError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      log(`error: ${err.message}`);
      return 2;
    }
    log(`error: ${err.stack ?? String(e)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
// The results file is checkpointed and released before the process ends.
await Database.closeAll().catch((e: Error) => log(`warning: closing the results file: ${e.message}`));
// Temporal's native runtime keeps the event loop alive after shutdown.
setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
