import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../errors.js';

export interface Located<T> {
  line: number;
  value: T;
}

const MAX_REPORTED = 20;

/** "skill[1]" / "domain" / "(root)" from a zod issue path. */
function fieldOf(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

/**
 * Read a JSONL file and validate every line against `schema`. All problems (up to 20) are
 * collected into one InputError naming file:line and field, so a user fixes a file in one go.
 * Blank lines are allowed (many tools write a trailing one); a file with no line at all is an
 * error (an empty run is never what was meant) unless `allowEmpty`.
 */
export function readJsonl<S extends z.ZodType>(
  file: string,
  schema: S,
  hint = '',
  opts: { allowEmpty?: boolean } = {},
): Located<z.output<S>>[] {
  const rows: Located<z.output<S>>[] = [];
  scanJsonl(file, schema, (line, value) => rows.push({ line, value }), hint, opts);
  return rows;
}

/**
 * readJsonl without keeping the rows: each valid row goes to `onRow` (which keeps what it needs),
 * and the same one error lists every problem once the file is read. For sets too large to hold.
 */
export function scanJsonl<S extends z.ZodType>(
  file: string,
  schema: S,
  onRow: (line: number, value: z.output<S>) => void,
  hint = '',
  opts: { allowEmpty?: boolean } = {},
): void {
  const problems: string[] = [];
  let nonBlank = 0;
  for (const [i, text] of fileLines(file)) {
    const raw = text.trim();
    if (raw === '') continue;
    nonBlank++;
    const line = i + 1;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      problems.push(`${file}:${line}: not valid JSON (${(e as Error).message}); each line must be one JSON object`);
      continue;
    }
    // "\ud800" is valid JSON but no character: DuckDB (and any UTF-8 consumer) refuses it later.
    const lone = raw.includes('\\u') ? loneSurrogateField(json) : undefined;
    if (lone !== undefined) {
      problems.push(`${file}:${line}: field ${lone || '(the line)'}: holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair), which is no character; fix or remove it`);
      continue;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push(`${file}:${line}: field ${fieldOf(issue.path)}: ${issue.message}`);
      }
      continue;
    }
    onRow(line, parsed.data);
  }
  if (nonBlank === 0 && !opts.allowEmpty) {
    throw new InputError(`${file} is empty (no JSON lines); nothing was started or stored.${hint ? ` ${hint}` : ''}`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_REPORTED);
    const more = problems.length > MAX_REPORTED ? `\n... and ${problems.length - MAX_REPORTED} more problems` : '';
    throw new InputError(
      `${problems.length} problem(s) in ${file}; nothing was started or stored:\n  ${shown.join('\n  ')}${more}${hint ? `\n${hint}` : ''}`,
    );
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The path of the first string (value or key) holding a lone surrogate, '' for the top level; undefined if none. */
function loneSurrogateField(v: unknown, at = ''): string | undefined {
  if (typeof v === 'string') return LONE_SURROGATE.test(v) ? at : undefined;
  if (v === null || typeof v !== 'object') return undefined;
  for (const [k, x] of Object.entries(v)) {
    const here = at ? `${at}.${k}` : k;
    if (LONE_SURROGATE.test(k)) return here;
    const found = loneSurrogateField(x, here);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The rows of a file scanJsonl has already checked, read again one at a time (in file order). */
export function* rereadJsonl<S extends z.ZodType>(file: string, schema: S): Generator<Located<z.output<S>>> {
  for (const [i, text] of fileLines(file)) {
    const raw = text.trim();
    if (raw !== '') yield { line: i + 1, value: schema.parse(JSON.parse(raw)) };
  }
}

/**
 * The lines of a file, read a few MB at a time: a 100,000-instance set (~130 MB) is never held
 * as one string plus an array of its lines next to the parsed rows.
 */
export function* fileLines(file: string): Generator<[number, string]> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new InputError(`${file}: cannot read file (${(e as Error).message})`);
  }
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    // Fatal: bytes that are not UTF-8 are refused with their line, never replaced by U+FFFD in silence.
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let rest = '';
    let n = 0;
    for (;;) {
      let got: number;
      try {
        got = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        throw new InputError(`${file}: cannot read file (${(e as Error).message})`);
      }
      let decoded: string;
      try {
        decoded = got > 0 ? decoder.decode(buf.subarray(0, got), { stream: true }) : decoder.decode();
      } catch {
        const lines = (rest + new TextDecoder('utf-8').decode(buf.subarray(0, got))).split('\n');
        const at = Math.max(0, lines.findIndex((l) => l.includes('\uFFFD')));
        throw new InputError(`${file}:${n + at + 1}: not valid UTF-8 (bytes that are no character, e.g. Latin-1 or a cut file); save the file as UTF-8`);
      }
      const text = rest + decoded;
      const parts = text.split('\n');
      rest = got > 0 ? parts.pop()! : '';
      for (const p of parts) yield [n++, p];
      if (got === 0) return;
    }
  } finally {
    closeSync(fd);
  }
}

/** Read a JSON file (not JSONL) through a schema, with the same error style. */
export function readJsonFile<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`${file}: cannot read JSON (${(e as Error).message})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const msgs = parsed.error.issues.slice(0, MAX_REPORTED).map((i) => `${file}: field ${fieldOf(i.path)}: ${i.message}`);
    throw new InputError(msgs.join('\n'));
  }
  return parsed.data;
}
