import { parseArgs } from 'node:util';
import path from 'node:path';
import { InputError } from '../../core/errors.js';
import { loadEvalSet, type EvalInstance } from '../../core/dataset.js';
import { loadInstructions } from '../../core/instructions.js';
import { sha256File } from '../../core/prepare.js';
import { annotationTemplateHash } from '../../core/prompts/annotation.js';
import { endpointHost, endpointIsOffline, projectVersion } from '../../core/config.js';
import { executeRun } from '../execute.js';
import { RUN_FLAGS, intFlag, judgeFromFlags, numFlag, openDb, runOptions, strFlag } from '../flags.js';

export const ANNOTATE_HELP = `flask-eval annotate INPUT [--run NAME] [--seed N] [options of review for the judge]
  Label every instruction with FLASK's three annotation stages (domain -> skill set -> difficulty),
  as a durable pipelined DAG. INPUT: JSONL with "instruction" (or "text"), optional "answer" and
  "idx"; an evaluation-set file also works (its own labels are kept for \`flask-eval agreement\`).
  --seed N   seed of the per-instance skill-numbering shuffle (recorded; 0 = FLASK's order)
  Export: flask-eval export RUN --format evalset --out my_evalset.jsonl`;

/**
 * Read the input as an evaluation set when it is one (keeping its labels as the reference
 * for agreement), else as plain instructions.
 */
export function loadAnnotationInput(file: string): { instances: EvalInstance[]; hasReferenceLabels: boolean } {
  try {
    return { instances: loadEvalSet(file), hasReferenceLabels: true };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
  }
  const items = loadInstructions(file);
  return {
    instances: items.map((i) => ({ ...i, skills: [], domains: [], unlabelledDomain: false, difficulty: null, extra: {} })),
    hasReferenceLabels: false,
  };
}

export async function annotateCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...RUN_FLAGS, seed: { type: 'string' }, 'parse-attempts': { type: 'string' } } });
  if (positionals.length !== 1) throw new InputError(`annotate takes one input file\n\n${ANNOTATE_HELP}`);
  const file = positionals[0];
  const loaded = loadAnnotationInput(file);
  let instances = loaded.instances;
  const limit = intFlag(v, 'limit', undefined);
  if (limit !== undefined) instances = instances.slice(0, limit);
  const seed = intFlag(v, 'seed', 0, 0);
  const judge = judgeFromFlags(v);
  const runId = strFlag(v, 'run') ?? `annotate-${path.basename(file).replace(/\.jsonl?$/, '')}`;
  log(`  instructions: ${instances.length}${loaded.hasReferenceLabels ? ' (with reference labels, for flask-eval agreement)' : ''}; skill numbering shuffle seed ${seed}`);
  const db = openDb(v);
  await executeRun({
    db, instances, steps: ['domain', 'skillset', 'difficulty'], judge, model: judge, options: runOptions(v), log,
    record: {
      runId, kind: 'annotate', simulated: endpointIsOffline(judge), datasetPath: path.resolve(file), datasetSha256: sha256File(file),
      answersPath: null, answersSha256: null, modelId: null, modelEndpoint: null, modelSettings: null,
      judgeModel: judge.model, judgeEndpoint: endpointHost(judge),
      // Without flags each stage is sent with FLASK's own settings (see core/prompts/annotation.ts).
      judgeSettings: {
        temperature: numFlag(v, 'judge-temperature') ?? 0.2, maxTokens: intFlag(v, 'judge-max-tokens', 1024),
        override: v['judge-temperature'] !== undefined || v['judge-max-tokens'] !== undefined, maxParseAttempts: intFlag(v, 'parse-attempts', 3),
      },
      promptTemplateSha256: annotationTemplateHash(), projectVersion: projectVersion(),
      summary: { instructions: instances.length, hasReferenceLabels: loaded.hasReferenceLabels, skillShuffleSeed: seed, ...(limit !== undefined ? { limit } : {}) },
    },
  });
  log(`Annotations: ${db.file}. Export: flask-eval export ${runId} --format evalset --out ${runId}.jsonl${loaded.hasReferenceLabels ? `; agreement: flask-eval agreement ${runId}` : ''}`);
}
