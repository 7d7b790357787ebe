/** Which prompts a step renders: the review's, or the 3 annotation stages' (all three: one hash covers them). */
export type PromptKind = 'review' | 'annotation';

/** The prompt set a step renders with; generate needs none (its prompt is the instruction). No imports: workflows use it. */
export function promptKindOf(step: string): PromptKind | undefined {
  if (step === 'review') return 'review';
  if (step === 'domain' || step === 'skillset' || step === 'difficulty') return 'annotation';
  return undefined;
}
