import { createHash } from 'node:crypto';
import path from 'node:path';
import { DATA_FILES } from '../paths.js';
import { InputError } from '../errors.js';
import { loadRubrics, type Rubric } from './rubrics.js';
import type { PromptKind } from './promptKind.js';
import { loadPromptTemplates, loadReviewers, type PromptTemplate, type Reviewer } from './templates.js';

/** A prompt.jsonl + reviewer.jsonl pair, parsed; `file` and `reviewersFile` name where they came from (for errors). */
export interface PromptFiles {
  file: string;
  reviewersFile: string;
  templates: PromptTemplate[];
  reviewers: Reviewer[];
}


/**
 * The FLASK texts a step's prompts are rendered from (templates, judge settings, rubrics), parsed.
 * The store reads them from data/ and they travel in every endpoint activity's input (~15 KB for
 * the review, ~25 KB for annotation), so an endpoint worker needs nothing but Temporal: it has
 * no data/ (another host, a container without the data folder).
 */
export interface PromptSet {
  kind: PromptKind;
  /** sha256 of the rest: workers keep one rendered kit per hash. */
  hash: string;
  /** By folder under data/flask: 'review_prompts', 'annotation_prompts/domain', ... */
  prompts: Record<string, PromptFiles>;
  rubrics: Rubric[];
}

const FOLDERS: Record<PromptKind, string[]> = {
  review: ['review_prompts'],
  annotation: ['annotation_prompts/domain', 'annotation_prompts/skillset', 'annotation_prompts/difficulty'],
};

const read = new Map<PromptKind, PromptSet>();

/** The prompt set of `kind` from data/ (once per process). */
export function readPromptSet(kind: PromptKind): PromptSet {
  let set = read.get(kind);
  if (set) return set;
  const flaskData = path.dirname(DATA_FILES.rubrics);
  const prompts: Record<string, PromptFiles> = {};
  for (const folder of FOLDERS[kind]) {
    const file = path.join(flaskData, folder, 'prompt.jsonl');
    const reviewersFile = path.join(flaskData, folder, 'reviewer.jsonl');
    prompts[folder] = { file, reviewersFile, templates: [...loadPromptTemplates(file).values()], reviewers: loadReviewers(reviewersFile) };
  }
  const rubrics = loadRubrics(DATA_FILES.rubrics);
  const hash = createHash('sha256').update(JSON.stringify({ prompts, rubrics })).digest('hex');
  set = { kind, hash, prompts, rubrics };
  read.set(kind, set);
  return set;
}

/** A folder's files from a set, or an error that says the set is not the one this step needs. */
export function promptFilesOf(set: PromptSet, folder: string): PromptFiles {
  const files = set.prompts[folder];
  if (!files) throw new InputError(`the ${set.kind} prompt set has no ${folder}/ (a ${set.kind} set was passed where another step's was needed)`);
  return files;
}

/** One value per set hash (a worker may serve runs made with different data/ versions). */
export function perPromptSet<T>(make: (set: PromptSet) => T): (set: PromptSet) => T {
  const cache = new Map<string, T>();
  return (set) => {
    let v = cache.get(set.hash);
    if (v === undefined) {
      v = make(set);
      cache.set(set.hash, v);
    }
    return v;
  };
}
