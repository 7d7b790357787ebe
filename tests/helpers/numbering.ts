import type { SkillName } from '../../core/flask/skills.js';

/** A fixed shuffled skill numbering (index 0 is shown as 1), shared by the prompt and parser tests. */
export const SHUFFLED_NUMBERING: SkillName[] = [
  'Harmlessness',
  'Readability',
  'Factuality',
  'Logical Correctness',
  'Completeness',
  'Metacognition',
  'Logical Robustness',
  'Conciseness',
  'Insightfulness',
  'Comprehension',
  'Commonsense Understanding',
  'Logical Efficiency',
];
