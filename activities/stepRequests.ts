import type { ChatRequest } from '../core/prompts/chat.js';
import { renderDifficultyPrompt, renderDomainPrompt, renderSkillsetPrompt, skillNumbering, type AnnotationPrompt } from '../core/prompts/annotation.js';
import { parseDifficultyAnswer, parseDomainAnswer, parseSkillsetAnswer } from '../core/scoring/parseAnnotation.js';
import { judgeProfile } from '../core/judges/index.js';
import type { SkillName } from '../core/flask/skills.js';
import type { ChunkItem, Step, StepSettings } from '../core/pipeline.js';

type Parsed = { ok: true; value: unknown } | { ok: false; reason: string };

/** One call of a step: its request and how its answer is read (re-asked while it does not parse). */
interface StepCall {
  request: ChatRequest;
  parse(text: string): Parsed;
  /** Names the call among several (a per-skill judge: the skill). */
  label?: string;
}

/** What one step sends for one instance, and how its answers make one result. */
export interface StepRequest {
  /** The calls, asked in order; most steps have one, a per-skill judge profile one per skill. */
  calls: StepCall[];
  /** The result from every call's parsed value, in call order. */
  combine(values: unknown[]): unknown;
  /** skillset: the order the skills were shown in. */
  numbering?: SkillName[];
}

const single = (request: ChatRequest, parse: (text: string) => Parsed, numbering?: SkillName[]): StepRequest => ({
  calls: [{ request, parse }], combine: (values) => values[0], ...(numbering ? { numbering } : {}),
});

/**
 * The request of `step` for `item`, or the reason it cannot be asked (nothing to review, no
 * domain label to pick the difficulty template): such an instance fails without a call.
 */
export function stepRequest(step: Step, item: ChunkItem, settings: StepSettings, shuffleSeed: number): StepRequest | { cannot: string } {
  const sampling = { temperature: settings.temperature, maxTokens: settings.maxTokens, seed: settings.seed };
  const annotation = (p: AnnotationPrompt): ChatRequest => ({
    messages: p.messages,
    temperature: settings.override ? settings.temperature : p.temperature,
    maxTokens: settings.override ? settings.maxTokens : p.maxTokens,
    seed: settings.seed,
  });
  switch (step) {
    case 'generate':
      return single(
        {
          ...sampling,
          messages: [...(settings.systemPrompt ? [{ role: 'system' as const, content: settings.systemPrompt }] : []), { role: 'user', content: item.instruction }],
        },
        // Empty, truncated or refusing answers are data: they land and get judged like any other.
        (text) => ({ ok: true, value: text }),
      );
    case 'review': {
      if (item.response === undefined) return { cannot: 'no response to review' };
      if (item.skills.length === 0) return { cannot: 'instance has no skills to score' };
      const skills = item.skills as SkillName[];
      const profile = judgeProfile(settings.judgeProfile ?? 'flask');
      const response = item.response;
      const groups = profile.callSkills(skills);
      // flask: one call scores every skill; prometheus: one call a skill, each parsed on its own
      // (render takes the call's skill; flask's ignores it).
      const calls: StepCall[] = groups.map((callSkills) => ({
        request: { ...sampling, messages: profile.render({ ...item, skills }, response, callSkills[0]) },
        ...(groups.length > 1 ? { label: callSkills.join(', ') } : {}),
        parse: (text: string): Parsed => {
          const p = profile.parse(text, callSkills);
          return p.ok ? { ok: true, value: p.scores } : p;
        },
      }));
      return { calls, combine: (values) => Object.assign({}, ...values) };
    }
    case 'domain':
      return single(annotation(renderDomainPrompt(item.instruction)), (t) => parseDomainAnswer(t));
    case 'skillset': {
      const numbering = skillNumbering(shuffleSeed, item.idx);
      return single(
        annotation(renderSkillsetPrompt(item.instruction, item.answer || undefined, numbering)),
        (t) => {
          const p = parseSkillsetAnswer(t, numbering);
          return p.ok ? { ok: true, value: p.value.skills } : p;
        },
        numbering,
      );
    }
    case 'difficulty':
      if (!item.domains || item.domains.length === 0) return { cannot: 'the domain stage has no label for this instance' };
      return single(annotation(renderDifficultyPrompt(item.instruction, item.domains)), (t) => parseDifficultyAnswer(t));
  }
}

/** A rough prompt-token count for rate budgeting (~4 characters a token); usage corrects it. */
export function estimatePromptTokens(request: ChatRequest): number {
  let chars = 0;
  for (const m of request.messages) chars += m.content.length + 8;
  return Math.ceil(chars / 4);
}
