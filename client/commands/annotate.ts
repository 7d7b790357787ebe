import { parseArgs } from 'node:util';
import path from 'node:path';
import { InputError } from '../../core/errors.js';
import { loadAnnotationInput as loadInput, type AnnotationInput, type DuplicatePolicy } from '../../core/flask/dataset.js';
import { sha256File } from '../../core/inputs/prepare.js';
import { annotationTemplateHash } from '../../core/prompts/annotation.js';
import { endpointHost, endpointIsOffline, projectVersion } from '../../core/config.js';
import { executeRun } from '../execute.js';
import { EXIT, exitCodeForProgress } from '../output/exitCodes.js';
import { keyHelp, limitsHelp, RUN_FLAGS, defaultRunName, intFlag, judgeFromFlags, openDb, temperatureFlag, runNameFlag, runOptions } from '../flags.js';

export const ANNOTATE_HELP = `flask-eval annotate INPUT [--run NAME] [--seed N] [options of review for the judge]
  Label every instruction with FLASK's three annotation stages (domain -> skill set -> difficulty),
  as a durable pipelined DAG. INPUT: JSONL with "instruction" (or "text"), optional "answer" and
  "idx"; an evaluation-set file also works (its own labels are kept for \`flask-eval agreement\`).
  --seed N   seed of the per-instance skill-numbering shuffle (recorded; 0 = FLASK's order)
  --run NAME     run name (default annotate-<input file>; letters, digits, . _ -, at most 100)
  --limit N      only the first N instructions
  --ignore-labels          reference labels that are malformed (unknown domain or skill, bad
                           difficulty) are dropped with a warning (default: an error listing them)
  --keep-first-duplicate   a repeated idx keeps its first line (default: an error naming both lines)
  --judge-model M  --judge-base-url U  --judge-api-key-file F  --judge-temperature T  --judge-max-tokens N
  --parse-attempts N (3)  --detach  --with-worker  --db FILE
${limitsHelp(false)}
${keyHelp(false)}
  Export: flask-eval export RUN --format evalset --out my_evalset.jsonl`;

/**
 * Read the input: instructions, with reference labels (the evaluation-set format) kept for
 * agreement when the lines carry them. Malformed labels are an error unless ignored.
 */
function loadAnnotationInput(file: string, opts: { ignoreLabels?: boolean; duplicates?: DuplicatePolicy; warn?: (s: string) => void } = {}): AnnotationInput {
  return loadInput(file, opts);
}

export async function annotateCommand(argv: string[], log: (s: string) => void): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { ...RUN_FLAGS, seed: { type: 'string' }, 'parse-attempts': { type: 'string' }, 'ignore-labels': { type: 'boolean' }, 'keep-first-duplicate': { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new InputError(`annotate takes one input file\n\n${ANNOTATE_HELP}`);
  // Every flag is checked before the input is read or anything is stored.
  const warn = (s: string) => log(`warning: ${s}`);
  const options = runOptions(v, warn);
  const judge = judgeFromFlags(v, warn);
  const seed = intFlag(v, 'seed', 0, 0);
  const judgeSettings = {
    temperature: temperatureFlag(v, 'judge-temperature') ?? 0.2, maxTokens: intFlag(v, 'judge-max-tokens', 1024),
    override: v['judge-temperature'] !== undefined || v['judge-max-tokens'] !== undefined, maxParseAttempts: intFlag(v, 'parse-attempts', 3),
  };
  const file = positionals[0];
  const runId = runNameFlag(v, () => defaultRunName('annotate', path.basename(file!).replace(/\.jsonl?$/, '')));
  const loaded = loadAnnotationInput(file!, { ignoreLabels: !!v['ignore-labels'], duplicates: { keepFirst: !!v['keep-first-duplicate'], flag: '--keep-first-duplicate', warn }, warn });
  let instances = loaded.instances;
  const limit = intFlag(v, 'limit', undefined);
  if (limit !== undefined) instances = instances.slice(0, limit);
  const hasReferenceLabels = instances.some((i) => i.skills.length > 0 || i.domains.length > 0 || i.difficulty !== null);
  log(`  instructions: ${instances.length}${hasReferenceLabels ? ' (with reference labels, for flask-eval agreement)' : ''}; skill numbering shuffle seed ${seed}`);
  const db = openDb(v);
  const final = await executeRun({
    db, inputs: { instances }, steps: ['domain', 'skillset', 'difficulty'], judge, model: judge, options, log,
    record: {
      runId, kind: 'annotate', simulated: endpointIsOffline(judge), datasetPath: path.resolve(file!), datasetSha256: sha256File(file!),
      answersPath: null, answersSha256: null, modelId: null, modelEndpoint: null, modelSettings: null,
      judgeModel: judge.model, judgeEndpoint: endpointHost(judge),
      // Without flags each stage is sent with FLASK's own settings (see core/prompts/annotation.ts).
      judgeSettings,
      promptTemplateSha256: annotationTemplateHash(), projectVersion: projectVersion(),
      summary: {
        instructions: instances.length, hasReferenceLabels, skillShuffleSeed: seed,
        ...(loaded.droppedLabelLines.length ? { droppedLabelLines: loaded.droppedLabelLines } : {}),
        ...(limit !== undefined ? { limit } : {}),
      },
    },
  });
  log(`Annotations: ${db.file}. Export: flask-eval export ${runId} --format evalset --out ${runId}.jsonl${hasReferenceLabels ? `; agreement: flask-eval agreement ${runId}` : ''}`);
  return final ? exitCodeForProgress(final.progress) : EXIT.ok;
}
