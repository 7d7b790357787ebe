import { parseArgs } from 'node:util';
import path from 'node:path';
import { InputError } from '../../core/errors.js';
import { sha256File } from '../../core/inputs/prepare.js';
import { readHumanLabels } from '../../core/store/humanLabels.js';
import { attachStateServer } from '../../server/attach.js';
import { openDb, strFlag } from '../flags.js';

export const IMPORT_LABELS_HELP = `flask-eval import-labels FILE --run RUN [--db FILE]
  Human labels of a run's responses, for judge-human agreement in flask-eval judge-report RUN.
  One JSON line per instance and annotator (several annotators welcome):
    {"idx": 12, "annotator": "ann-1", "scores": {"Logical Correctness": 4, "Readability": "N/A"}}
  Skills by FLASK rubric name or key; scores 1-5 (integers) or "N/A"; only the instance's own skills.
  Every problem is listed by file:line and nothing is stored until the file is clean. Labels are
  kept with their file, its sha256 and line; a label already stored (same instance, annotator and
  skill) is kept as it was.`;

export async function importLabelsCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { run: { type: 'string' }, db: { type: 'string' } } });
  if (positionals.length !== 1) throw new InputError(`import-labels takes one labels file\n\n${IMPORT_LABELS_HELP}`);
  const runId = strFlag(v, 'run');
  if (!runId) throw new InputError(`import-labels needs --run RUN (the run whose responses were labelled)\n\n${IMPORT_LABELS_HELP}`);
  const file = positionals[0];
  const db = openDb(v);
  // The results file belongs to the state server: the labels are landed through it.
  const server = await attachStateServer({ log, dbFile: db.file });
  try {
    const skills = new Map<number, string[]>();
    let found = false;
    for await (const r of server.store.query(`SELECT i.idx, i.skills, (SELECT count(*) FROM runs WHERE run_id = ?) AS runs FROM instances i WHERE i.run_id = ?`, [runId, runId])) {
      found = true;
      skills.set(Number(r.idx), ((r.skills as string[] | null) ?? []).map(String));
    }
    if (!found) throw new InputError(`no run named "${runId}" with instances in ${db.file} (flask-eval runs lists them)`);
    const rows = readHumanLabels(file!, skills, runId);
    const res = await server.store.importLabels({ runId, source: { path: path.resolve(file!), sha256: sha256File(file!) }, rows });
    const annotators = new Set(rows.map((r) => r.annotator)).size;
    log(`${file}: ${rows.length} labels by ${annotators} annotator(s) on ${new Set(rows.map((r) => r.idx)).size} instances of "${runId}": ${res.landed} stored, ${res.existing} already stored (kept). ` +
      `Judge-human agreement: flask-eval judge-report ${runId}`);
  } finally {
    await server.release();
  }
}
