import path from 'node:path';
import { InputError } from '../errors.js';
import { DATA_FILES } from '../paths.js';
import type { EvalSetEntry, Experiment, JudgeEntry, ModelEntry } from './schema.js';

/** One judge of a cell, as the CLI's `--judge model=M,base-url=U,profile=P,key-env=VAR` says it. */
export interface CellJudge {
  model: string;
  baseUrl?: string;
  profile?: string;
  keyEnv?: string;
}

/** One cell of the matrix: a model judged by a judge (or panel) on an eval set, as one run. */
export interface ExperimentCell {
  /** The run's name: <experiment>-<model>-<judge>-<eval set>. */
  runId: string;
  model: { name: string; entry: ModelEntry };
  judge: { name: string; judges: CellJudge[] };
  evalSet: { name: string; file: string; hard: boolean };
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[^A-Za-z0-9]+/, '');

function modelName(m: ModelEntry): string {
  if ('published' in m) return m.name ?? m.published;
  if ('answers' in m) return m.name;
  return m.name ?? safe(m.endpoint.model);
}

function judgesOf(j: JudgeEntry): { name: string; judges: CellJudge[] } {
  const spec = (s: { model: string; 'base-url'?: string; profile?: string; 'key-env'?: string }): CellJudge => ({
    model: s.model, ...(s['base-url'] ? { baseUrl: s['base-url'] } : {}), ...(s.profile ? { profile: s.profile } : {}), ...(s['key-env'] ? { keyEnv: s['key-env'] } : {}),
  });
  if ('panel' in j) return { name: j.name, judges: j.panel.map(spec) };
  return { name: j.name ?? safe(`${j.model}${j.profile && j.profile !== 'flask' ? `-${j.profile}` : ''}`), judges: [spec(j)] };
}

/** An eval set's file (relative paths are the experiment file's) and its name in run names. */
function evalSetOf(e: EvalSetEntry, dir: string): { name: string; file: string; hard: boolean } {
  if (e === 'flask') return { name: 'flask', file: DATA_FILES.evalSet, hard: false };
  if (e === 'flask-hard') return { name: 'hard', file: DATA_FILES.hardSet, hard: true };
  return { name: e.name, file: path.resolve(dir, 'file' in e ? e.file : e.annotated), hard: false };
}

/**
 * Every cell, models outermost: the run names are derived, so the same file names the same runs
 * (which is how a rerun resumes), and two cells that would share a name are an error.
 */
export function experimentCells(exp: Experiment, file: string): ExperimentCell[] {
  const dir = path.dirname(file);
  const cells: ExperimentCell[] = [];
  const seen = new Map<string, string>();
  for (const [mi, m] of exp.models.entries()) {
    for (const [ji, j] of exp.judges.entries()) {
      for (const [si, s] of exp['eval-sets'].entries()) {
        const model = { name: modelName(m), entry: m };
        const judge = judgesOf(j);
        const evalSet = evalSetOf(s, dir);
        const runId = `${exp.name}-${model.name}-${judge.name}-${evalSet.name}`.slice(0, 100);
        const where = `models[${mi}] x judges[${ji}] x eval-sets[${si}]`;
        const clash = seen.get(runId);
        if (clash) throw new InputError(`${file}: ${where} and ${clash} both make the run "${runId}": give one of them a distinct name (name: ...)`);
        seen.set(runId, where);
        cells.push({ runId, model, judge, evalSet });
      }
    }
  }
  return cells;
}
