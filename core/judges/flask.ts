/** FLASK's own judge: one call scores all of an instance's skills (today's prompt and parser, unchanged). */
import { loadReviewPromptKit, renderReviewPrompt, reviewTemplateName, type ReviewPromptKit } from '../prompts/review.js';
import { parseSkillScores } from '../scoring/parseSkillScores.js';
import type { SkillName } from '../flask/skills.js';
import type { JudgeProfile } from './profile.js';

export function flaskProfile(kit: ReviewPromptKit = loadReviewPromptKit()): JudgeProfile {
  return {
    name: 'flask',
    hash: kit.hash,
    sampling: { temperature: kit.temperature, maxTokens: kit.maxTokens },
    callsPerInstance: () => 1,
    callSkills: (skills) => [[...skills]],
    render: (instance, responseText) => renderReviewPrompt(instance, responseText, kit),
    templateName: (instance) => reviewTemplateName(instance, kit),
    parse: (text, skills) => parseSkillScores(text, typeof skills === 'string' ? [skills as SkillName] : skills),
  };
}
