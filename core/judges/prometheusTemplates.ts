/**
 * Prometheus 2's absolute-grading prompt WITH a reference answer, byte for byte as published in
 * prometheus-eval (Apache-2.0): github.com/prometheus-eval/prometheus-eval,
 * libs/prometheus-eval/prometheus_eval/prompts.py at commit dcfb44272d5d0414832f5dbb8c2a05ebc2614234
 * (2025-04-24; the file last changed in 62a85d118c497d17c1dddf1dbe61de1a77812fc9, 2025-01-07):
 * ABS_SYSTEM_PROMPT, ABSOLUTE_PROMPT and SCORE_RUBRIC_TEMPLATE (`.strip()`ped, as there).
 * The judge is trained on exactly this text; do not "improve" it (the grammar slips are theirs).
 * Placeholders are Python str.format fields, filled once with formatTemplate (no literal braces).
 */
export const ABS_SYSTEM_PROMPT =
  'You are a fair judge assistant tasked with providing clear, objective feedback based on specific criteria, ensuring each assessment reflects the absolute standards set for performance.';

export const ABSOLUTE_PROMPT = `###Task Description:
An instruction (might include an Input inside it), a response to evaluate, a reference answer that gets a score of 5, and a score rubric representing a evaluation criteria are given.
1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.
2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score rubric.
3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer number between 1 and 5)"
4. Please do not generate any other opening, closing, and explanations.

###The instruction to evaluate:
{instruction}

###Response to evaluate:
{response}

###Reference Answer (Score 5):
{reference_answer}

###Score Rubrics:
{rubric}

###Feedback: `;

export const SCORE_RUBRIC_TEMPLATE = `[{criteria}]
Score 1: {score1_description}
Score 2: {score2_description}
Score 3: {score3_description}
Score 4: {score4_description}
Score 5: {score5_description}`;

/**
 * prometheus-eval's default sampling (utils.batch_completions_with_retries): max_tokens 1024,
 * temperature 1.0, top_p 0.9, repetition_penalty 1.03 (a vLLM extension, not OpenAI's API).
 */
export const PROMETHEUS_SAMPLING = { temperature: 1.0, topP: 0.9, maxTokens: 1024, repetitionPenalty: 1.03 } as const;
