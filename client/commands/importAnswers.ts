import { parseArgs } from 'node:util';
import path from 'node:path';
import { InputError } from '../../core/errors.js';
import { describeSummary, planReview, sha256File } from '../../core/inputs/prepare.js';
import { projectVersion } from '../../core/config.js';
import { attachStateServer } from '../../server/attach.js';
import { defaultRunName, openDb, runNameFlag, strFlag } from '../flags.js';
import { evalSetFile } from './review.js';

export const IMPORT_HELP = `flask-eval import-answers FILE --model-id NAME [--run NAME] [--eval-set FILE | --hard] [--keep-first-duplicate] [--db FILE]
  Validate an answers file (FLASK's format: {"question_id", "text"} per line) against the evaluation
  set and store it as a run's responses; then \`flask-eval review --run NAME\` judges them. Unknown
  ids and instances with no answer are counted; a malformed or empty file stores nothing.
  --run NAME               run name (default review-<model-id>; letters, digits, . _ -, at most 100)
  --keep-first-duplicate   a repeated question_id keeps its first line (default: an error naming both lines)`;

export async function importAnswersCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      'model-id': { type: 'string' }, run: { type: 'string' }, 'eval-set': { type: 'string' }, hard: { type: 'boolean' }, db: { type: 'string' },
      'keep-first-duplicate': { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new InputError(`import-answers takes one answers file\n\n${IMPORT_HELP}`);
  const modelId = strFlag(v, 'model-id');
  if (!modelId) throw new InputError('import-answers needs --model-id NAME (the name the answers are reported under)');
  const runId = runNameFlag(v, () => defaultRunName('review', modelId));
  const file = positionals[0];
  const evalSet = evalSetFile(v);
  // Everything is validated before anything is stored.
  const prepared = planReview(evalSet, file!, modelId, undefined, {
    duplicates: { keepFirst: !!v['keep-first-duplicate'], warn: (s) => log(`warning: ${s}`) },
  });
  const db = openDb(v);
  // The results file belongs to the state server: the run is landed through it.
  const server = await attachStateServer({ log, dbFile: db.file });
  let landed;
  try {
    landed = await server.store.prepareRun({
      record: {
        runId, kind: 'review', simulated: false, datasetPath: path.resolve(evalSet), datasetSha256: sha256File(evalSet),
        answersPath: path.resolve(file!), answersSha256: sha256File(file!), modelId, modelEndpoint: null, modelSettings: null,
        judgeModel: null, judgeEndpoint: null, judgeSettings: null, promptTemplateSha256: null, projectVersion: projectVersion(), summary: prepared.summary,
      },
      instances: prepared.instances(),
      responses: prepared.responses(),
    });
  } finally {
    await server.release();
  }
  for (const line of describeSummary(prepared.summary)) log(`  ${line}`);
  log(`${landed.existed ? 'Run existed' : 'Run created'}: "${runId}" (${landed.newResponses} new responses). Judge them: flask-eval review --run ${runId}`);
}
