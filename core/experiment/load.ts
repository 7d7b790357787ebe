import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { ExperimentSchema, type Experiment } from './schema.js';

export interface LoadedExperiment {
  file: string;
  experiment: Experiment;
}

/**
 * Read and validate an experiment file. YAML's parser reads JSON too (JSON is YAML 1.2), so both
 * give every problem as file:line with the field and what it should be, in one error.
 */
export function loadExperiment(file: string): LoadedExperiment {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`${file}: cannot read the experiment file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const at = lines.linePos(e.pos[0]);
    throw new InputError(`${file}:${at.line}: not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'} (${e.message.split('\n')[0]}); fix the syntax at that line`);
  }
  const parsed = ExperimentSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 20).map((issue) => `${file}:${lineOf(doc, lines, issue.path)}: ${fieldOf(issue.path)}: ${messageOf(issue)}`);
    throw new InputError(`${file}: not a valid experiment file:\n  ${problems.join('\n  ')}\n(see docs/experiments.md for the format)`);
  }
  return { file: path.resolve(file), experiment: parsed.data };
}

/** The line of the deepest node on the path that exists (a missing key: its parent's line). */
function lineOf(doc: ReturnType<typeof parseDocument>, lines: LineCounter, p: readonly PropertyKey[]): number {
  for (let n = p.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(p.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}

function fieldOf(p: readonly PropertyKey[]): string {
  if (p.length === 0) return '(top level)';
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

function messageOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove ${issue.keys.length > 1 ? 'them' : 'it'} (or check the spelling)`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `missing: add ${issue.expected === 'array' ? 'a list' : `a ${issue.expected}`}`;
  return issue.message;
}
