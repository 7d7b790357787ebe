import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { attachStateServer } from '../../server/attach.js';
import { openDb, strFlag, validateRunName } from '../flags.js';

export const RESCORE_HELP = `flask-eval rescore RUN [--into NAME | --in-place] [--db FILE]
  Parse RUN's stored judge texts again with the current parser and judge profile: no model call,
  no cost. Into a new run (default NAME: RUN-rescored) with RUN's instances, responses and settings
  (runs.summary.rescoredFrom names RUN), or into RUN itself with --in-place. Reviews whose text now
  parses become scored, whose text no longer parses become failed (reason and text kept); reviews
  stored without text (their calls failed) stay failed: \`review --run NAME --retry-failed\` asks
  those again (through the call cache, see --cache).`;

export async function rescoreCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true, options: { into: { type: 'string' }, 'in-place': { type: 'boolean' }, db: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new InputError(`rescore takes one run name\n\n${RESCORE_HELP}`);
  const source = validateRunName(positionals[0]!, 'rescore RUN');
  if (v['in-place'] && strFlag(v, 'into') !== undefined) throw new InputError('give --into NAME or --in-place, not both');
  const target = v['in-place'] ? source : validateRunName(strFlag(v, 'into') ?? `${source}-rescored`, '--into');
  const db = openDb(v);
  // The results file belongs to the state server: the rescore runs there, in one transaction.
  const server = await attachStateServer({ log, dbFile: db.file });
  try {
    const t0 = Date.now();
    const r = await server.store.rescore({ source, target });
    log(`Rescored ${r.reviews} reviews of "${source}" into "${r.runId}" in ${((Date.now() - t0) / 1000).toFixed(1)} s, no model calls: ` +
      `${r.scored} scored, ${r.failed} failed, ${r.changed} differ from the stored ones. Report: flask-eval report ${r.runId}`);
  } finally {
    await server.release();
  }
}
