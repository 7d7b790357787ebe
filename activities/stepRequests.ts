import type { ChatRequest } from '../core/prompts/chat.js';
import { renderDifficultyPrompt, renderDomainPrompt, renderSkillsetPrompt, skillNumbering, type AnnotationPrompt } from '../core/prompts/annotation.js';
import { parseDifficultyAnswer, parseDomainAnswer, parseSkillsetAnswer } from '../core/scoring/parseAnnotation.js';
import { judgeProfile } from '../core/judges/index.js';
import type { SkillName } from '../core/flask/skills.js';
import type { CallChunkInput, ChunkItem, Step, StepSettings } from '../core/pipeline.js';
import type { PromptSet } from '../core/flask/promptSet.js';
import { callCacheKey } from '../core/cache/callKey.js';

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
  /** review: the judge template used (flask: with or without the reference answer) */
  template?: string;
  /** review with --judge-samples K > 1: each sample's scores, from every call's parsed value */
  samples?(values: unknown[]): SampleScores[];
}

/** One judge sample's scores of an instance: skill name -> 1..5 or 'N/A'. */
export type SampleScores = Record<string, number | 'N/A'>;

/**
 * The per-instance figure of K samples, skill by skill: the mean of the samples' scores that are
 * not N/A; N/A when every sample said N/A.
 */
export function meanOfSamples(samples: readonly SampleScores[]): SampleScores {
  const out: SampleScores = {};
  for (const skill of new Set(samples.flatMap((s) => Object.keys(s)))) {
    const xs = samples.map((s) => s[skill]).filter((v): v is number => typeof v === 'number');
    out[skill] = xs.length === 0 ? 'N/A' : xs.reduce((a, b) => a + b, 0) / xs.length;
  }
  return out;
}

const single = (request: ChatRequest, parse: (text: string) => Parsed, numbering?: SkillName[]): StepRequest => ({
  calls: [{ request, parse }], combine: (values) => values[0], ...(numbering ? { numbering } : {}),
});

/**
 * The request of `step` for `item`, or the reason it cannot be asked (nothing to review, no
 * domain label to pick the difficulty template): such an instance fails without a call.
 */
export function stepRequest(step: Step, item: ChunkItem, settings: StepSettings, shuffleSeed: number, prompts?: PromptSet): StepRequest | { cannot: string } {
  const sampling = { temperature: settings.temperature, maxTokens: settings.maxTokens, topP: settings.topP, seed: settings.seed };
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
      // The skill-order probe lists the instance's skills in reverse (flask: in its one prompt).
      const skills = (settings.skillOrder === 'reversed' ? [...item.skills].reverse() : item.skills) as SkillName[];
      const profile = judgeProfile(settings.judgeProfile ?? 'flask', prompts);
      const response = item.response;
      const groups = profile.callSkills(skills);
      // --judge-samples K: the instance's calls asked K times over (the same request each time, at
      // the profile's temperature), in the same chunk; sample k is calls k*G .. k*G+G-1.
      const k = Math.max(1, settings.samples ?? 1);
      // flask: one call scores every skill; prometheus: one call a skill, each parsed on its own
      // (render takes the call's skill; flask's ignores it).
      const calls: StepCall[] = Array.from({ length: k }, (_, sample) => groups.map((callSkills) => ({
        request: { ...sampling, messages: profile.render({ ...item, skills }, response, callSkills[0]) },
        ...(groups.length > 1 || k > 1 ? { label: [...(k > 1 ? [`sample ${sample + 1}`] : []), ...(groups.length > 1 ? [callSkills.join(', ')] : [])].join(': ') } : {}),
        parse: (text: string): Parsed => {
          const p = profile.parse(text, callSkills);
          return p.ok ? { ok: true, value: p.scores } : p;
        },
      }))).flat();
      const samplesOf = (values: unknown[]): SampleScores[] =>
        Array.from({ length: k }, (_, sample) => Object.assign({}, ...values.slice(sample * groups.length, (sample + 1) * groups.length)) as SampleScores);
      return {
        calls, template: `${profile.templateName(item)}${settings.skillOrder === 'reversed' ? '; skills reversed' : ''}`,
        combine: (values) => (k > 1 ? meanOfSamples(samplesOf(values)) : Object.assign({}, ...values)),
        ...(k > 1 ? { samples: samplesOf } : {}),
      };
    }
    case 'domain':
      return single(annotation(renderDomainPrompt(item.instruction, prompts)), (t) => parseDomainAnswer(t));
    case 'skillset': {
      const numbering = skillNumbering(shuffleSeed, item.idx, prompts);
      return single(
        annotation(renderSkillsetPrompt(item.instruction, item.answer || undefined, numbering, prompts)),
        (t) => {
          const p = parseSkillsetAnswer(t, numbering);
          return p.ok ? { ok: true, value: p.value.skills } : p;
        },
        numbering,
      );
    }
    case 'difficulty':
      if (!item.domains || item.domains.length === 0) return { cannot: 'the domain stage has no label for this instance' };
      return single(annotation(renderDifficultyPrompt(item.instruction, item.domains, prompts)), (t) => parseDifficultyAnswer(t));
  }
}

/** The call cache's key of call `i` of an instance's step request (core/cache/callKey.ts). */
export function stepCallKey(input: Pick<CallChunkInput, 'endpoint' | 'step' | 'settings'>, asked: StepRequest, i: number): string {
  return callCacheKey({
    baseUrl: input.endpoint.baseUrl, model: input.endpoint.model, step: input.step, callIndex: i, request: asked.calls[i]!.request,
    ...(input.step === 'review' ? { profile: input.settings.judgeProfile ?? 'flask' } : {}), ...(asked.template ? { template: asked.template } : {}),
  });
}

/** The verbatim answers of a several-call step, each under its call's label (one call: its answer). */
export function joinCallTexts(asked: StepRequest, texts: readonly string[]): string | undefined {
  if (asked.calls.length <= 1) return texts[0];
  return texts.map((t, i) => `[${asked.calls[i]?.label ?? i + 1}]\n${t}`).join('\n\n');
}

/**
 * The answers joinCallTexts joined, split back at the known labels in order; undefined when the
 * text is not such a join (a failure recorded before any answer).
 */
export function splitCallTexts(asked: StepRequest, text: string): string[] | undefined {
  if (asked.calls.length <= 1) return [text];
  const heads = asked.calls.map((c, i) => `[${c.label ?? i + 1}]\n`);
  const out: string[] = [];
  let at = 0;
  for (const [i, head] of heads.entries()) {
    if (!text.startsWith(head, at)) return out.length > 0 ? out : undefined;
    const next = i + 1 < heads.length ? text.indexOf(`\n\n${heads[i + 1]}`, at + head.length) : -1;
    out.push(text.slice(at + head.length, next === -1 ? undefined : next));
    if (next === -1) break;
    at = next + 2;
  }
  return out;
}
