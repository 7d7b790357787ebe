import type { Step, StepInput, StepResult } from './types.js';

/** The activity interface the workflows call (implemented in activities/). */
export interface ControlActivities {
  countWorkItems(runId: string): Promise<number>;
  /** Instances of ords [fromOrd, toOrd) whose pipeline is unfinished, and how many are finished. */
  listWorkItems(input: { runId: string; steps: Step[]; fromOrd: number; toOrd: number }): Promise<{
    pending: number[];
    done: number;
    failed: number;
  }>;
  recordStepFailure(input: StepInput & { step: Step; reason: string }): Promise<void>;
}

export interface StepActivities {
  generateResponse(input: StepInput): Promise<StepResult>;
  reviewResponse(input: StepInput): Promise<StepResult>;
  annotateDomain(input: StepInput): Promise<StepResult>;
  annotateSkillset(input: StepInput): Promise<StepResult>;
  annotateDifficulty(input: StepInput): Promise<StepResult>;
}

export const STEP_ACTIVITY: Record<Step, keyof StepActivities> = {
  generate: 'generateResponse',
  review: 'reviewResponse',
  domain: 'annotateDomain',
  skillset: 'annotateSkillset',
  difficulty: 'annotateDifficulty',
};
