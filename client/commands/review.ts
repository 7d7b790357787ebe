import { parseArgs } from 'node:util';
import path from 'node:path';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { InputError } from '../../core/errors.js';
import { describeSummary, planReview, sha256File } from '../../core/inputs/prepare.js';
import { judgeProfile } from '../../core/judges/index.js';
import { endpointHost, endpointIsOffline, projectVersion, type EndpointConfig } from '../../core/config.js';
import { OFFLINE_MODEL_ID } from '../../simulator/server.js';
import { executeRun, type RunRequest } from '../execute.js';
import { openReadOnly } from '../readDb.js';
import { EXIT, exitCodeForProgress } from '../output/exitCodes.js';
import { keyHelp, limitsHelp, RUN_FLAGS, defaultRunName, intFlag, judgeFromFlags, numFlag, openDb, temperatureFlag, runNameFlag, runOptions, strFlag, validateRunName } from '../flags.js';
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
  --parse-attempts N (3)   times the judge is asked before an instance is recorded as failed
  --judge-profile P   flask (default: FLASK's prompt, one call scores 3 skills) | prometheus (Prometheus 2's prompt, one call per skill)
  --judge-temperature T / --judge-max-tokens N   (default: the profile's; flask: FLASK's reviewer.jsonl, 0.2 / 1024)
  --judge-top-p P   top_p sent to the judge (default: the profile's; prometheus 0.9, flask none)
  --judge-seed N    seed sent to the judge (OpenAI's best-effort determinism; default none)
                    every setting sent is recorded with the run (runs.judge_settings, and per judge in runs.judges)
  --judge-samples K ask each judge K times per instance (1-20, default 1; at the profile's temperature): every
                    sample is stored (review_sample_scores), reports use the per-instance mean, and
                    flask-eval judge-report RUN measures the judge's own consistency. Costs K times the judge calls.
  --skill-order reversed   the skill-order probe: each instance's skills listed in reverse order in the
                    judge prompt; judge the same answers into another run and compare them with
                    flask-eval judge-report RUN --order-probe RUN_REVERSED (default: given)
  --judge model=M,base-url=U,profile=P[,key-env=VAR]   a panel judge (repeat the flag: each instance is judged by each);
                      base-url=offline for the offline judge; the key comes from env only: VAR, else OPENAI_API_KEY for OpenAI's URL
                      (compare them: flask-eval judge-agreement RUN; a judge added to a run judges only what it has not judged)
  --batch             judge requests through the endpoint's Batch API (OpenAI: half the price; waits on durable timers,
                      a restart resumes without resubmitting); --batch-poll-seconds N (30); --batch-fallback N: direct re-asks a chunk
  --prices FILE       price overrides (data/prices.json's shape)   --max-cost USD  a budget that holds: each chunk reserves its calls' worst case first
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

/** The judge profile's sampling (flask: FLASK's reviewer.jsonl), overridable, plus the bounded re-ask count. */
export function judgeSettings(v: Record<string, string | boolean | string[] | undefined>, profileName?: string): SamplingSettings {
  const profile = judgeProfile(profileName ?? strFlag(v, 'judge-profile') ?? 'flask');
  return {
    temperature: temperatureFlag(v, 'judge-temperature') ?? profile.sampling.temperature,
    maxTokens: intFlag(v, 'judge-max-tokens', profile.sampling.maxTokens),
    ...topPOf(v, profile.sampling.topP),
    ...(intFlag(v, 'judge-seed', undefined, 0) !== undefined ? { seed: intFlag(v, 'judge-seed', undefined, 0) } : {}),
    maxParseAttempts: intFlag(v, 'parse-attempts', 3),
    ...samplesOf(v),
    ...skillOrderOf(v),
  };
}

function skillOrderOf(v: Record<string, string | boolean | string[] | undefined>): { skillOrder?: 'reversed' } {
  const o = strFlag(v, 'skill-order') ?? 'given';
  if (o !== 'given' && o !== 'reversed') throw new InputError(`--skill-order must be given or reversed (got "${o}")`);
  return o === 'reversed' ? { skillOrder: 'reversed' } : {};
}

/** --judge-samples K (1..20); 1 is left out (the default, as before). */
function samplesOf(v: Record<string, string | boolean | string[] | undefined>): { samples?: number } {
  const k = intFlag(v, 'judge-samples', 1, 1);
  if (k > 20) throw new InputError(`--judge-samples must be 1..20 (got "${v['judge-samples']}")`);
  return k > 1 ? { samples: k } : {};
}

/** --judge-top-p, else the profile's top_p (absent: not sent). */
function topPOf(v: Record<string, string | boolean | string[] | undefined>, profileTopP: number | undefined): { topP?: number } {
  const n = numFlag(v, 'judge-top-p') ?? profileTopP;
  if (n === undefined) return {};
  if (!(n > 0 && n <= 1)) throw new InputError(`--judge-top-p must be in (0, 1] (got "${v['judge-top-p']}")`);
  return { topP: n };
}

/** One judge of a panel (`--judge model=M,base-url=U,profile=P[,key-env=VAR]`). */
export interface PanelJudge {
  config: EndpointConfig;
  profile: string;
}

const JUDGE_SPEC_KEYS = ['model', 'base-url', 'profile', 'key-env'];

/**
 * The panel from repeated `--judge` flags, or undefined. Keys never come from flags (they would
 * sit in shell history and process lists): `key-env=VAR` names the environment variable holding
 * it; without it, OpenAI's URL (or no base-url) takes OPENAI_API_KEY and any other URL none.
 */
export function judgesFromFlags(v: Record<string, string | boolean | string[] | undefined>, env = process.env): PanelJudge[] | undefined {
  const specs = v.judge;
  if (!Array.isArray(specs) || specs.length === 0) return undefined;
  return specs.map((spec) => {
    const kv: Record<string, string> = {};
    for (const part of spec.split(',')) {
      const i = part.indexOf('=');
      const key = part.slice(0, i).trim();
      if (i < 0 || !JUDGE_SPEC_KEYS.includes(key)) {
        const hint = /key/.test(part) ? ' (API keys come from the environment: key-env=VAR names the variable)' : '';
        throw new InputError(`--judge "${spec}": expected ${JUDGE_SPEC_KEYS.map((k) => `${k}=...`).join(',')}; "${part}" is not one of them${hint}`);
      }
      kv[key] = part.slice(i + 1).trim();
    }
    const profile = judgeProfile(kv.profile ?? 'flask').name;
    const offline = kv['base-url'] === 'offline' || (!kv['base-url'] && !env.OPENAI_API_KEY && !env.OPENAI_BASE_URL && !kv['key-env']);
    if (offline) return { config: { model: kv.model ?? OFFLINE_MODEL_ID }, profile };
    const baseURL = kv['base-url'] ?? env.OPENAI_BASE_URL ?? undefined;
    let apiKey: string | undefined;
    if (kv['key-env']) {
      apiKey = env[kv['key-env']];
      if (!apiKey) throw new InputError(`--judge "${spec}": the environment variable ${kv['key-env']} is not set`);
    } else if (!baseURL || /^https:\/\/api\.openai\.com(\/|$)/.test(baseURL) || baseURL === env.OPENAI_BASE_URL) {
      apiKey = env.OPENAI_API_KEY || undefined;
    }
    if (!kv.model) throw new InputError(`--judge "${spec}": name the judge's model (model=M)`);
    return { config: { model: kv.model, ...(baseURL ? { baseURL } : {}), ...(apiKey ? { apiKey } : {}) }, profile };
  });
}

/** What a run records of its judge profile: the name, and its prompt hash as the run's template hash. */
export function judgeProfileRecord(name: string): { judgeProfile: string; promptTemplateSha256: string } {
  const profile = judgeProfile(name);
  return { judgeProfile: profile.name, promptTemplateSha256: profile.hash };
}

/** review's flags, in node:util parseArgs form. */
export const REVIEW_OPTIONS = {
  ...RUN_FLAGS, model: { type: 'string' }, answers: { type: 'string' }, 'model-id': { type: 'string' },
  'eval-set': { type: 'string' }, hard: { type: 'boolean' }, 'parse-attempts': { type: 'string' }, 'keep-first-duplicate': { type: 'boolean' },
} as const;

export async function reviewCommand(argv: string[], log: (s: string) => void): Promise<number> {
  const { values: v } = parseArgs({ args: argv, options: REVIEW_OPTIONS });
  if (!strFlag(v, 'model') && !strFlag(v, 'answers') && strFlag(v, 'run') !== undefined) {
    runOptions(v, (s) => log(`warning: ${s}`));
    return reviewStoredRun(validateRunName(strFlag(v, 'run')!), v, log);
  }
  const request = reviewRequest(v, log);
  const { db, record: { runId } } = request;
  const final = await executeRun(request);
  if (final) await (await import('./report.js')).printRunReport(db, [runId], 'skill', 'table', log);
  if (final) log(`Results: ${db.file}  (flask-eval report ${runId} --by skill|difficulty|domain; flask-eval query "SELECT ...")`);
  return final ? exitCodeForProgress(final.progress) : EXIT.ok;
}

/** A review run as its flags describe it (every flag checked before any file is read or anything stored). */
export function reviewRequest(v: Record<string, string | boolean | string[] | undefined>, log: (s: string) => void): RunRequest {
  const warn = (s: string) => log(`warning: ${s}`);
  const options = runOptions(v, warn);
  const judges = judgesFromFlags(v);
  const judge = judges?.[0]!.config ?? judgeFromFlags(v, warn);
  judgeSettings(v);
  const model = strFlag(v, 'model');
  const answersFile = strFlag(v, 'answers') ?? (model ? publishedAnswersFile(model) : undefined);
  if (!answersFile) throw new InputError(`review needs --model NAME, --answers FILE, or --run NAME of a stored run\n\n${REVIEW_HELP}`);
  const modelId = strFlag(v, 'model-id') ?? model ?? path.basename(answersFile).replace(/\.jsonl?$/, '');
  const runId = runNameFlag(v, () => defaultRunName('review', modelId, v));
  const evalSet = evalSetFile(v);
  // FLASK's published answers are keyed by the full set's idx; FLASK-Hard renumbers its instances.
  const prepared = planReview(evalSet, answersFile, modelId, intFlag(v, 'limit', undefined), {
    answersKeyedByMainSet: model !== undefined && !v.answers,
    duplicates: { keepFirst: !!v['keep-first-duplicate'], warn },
  });
  for (const line of describeSummary(prepared.summary)) log(`  ${line}`);

  const profileName = judges?.[0]!.profile ?? strFlag(v, 'judge-profile') ?? 'flask';
  const simulated = endpointIsOffline(judge);
  return {
    db: openDb(v), inputs: { instances: prepared.instances(), responses: prepared.responses() }, steps: ['review'], judge, model: judge, options, log,
    judges, judgeSettingsFor: (p) => judgeSettings(v, p),
    record: {
      runId, kind: 'review', simulated,
      datasetPath: path.resolve(evalSet), datasetSha256: sha256File(evalSet),
      answersPath: path.resolve(answersFile), answersSha256: sha256File(answersFile),
      modelId, modelEndpoint: null, modelSettings: null,
      judgeModel: judge.model, judgeEndpoint: endpointHost(judge), judgeSettings: judgeSettings(v, profileName),
      ...judgeProfileRecord(profileName), projectVersion: projectVersion(), summary: prepared.summary,
    },
  };
}

/**
 * `review --run NAME` on a run whose responses are already stored (import-answers, infer): the
 * judge is bound on first review; another judge later needs --change-judge (each review row
 * records the judge that wrote it).
 */
async function reviewStoredRun(runId: string, v: Record<string, string | boolean | string[] | undefined>, log: (s: string) => void): Promise<number> {
  const db = openDb(v);
  const judges = judgesFromFlags(v);
  const judge = judges?.[0]!.config ?? judgeFromFlags(v, log);
  const stored = await openReadOnly(db.file).run((sql) => getRun(sql, runId));
  if (!stored) throw new InputError(`no run "${runId}" in ${db.file}: give --model or --answers to create it`);
  const firstReview = stored.judgeModel === null;
  const profileName = judges?.[0]!.profile ?? strFlag(v, 'judge-profile') ?? stored.judgeProfile ?? 'flask';
  const final = await executeRun({
    db, inputs: { instances: [] }, steps: ['review'], judge, model: judge, options: { ...runOptions(v, log), changeJudge: firstReview || !!v['change-judge'] }, log,
    judges, judgeSettingsFor: (p) => judgeSettings(v, p),
    record: {
      ...stored,
      judgeModel: judge.model, judgeEndpoint: endpointHost(judge), judgeSettings: judgeSettings(v, profileName),
      ...judgeProfileRecord(profileName), simulated: stored.simulated || endpointIsOffline(judge),
    },
  });
  if (final) await (await import('./report.js')).printRunReport(db, [runId], 'skill', 'table', log);
  if (final) log(`Results: ${db.file}`);
  return final ? exitCodeForProgress(final.progress) : EXIT.ok;
}
