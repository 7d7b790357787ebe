/** The judge profiles by name (`--judge-profile flask|prometheus`). */
import { InputError } from '../errors.js';
import { flaskProfile } from './flask.js';
import { prometheusProfile } from './prometheus.js';
import { JUDGE_PROFILE_NAMES, type JudgeProfile, type JudgeProfileName } from './profile.js';

export * from './profile.js';
export { flaskProfile } from './flask.js';
export { prometheusProfile } from './prometheus.js';
export { parsePrometheusResult } from './parsePrometheusResult.js';

const cache = new Map<JudgeProfileName, JudgeProfile>();

function isJudgeProfileName(s: string): s is JudgeProfileName {
  return (JUDGE_PROFILE_NAMES as readonly string[]).includes(s);
}

/** The profile named `name` (loaded once per process); an unknown name is an InputError naming the choices. */
export function judgeProfile(name: string = 'flask'): JudgeProfile {
  if (!isJudgeProfileName(name)) throw new InputError(`--judge-profile must be one of ${JUDGE_PROFILE_NAMES.join(', ')} (got "${name}")`);
  let p = cache.get(name);
  if (!p) {
    p = name === 'flask' ? flaskProfile() : prometheusProfile();
    cache.set(name, p);
  }
  return p;
}
