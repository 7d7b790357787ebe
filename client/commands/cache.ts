import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { attachStateServer } from '../../server/attach.js';
import { cacheStats, type CachePruneFilter } from '../../core/store/callCache.js';
import { textTable } from '../../core/report/textTable.js';
import { openDb, strFlag, validateRunName } from '../flags.js';
import { withReader } from './report.js';

export const CACHE_HELP = `flask-eval cache [stats] [--db FILE]
  What the call cache holds (README, "The call cache"): answers per endpoint, model and step, their
  text size, the tokens they saved the first time, oldest and newest.
flask-eval cache prune (--older-than DAYS | --model M | --endpoint URL | --run RUN | --all) [--dry-run] [--db FILE]
  Delete stored answers (every condition given must hold): later runs ask those calls again. Runs,
  their reviews and their call records are untouched. --dry-run counts what would go.`;

export async function cacheCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      db: { type: 'string' }, 'older-than': { type: 'string' }, model: { type: 'string' }, endpoint: { type: 'string' }, run: { type: 'string' },
      all: { type: 'boolean' }, 'dry-run': { type: 'boolean' },
    },
  });
  const sub = positionals[0] ?? 'stats';
  if (positionals.length > 1 || !['stats', 'prune'].includes(sub)) throw new InputError(`cache takes stats or prune\n\n${CACHE_HELP}`);
  const db = openDb(v);
  if (sub === 'stats') {
    const rows = await withReader(db.file, (r) => cacheStats(r));
    if (rows.length === 0) {
      log(`The call cache of ${db.file} is empty.`);
      return;
    }
    process.stdout.write(textTable(
      ['endpoint', 'model', 'step', 'answers', 'text MB', 'tokens a reuse saves', 'oldest', 'newest'],
      rows.map((r) => [r.endpoint, r.model, r.step, String(r.answers), (r.textChars / 1e6).toFixed(2), String(r.promptTokens + r.completionTokens), r.oldest, r.newest]),
    ));
    return;
  }
  const filter = pruneFilter(v);
  // The results file belongs to the state server: the delete runs there.
  const server = await attachStateServer({ log, dbFile: db.file });
  try {
    const r = await server.store.pruneCache({ filter, dryRun: v['dry-run'] === true });
    log(`${v['dry-run'] ? 'Would delete' : 'Deleted'} ${r.answers} stored answers (${(r.textChars / 1e6).toFixed(2)} MB of text) from the call cache of ${db.file}.`);
  } finally {
    await server.release();
  }
}

function pruneFilter(v: Record<string, string | boolean | undefined>): CachePruneFilter {
  const raw = strFlag(v, 'older-than');
  const days = raw === undefined ? undefined : Number(raw);
  if (days !== undefined && !(Number.isFinite(days) && days >= 0)) throw new InputError(`--older-than takes a number of days >= 0, e.g. --older-than 30 (got "${raw}")`);
  const f: CachePruneFilter = {
    ...(days !== undefined ? { olderThanDays: days } : {}),
    ...(strFlag(v, 'model') !== undefined ? { model: strFlag(v, 'model')! } : {}),
    ...(strFlag(v, 'endpoint') !== undefined ? { endpoint: strFlag(v, 'endpoint')!.replace(/\/+$/, '') } : {}),
    ...(strFlag(v, 'run') !== undefined ? { runId: validateRunName(strFlag(v, 'run')!, '--run') } : {}),
  };
  if (Object.keys(f).length === 0 && v.all !== true) throw new InputError(`cache prune needs a condition (--older-than DAYS, --model M, --endpoint URL, --run RUN) or --all\n\n${CACHE_HELP}`);
  if (Object.keys(f).length > 0 && v.all === true) throw new InputError('give --all alone, or conditions without --all');
  return v.all === true ? { all: true } : f;
}
