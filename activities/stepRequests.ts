import type { ChatRequest } from '../core/prompts/chat.js';
import { renderReviewPrompt } from '../core/prompts/review.js';
import { renderDifficultyPrompt, renderDomainPrompt, renderSkillsetPrompt, skillNumbering, type AnnotationPrompt } from '../core/prompts/annotation.js';
import { parseSkillScores } from '../core/scoring/parseSkillScores.js';
import { parseDifficultyAnswer, parseDomainAnswer, parseSkillsetAnswer } from '../core/scoring/parseAnnotation.js';
import type { SkillName } from '../core/skills.js';
import type { ChunkItem, Step, StepSettings } from '../workflows/types.js';

export type Parsed = { ok: true; value: unknown } | { ok: false; reason: string };

/** What one step sends for one instance, and how its answer is read. */
export interface StepRequest {
  request: ChatRequest;
  parse(text: string): Parsed;
  /** skillset: the order the skills were shown in. */
  numbering?: SkillName[];
}

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
      return {
        request: {
          ...sampling,
          messages: [...(settings.systemPrompt ? [{ role: 'system' as const, content: settings.systemPrompt }] : []), { role: 'user', content: item.instruction }],
        },
        // Empty, truncated or refusing answers are data: they land and get judged like any other.
        parse: (text) => ({ ok: true, value: text }),
      };
    case 'review': {
      if (item.response === undefined) return { cannot: 'no response to review' };
      if (item.skills.length === 0) return { cannot: 'instance has no skills to score' };
      const skills = item.skills as SkillName[];
      return {
        request: { ...sampling, messages: renderReviewPrompt({ ...item, skills }, item.response) },
        parse: (text) => {
          const p = parseSkillScores(text, skills);
          return p.ok ? { ok: true, value: p.scores } : p;
        },
      };
    }
    case 'domain':
      return { request: annotation(renderDomainPrompt(item.instruction)), parse: (t) => parseDomainAnswer(t) };
    case 'skillset': {
      const numbering = skillNumbering(shuffleSeed, item.idx);
      return {
        request: annotation(renderSkillsetPrompt(item.instruction, item.answer || undefined, numbering)),
        numbering,
        parse: (t) => {
          const p = parseSkillsetAnswer(t, numbering);
          return p.ok ? { ok: true, value: p.value.skills } : p;
        },
      };
    }
    case 'difficulty':
      if (!item.domains || item.domains.length === 0) return { cannot: 'the domain stage has no label for this instance' };
      return { request: annotation(renderDifficultyPrompt(item.instruction, item.domains)), parse: (t) => parseDifficultyAnswer(t) };
  }
}

/** A rough prompt-token count for rate budgeting (~4 characters a token); usage corrects it. */
export function estimatePromptTokens(request: ChatRequest): number {
  let chars = 0;
  for (const m of request.messages) chars += m.content.length + 8;
  return Math.ceil(chars / 4);
}
