import { parseArgs } from 'node:util';
import path from 'node:path';
import { InputError } from '../../core/errors.js';
import { loadEvalSet, datasetQuirks } from '../../core/flask/dataset.js';
import { describeSummary, sha256File } from '../../core/inputs/prepare.js';
import { endpointHost, endpointIsOffline, projectVersion } from '../../core/config.js';
import type { SamplingSettings } from '../../core/store/runs.js';
import { executeRun, type RunRequest } from '../execute.js';
import { EXIT, exitCodeForProgress } from '../output/exitCodes.js';
import { keyHelp, limitsHelp, MODEL_RUN_FLAGS, RUN_FLAGS, defaultRunName, intFlag, judgeFromFlags, modelFromFlags, openDb, temperatureFlag, runNameFlag, runOptions, strFlag } from '../flags.js';
import { evalSetFile, judgeProfileRecord, judgeSettings, judgesFromFlags } from './review.js';

export const MODEL_FLAGS = {
  'model-name': { type: 'string' },
  'model-base-url': { type: 'string' },
  'model-api-key': { type: 'string' },
  temperature: { type: 'string' },
  'max-tokens': { type: 'string' },
  'system-prompt': { type: 'string' },
  seed: { type: 'string' },
  ...MODEL_RUN_FLAGS,
  'eval-set': { type: 'string' },
  hard: { type: 'boolean' },
  input: { type: 'string' },
  'parse-attempts': { type: 'string' },
} as const;

const MODEL_HELP = `  --model-name M      the evaluated model (env FLASK_MODEL_NAME)
  --model-base-url U  its OpenAI-compatible endpoint (env FLASK_MODEL_BASE_URL), e.g. http://localhost:8000/v1 (vLLM), http://localhost:11434/v1 (Ollama)
  --model-api-key-file F   its key from a file (env FLASK_MODEL_API_KEY; never the judge's key; --model-api-key K: see Keys below).
                      No key and no URL: the offline model (SIMULATED)
  --temperature T (0.7)  --max-tokens N (1024)  --system-prompt S  --seed N   (FLASK's generation defaults)
  --hard (FLASK-Hard) | --eval-set FILE | --input FILE (instances in the evaluation-set format)
  --limit N           only the first N instances
  --run NAME          run name (letters, digits, . _ -, at most 100); the same name resumes the run
  --parse-attempts N (3)  --retry-failed  --detach  --with-worker  --db FILE
${limitsHelp(true)}
${keyHelp(true)}`;

export const INFER_HELP = `flask-eval infer [options]\n  The evaluated model answers FLASK's instructions; responses land in DuckDB (export with \`flask-eval export RUN --format flask\`).\n${MODEL_HELP}`;
export const EVAL_HELP = `flask-eval eval [options]\n  One durable workflow per evaluation: every instance is answered, then judged (pipelined per instance).\n${MODEL_HELP}\n  plus the judge options of \`flask-eval review\` (--judge-model, --judge-base-url, --judge-api-key-file, --judge-temperature, --judge-max-tokens, ...)`;

/** FLASK's generation settings (temperature 0.7, at most 1024 new tokens), overridable. */
function modelSettings(v: Record<string, string | boolean | string[] | undefined>): SamplingSettings {
  return {
    temperature: temperatureFlag(v, 'temperature') ?? 0.7,
    maxTokens: intFlag(v, 'max-tokens', 1024),
    ...(intFlag(v, 'seed', undefined, 0) !== undefined ? { seed: intFlag(v, 'seed', undefined, 0) } : {}),
    ...(strFlag(v, 'system-prompt') ? { systemPrompt: strFlag(v, 'system-prompt') } : {}),
  };
}

async function generationRun(kind: 'infer' | 'eval', argv: string[], log: (s: string) => void): Promise<number> {
  const { values: v } = parseArgs({ args: argv, options: { ...RUN_FLAGS, ...MODEL_FLAGS } });
  const request = generationRequest(kind, v, log);
  const { db, record: { runId } } = request;
  const final = await executeRun(request);
  if (final && kind === 'eval') await (await import('./report.js')).printRunReport(db, [runId], 'skill', 'table', log);
  if (final && kind === 'infer') log(`Responses landed. Export: flask-eval export ${runId} --format flask; judge them: flask-eval review --run ${runId}`);
  if (final) log(`Results: ${db.file}`);
  return final ? exitCodeForProgress(final.progress) : EXIT.ok;
}

/** An infer or eval run as its flags describe it (every flag checked before any file is read or anything stored). */
export function generationRequest(kind: 'infer' | 'eval', v: Record<string, string | boolean | string[] | undefined>, log: (s: string) => void): RunRequest {
  const warn = (s: string) => log(`warning: ${s}`);
  const options = runOptions(v, warn);
  const model = modelFromFlags(v, warn);
  const judges = kind === 'eval' ? judgesFromFlags(v) : undefined;
  const judge = judges?.[0]!.config ?? judgeFromFlags(v, warn);
  modelSettings(v);
  if (kind === 'eval') judgeSettings(v);
  if (!model.model) throw new InputError('name the evaluated model: --model-name M (or FLASK_MODEL_NAME)');
  const runId = runNameFlag(v, () => defaultRunName(kind, model.model, v));
  const datasetFile = strFlag(v, 'input') ?? evalSetFile(v);
  let instances = loadEvalSet(datasetFile);
  const limit = intFlag(v, 'limit', undefined);
  if (limit !== undefined) instances = instances.slice(0, limit);
  const summary = { dataset: datasetQuirks(instances), ...(limit !== undefined ? { limit } : {}) };
  for (const line of describeSummary(summary)) log(`  ${line}`);
  const profileName = judges?.[0]!.profile ?? strFlag(v, 'judge-profile') ?? 'flask';
  return {
    db: openDb(v), inputs: { instances }, steps: kind === 'eval' ? ['generate', 'review'] : ['generate'], judge, model, options, log,
    judges, judgeSettingsFor: (p) => judgeSettings(v, p),
    record: {
      runId, kind, simulated: endpointIsOffline(model) || (kind === 'eval' && endpointIsOffline(judge)),
      datasetPath: path.resolve(datasetFile), datasetSha256: sha256File(datasetFile), answersPath: null, answersSha256: null,
      modelId: model.model, modelEndpoint: endpointHost(model), modelSettings: modelSettings(v),
      judgeModel: kind === 'eval' ? judge.model : null, judgeEndpoint: kind === 'eval' ? endpointHost(judge) : null,
      judgeSettings: kind === 'eval' ? judgeSettings(v, profileName) : null,
      ...(kind === 'eval' ? judgeProfileRecord(profileName) : { promptTemplateSha256: null }), projectVersion: projectVersion(), summary,
    },
  };
}

export const inferCommand = (argv: string[], log: (s: string) => void) => generationRun('infer', argv, log);
export const evalCommand = (argv: string[], log: (s: string) => void) => generationRun('eval', argv, log);
