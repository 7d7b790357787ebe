/**
 * Prometheus 2 as a FLASK judge: absolute grading with the reference answer, one call per skill,
 * the skill's FLASK criteria (the question) and its 1-5 descriptions as the score rubric.
 * The criteria is the rubric's question alone, as in prometheus-eval's own examples
 * ("[Is the model proficient in ...?]"), not prefixed with the skill name.
 */
import { createHash } from 'node:crypto';
import { rubricFor, type Rubric } from '../flask/rubrics.js';
import { readPromptSet } from '../flask/promptSet.js';
import { formatTemplate } from '../flask/templates.js';
import type { ChatMessage } from '../prompts/chat.js';
import type { SkillName } from '../flask/skills.js';
import type { JudgeProfile, JudgedInstance } from './profile.js';
import { ABS_SYSTEM_PROMPT, ABSOLUTE_PROMPT, PROMETHEUS_SAMPLING, SCORE_RUBRIC_TEMPLATE } from './prometheusTemplates.js';
import { parsePrometheusResult } from './parsePrometheusResult.js';

/** SCORE_RUBRIC_TEMPLATE filled with one FLASK skill's criteria and score descriptions. */
function prometheusRubric(rubric: Rubric): string {
  return formatTemplate(SCORE_RUBRIC_TEMPLATE, {
    criteria: rubric.Criteria,
    score1_description: rubric.Scoring['1'],
    score2_description: rubric.Scoring['2'],
    score3_description: rubric.Scoring['3'],
    score4_description: rubric.Scoring['4'],
    score5_description: rubric.Scoring['5'],
  });
}

/** The system + user messages of one Prometheus call, as prometheus-eval's absolute_grade builds them. */
function renderPrometheusPrompt(instance: Pick<JudgedInstance, 'instruction' | 'answer'>, response: string, rubric: Rubric): ChatMessage[] {
  const user = formatTemplate(ABSOLUTE_PROMPT, {
    instruction: instance.instruction,
    response,
    reference_answer: instance.answer,
    rubric: prometheusRubric(rubric),
  });
  return [
    { role: 'system', content: ABS_SYSTEM_PROMPT },
    { role: 'user', content: user },
  ];
}

export function prometheusProfile(rubrics: readonly Rubric[] = readPromptSet('review').rubrics): JudgeProfile {
  const hash = createHash('sha256').update(JSON.stringify({ ABS_SYSTEM_PROMPT, ABSOLUTE_PROMPT, SCORE_RUBRIC_TEMPLATE, rubrics })).digest('hex');
  const one = (skills: readonly SkillName[] | SkillName, what: string): SkillName => {
    if (typeof skills === 'string') return skills as SkillName;
    if (skills.length !== 1) throw new TypeError(`prometheus ${what} scores one skill a call (got ${skills.length}: ${skills.join(', ')})`);
    return skills[0]!;
  };
  return {
    name: 'prometheus',
    hash,
    sampling: { ...PROMETHEUS_SAMPLING },
    callsPerInstance: (skills) => new Set(skills).size,
    callSkills: (skills) => [...new Set(skills)].map((s) => [s]),
    render(instance, responseText, skill) {
      if (skill === undefined) throw new TypeError('prometheus render needs the skill of the call (one call per skill)');
      if (!instance.skills.includes(skill)) throw new TypeError(`skill "${skill}" is not one of the instance's skills (${instance.skills.join(', ')})`);
      return renderPrometheusPrompt(instance, responseText, rubricFor(rubrics, skill));
    },
    // prometheus-eval's ABSOLUTE_PROMPT (with reference) for every instance, as before.
    templateName: () => 'prometheus/ABSOLUTE_PROMPT',
    parse(text, skills) {
      const skill = one(skills, 'parse');
      const r = parsePrometheusResult(text);
      if (!r.ok) return { ok: false, reason: `${skill}: ${r.reason}` };
      return { ok: true, scores: { [skill]: r.score }, feedback: r.feedback };
    },
  };
}
