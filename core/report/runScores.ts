import { DIFFICULTY_LEVELS } from '../flask/difficulty.js';
import { placeholders, readNumericColumns, type Reader } from '../store/reader.js';
import { sourceScoresSql, type ScoreSource } from './scoreSources.js';

/**
 * One run's scored instances in columns: what the report's figures are computed from. It holds
 * what loadInstanceScores (core/report/instanceScores.ts) gives as one object per instance, in
 * typed arrays, so a million scores load without a million row objects.
 */
export interface RunScores {
  /** scored instances, in report order (instances.ord, then idx) */
  instances: number;
  /** instance i's idx */
  idx: Int32Array;
  /** skill keys; `key` refers to them by index */
  skillKeys: readonly string[];
  /** instance i's scores are entries first[i] .. first[i + 1] - 1: one per skill key, in the instance's own skill order */
  first: Int32Array;
  key: Uint16Array;
  /** the score, NaN for N/A */
  value: Float64Array;
  /** instance i's difficulty level 1..5, 0 when unlabelled */
  level: Uint8Array;
  /** when asked for: instance i's domains are domainNames[domainIds[domainFirst[i] .. domainFirst[i + 1] - 1]] */
  domains?: { names: readonly string[]; first: Int32Array; ids: Int32Array };
}

/**
 * A string column as a small integer inside DuckDB (its 0-based index in `n` parameters, -1 when
 * absent), so that no string crosses over to JS per row.
 */
function indexIn(expr: string, n: number): string {
  return `coalesce(list_position([${placeholders(n)}], ${expr}), 0) - 1`;
}

/**
 * Any sum of up to 2^23 such numbers (multiples of 2^-10 of at most 2^20 in size) is a multiple of
 * 2^-10 below 2^43: exact in a double, whatever the order of the additions. N/A (NaN) is not summed.
 */
function addsExactly(v: number): boolean {
  return Number.isNaN(v) || (Math.abs(v) <= 2 ** 20 && Number.isInteger(v * 1024));
}

/**
 * Every scored review's scores per source (a run, one judge of a panel, or a panel pooled: see
 * core/report/scoreSources.ts), as loadInstanceScores reads them (the same rows, joins and
 * order: only reviews with status 'scored', scores joined to their instance by idx; per instance,
 * the first position and the last value of each skill key, as its Map kept them), in columns,
 * keyed by the source's label.
 * `withDomains` also reads each instance's domains (only the domain analysis needs them).
 */
export async function loadRunScores(r: Reader, sourceList: readonly ScoreSource[], withDomains: boolean): Promise<Map<string, RunScores>> {
  const sources = sourceList.filter((s, i) => sourceList.findIndex((t) => t.label === s.label) === i);
  if (sources.length === 0) return new Map();
  const runIds = [...new Set(sources.map((s) => s.runId))];
  const runList = placeholders(runIds.length);
  const from = sourceScoresSql(sources);
  // The skills in DuckDB's order of s.skill, so that sorting by their code sorts as the names
  // would. A code per (name, key): the store derives the key from the name, so the name alone
  // gives the code (cheaper), unless the file has a name under two keys (written by releases that
  // keyed it differently): then both are compared.
  const skills = await r.all(`SELECT DISTINCT skill, skill_key FROM review_scores WHERE run_id IN (${runList}) ORDER BY skill, skill_key`, [...runIds]);
  const byName = new Set(skills.map((s) => String(s.skill))).size === skills.length;
  const skillCode = byName ? indexIn('s.skill', skills.length) : `CASE ${skills.map((_, i) => `WHEN s.skill = ? AND s.skill_key = ? THEN ${i}`).join(' ')} END`;
  const skillParams = byName ? skills.map((s) => s.skill) : skills.flatMap((s) => [s.skill, s.skill_key]);
  const keys = [...new Set(skills.map((s) => String(s.skill_key)))];
  const keyOfCode = Uint16Array.from(skills, (s) => keys.indexOf(String(s.skill_key)));
  const empty = (): RunScores => ({
    instances: 0, idx: new Int32Array(0), skillKeys: keys, first: new Int32Array(1), key: new Uint16Array(0), value: new Float64Array(0), level: new Uint8Array(0),
    domains: withDomains ? { names: [], first: new Int32Array(1), ids: new Int32Array(0) } : undefined,
  });
  if (skills.length === 0) return new Map(sources.map((s) => [s.label, empty()]));
  const read = (instanceOrder: boolean) => readNumericColumns(r,
    `SELECT s.src AS run_code, s.idx, ${skillCode} AS skill_code,
            -- N/A as NaN, not NULL: without NULLs the column has no validity mask and reads ~2x faster
            coalesce(s.score, 'NaN'::DOUBLE) AS score,
            coalesce(list_position([${placeholders(DIFFICULTY_LEVELS.length)}], i.difficulty), 0) AS level
     FROM (${from.sql}) s
     JOIN instances i ON i.run_id = s.run_id AND i.idx = s.idx
     ORDER BY run_code, i.ord, s.idx, ${instanceOrder ? 'list_position(i.skills, s.skill), ' : ''}skill_code`,
    [...skillParams, ...DIFFICULTY_LEVELS, ...from.params],
    ['run_code', 'idx', 'skill_code', 'score', 'level'] as const);
  // An instance's scores are summed (domain and overall figures) in its own skill order. The order
  // changes nothing when doubles add the scores exactly (FLASK's 1-5, halves): then they are read
  // without it, which keeps the instances' skill lists out of the join (~25% faster), and again in
  // that order only if some score is not such a number.
  let cols = await read(false);
  if (!cols.score.every(addsExactly)) cols = await read(true);

  const out = new Map<string, RunScores>();
  const rows = cols.run_code.length;
  for (let start = 0, end = 0; start < rows; start = end) {
    while (end < rows && cols.run_code[end] === cols.run_code[start]) end++;
    out.set(sources[cols.run_code[start]!]!.label, runSlice(cols, start, end, keys, keyOfCode));
  }
  for (const s of sources) if (!out.has(s.label)) out.set(s.label, empty());
  if (withDomains) await attachDomains(r, runIds, sources, out);
  return out;
}

/** Rows start..end-1 (one run's, in order) grouped into instances; a skill key seen twice keeps its first place and its last score. */
function runSlice(cols: Record<'idx' | 'skill_code' | 'score' | 'level', Float64Array>, start: number, end: number, keys: readonly string[], keyOfCode: Uint16Array): RunScores {
  const first = new Int32Array(end - start + 1);
  const key = new Uint16Array(end - start);
  const value = new Float64Array(end - start);
  const level = new Uint8Array(end - start);
  const idx = new Int32Array(end - start);
  let n = 0;
  let m = 0;
  for (let row = start; row < end; row++) {
    if (row === start || cols.idx[row] !== cols.idx[row - 1]) {
      first[n] = m;
      idx[n] = cols.idx[row]!;
      level[n] = cols.level[row]!;
      n++;
    }
    const k = keyOfCode[cols.skill_code[row]!];
    let at = first[n - 1]!;
    while (at < m && key[at] !== k) at++;
    key[at] = k!;
    value[at!] = cols.score[row]!;
    if (at === m) m++;
  }
  first[n] = m;
  return { instances: n, skillKeys: keys, first: first.subarray(0, n + 1), key: key.subarray(0, m), value: value.subarray(0, m), level: level.subarray(0, n), idx: idx.subarray(0, n) };
}

/** Each instance's domains (FLASK's list; empty when unlabelled), as codes into the list of names. */
async function attachDomains(r: Reader, runIds: readonly string[], sources: readonly ScoreSource[], runs: Map<string, RunScores>): Promise<void> {
  const runList = placeholders(runIds.length);
  const names = (await r.all(`SELECT DISTINCT d FROM (SELECT unnest(domains) AS d FROM instances WHERE run_id IN (${runList})) WHERE d IS NOT NULL ORDER BY d`, [...runIds]))
    .map((x) => String(x.d));
  if (names.length === 0) {
    for (const s of runs.values()) s.domains = { names, first: new Int32Array(s.instances + 1), ids: new Int32Array(0) };
    return;
  }
  const rows = await readNumericColumns(r,
    `SELECT ${indexIn('run_id', runIds.length)} AS run_code, idx, ${indexIn('d', names.length)} AS domain
     FROM (SELECT run_id, idx, unnest(domains) AS d FROM instances WHERE run_id IN (${runList})) WHERE d IS NOT NULL`,
    [...runIds, ...names, ...runIds], ['run_code', 'idx', 'domain'] as const);
  for (const src of sources) {
    const run = runIds.indexOf(src.runId);
    const s = runs.get(src.label)!;
    const position = new Map<number, number>();
    for (let i = 0; i < s.instances; i++) position.set(s.idx[i]!, i);
    // Count, then place: each instance's domain codes, in the order the rows come.
    const count = new Int32Array(s.instances + 1);
    for (let row = 0; row < rows.run_code.length; row++) {
      const at = rows.run_code[row] === run ? position.get(rows.idx[row]!) : undefined;
      if (at !== undefined) count[at + 1]!++;
    }
    for (let i = 0; i < s.instances; i++) count[i + 1]! += count[i]!;
    const first = count.slice();
    const ids = new Int32Array(count[s.instances]!);
    for (let row = 0; row < rows.run_code.length; row++) {
      const at = rows.run_code[row] === run ? position.get(rows.idx[row]!) : undefined;
      if (at !== undefined) ids[count[at]!++] = rows.domain[row]!;
    }
    s.domains = { names, first, ids };
  }
}
