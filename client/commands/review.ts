import { parseArgs } from 'node:util';
import path from 'node:path';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { InputError } from '../../core/errors.js';
import { describeSummary, prepareReview, sha256File } from '../../core/prepare.js';
import { loadReviewPromptKit } from '../../core/prompts/review.js';
import { endpointHost, endpointIsOffline, projectVersion } from '../../core/config.js';
import { executeRun } from '../execute.js';
import { EXIT, exitCodeForProgress } from '../exitCodes.js';
import { keyHelp, limitsHelp, RUN_FLAGS, defaultRunName, intFlag, judgeFromFlags, openDb, temperatureFlag, runNameFlag, runOptions, strFlag, validateRunName } from '../flags.js';
import { printRunReport } from './report.js';
import { getRun, type SamplingSettings } from '../../core/store/runs.js';

export const REVIEW_HELP = `flask-eval review (--model NAME | --answers FILE [--model-id ID]) [options]
  Judge a model's answers with FLASK's review prompt; results land in DuckDB.
  --model NAME        a published model in data/flask/model_outputs (gpt4, chatgpt, davinci_003, ...)
  --answers FILE      an answers file in FLASK's format ({"question_id", "text"} per line)
  --eval-set FILE     evaluation set (default: FLASK's 1,740 instances); --hard for FLASK-Hard
  --run NAME          run name (default review-<model>; letters, digits, . _ -, at most 100); the same name resumes the run
  --limit N           only the first N answered instances
  --keep-first-duplicate   an answers file with a repeated question_id: keep the first line (default: an error naming both lines)
  --judge-model M     (env FLASK_JUDGE_MODEL; default gpt-4-0613, or the offline judge without a key)
  --judge-base-url U  (env OPENAI_BASE_URL)
  --judge-api-key-file F   the judge's key from a file (env OPENAI_API_KEY; --judge-api-key K: see Keys below)
  --judge-temperature T / --judge-max-tokens N   (default: FLASK's reviewer.jsonl, 0.2 / 1024)
  --parse-attempts N (3)   times the judge is asked before an instance is recorded as failed
  --retry-failed      judge again the instances recorded as failed
  --detach            start the workflow and return (with external workers)
  --with-worker       run a worker in this process even with TEMPORAL_ADDRESS set
  --db FILE           results file (env FLASK_DB)
${limitsHelp(false)}
${keyHelp(false)}`;

export function evalSetFile(v: Record<string, unknown>): string {
  if (v.hard) return DATA_FILES.hardSet;
  return typeof v['eval-set'] === 'string' ? (v['eval-set'] as string) : DATA_FILES.evalSet;
}

/** FLASK's judge settings (reviewer.jsonl), overridable, plus the bounded re-ask count. */
export function judgeSettings(v: Record<string, string | boolean | string[] | undefined>): SamplingSettings {
  const kit = loadReviewPromptKit();
  return {
    temperature: temperatureFlag(v, 'judge-temperature') ?? kit.temperature,
    maxTokens: intFlag(v, 'judge-max-tokens', kit.maxTokens),
    maxParseAttempts: intFlag(v, 'parse-attempts', 3),
  };
}

export async function reviewCommand(argv: string[], log: (s: string) => void): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: { ...RUN_FLAGS, model: { type: 'string' }, answers: { type: 'string' }, 'model-id': { type: 'string' },
      'eval-set': { type: 'string' }, hard: { type: 'boolean' }, 'parse-attempts': { type: 'string' }, 'keep-first-duplicate': { type: 'boolean' } },
  });
  // Every flag is checked before any file is read or anything is stored.
  const warn = (s: string) => log(`warning: ${s}`);
  const options = runOptions(v, warn);
  const judge = judgeFromFlags(v, warn);
  judgeSettings(v);
  const model = strFlag(v, 'model');
  const answersFile = strFlag(v, 'answers') ?? (model ? publishedAnswersFile(model) : undefined);
  if (!answersFile && strFlag(v, 'run') !== undefined) return reviewStoredRun(validateRunName(strFlag(v, 'run')!), v, log);
  if (!answersFile) throw new InputError(`review needs --model NAME, --answers FILE, or --run NAME of a stored run\n\n${REVIEW_HELP}`);
  const modelId = strFlag(v, 'model-id') ?? model ?? path.basename(answersFile).replace(/\.jsonl?$/, '');
  const runId = runNameFlag(v, () => defaultRunName('review', modelId));
  const evalSet = evalSetFile(v);
  // FLASK's published answers are keyed by the full set's idx; FLASK-Hard renumbers its instances.
  const prepared = prepareReview(evalSet, answersFile, modelId, intFlag(v, 'limit', undefined), {
    answersKeyedByMainSet: model !== undefined && !v.answers,
    duplicates: { keepFirst: !!v['keep-first-duplicate'], warn },
  });
  for (const line of describeSummary(prepared.summary)) log(`  ${line}`);

  const simulated = endpointIsOffline(judge);
  const db = openDb(v);
  const final = await executeRun({
    db, instances: prepared.instances, responses: prepared.responses, steps: ['review'], judge, model: judge, options, log,
    record: {
      runId, kind: 'review', simulated,
      datasetPath: path.resolve(evalSet), datasetSha256: sha256File(evalSet),
      answersPath: path.resolve(answersFile), answersSha256: sha256File(answersFile),
      modelId, modelEndpoint: null, modelSettings: null,
      judgeModel: judge.model, judgeEndpoint: endpointHost(judge), judgeSettings: judgeSettings(v),
      promptTemplateSha256: loadReviewPromptKit().hash, projectVersion: projectVersion(), summary: prepared.summary,
    },
  });
  if (final) await printRunReport(db, [runId], 'skill', 'table', log);
  log(`Results: ${db.file}  (flask-eval report ${runId} --by skill|difficulty|domain; flask-eval query "SELECT ...")`);
  return final ? exitCodeForProgress(final.progress) : EXIT.ok;
}

/**
 * `review --run NAME` on a run whose responses are already stored (import-answers, infer): the
 * judge is bound on first review; another judge later needs --change-judge (each review row
 * records the judge that wrote it).
 */
async function reviewStoredRun(runId: string, v: Record<string, string | boolean | string[] | undefined>, log: (s: string) => void): Promise<number> {
  const db = openDb(v);
  const judge = judgeFromFlags(v, log);
  const stored = await db.read((sql) => getRun(sql, runId));
  if (!stored) throw new InputError(`no run "${runId}" in ${db.file}: give --model or --answers to create it`);
  const firstReview = stored.judgeModel === null;
  const final = await executeRun({
    db, instances: [], steps: ['review'], judge, model: judge, options: { ...runOptions(v, log), changeJudge: firstReview || !!v['change-judge'] }, log,
    record: {
      ...stored,
      judgeModel: judge.model, judgeEndpoint: endpointHost(judge), judgeSettings: judgeSettings(v),
      promptTemplateSha256: loadReviewPromptKit().hash, simulated: stored.simulated || endpointIsOffline(judge),
    },
  });
  if (final) await printRunReport(db, [runId], 'skill', 'table', log);
  log(`Results: ${db.file}`);
  return final ? exitCodeForProgress(final.progress) : EXIT.ok;
}
