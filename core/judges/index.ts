/** The judge profiles by name (`--judge-profile flask|prometheus`). */
import { InputError } from '../errors.js';
import { loadReviewPromptKit } from '../prompts/review.js';
import type { PromptSet } from '../flask/promptSet.js';
import { flaskProfile } from './flask.js';
import { prometheusProfile } from './prometheus.js';
import { JUDGE_PROFILE_NAMES, type JudgeProfile, type JudgeProfileName } from './profile.js';

export * from './profile.js';
export { flaskProfile } from './flask.js';
export { prometheusProfile } from './prometheus.js';
export { parsePrometheusResult } from './parsePrometheusResult.js';

const cache = new Map<string, JudgeProfile>();

function isJudgeProfileName(s: string): s is JudgeProfileName {
  return (JUDGE_PROFILE_NAMES as readonly string[]).includes(s);
}

/**
 * The profile named `name`, rendering from data/ or from `set` (the prompt set an activity's input
 * carries); loaded once per process and set. An unknown name is an InputError naming the choices.
 */
export function judgeProfile(name: string = 'flask', set?: PromptSet): JudgeProfile {
  if (!isJudgeProfileName(name)) throw new InputError(`--judge-profile must be one of ${JUDGE_PROFILE_NAMES.join(', ')} (got "${name}")`);
  const key = `${name}/${set?.hash ?? 'data'}`;
  let p = cache.get(key);
  if (!p) {
    p = name === 'flask' ? flaskProfile(loadReviewPromptKit(set)) : prometheusProfile(set?.rubrics);
    cache.set(key, p);
  }
  return p;
}
