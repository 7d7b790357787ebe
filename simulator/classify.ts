/** Request classification: which role (judge, annotator, evaluated model) a request asks for. */
import { findReviewSkills } from './judge.js';
import { isPrometheusRequest } from './prometheusJudge.js';
import type { Msg } from './message.js';

export type RequestKind = 'review' | 'prometheus' | 'domain' | 'skillset' | 'difficulty' | 'model';

export function classify(messages: readonly Msg[]): RequestKind {
  const system = messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => m.text).join('\n');
  const user = messages.filter((m) => m.role === 'user').map((m) => m.text).join('\n');
  if (isPrometheusRequest(messages)) return 'prometheus';
  if (/labeling the domain/i.test(system)) return 'domain';
  if (/selects the necessary skills/i.test(system)) return 'skillset';
  if (/labeling the difficulty/i.test(system)) return 'difficulty';
  if (/checking the quality of the answer/i.test(system)) return 'review';
  // Without the system prompt (some gateways fold it into the user turn), the templates' own markers.
  if (/\[Domains\]/.test(user) && /Which domain best fits/i.test(user)) return 'domain';
  if (/\[Skill Options\]/.test(user)) return 'skillset';
  if (/label the difficulty of the following question/i.test(user)) return 'difficulty';
  if (/\[The End of Assistant's Response\]/.test(user) && findReviewSkills(user).length > 0) return 'review';
  return 'model';
}
