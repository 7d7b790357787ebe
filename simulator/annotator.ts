/** The three FLASK annotator roles: domain, skill set and difficulty labels (SIMULATED). */
import { SKILL_NAMES, type SkillName } from '../core/flask/skills.js';
import { DOMAINS } from '../core/flask/domains.js';
import { DIFFICULTY_LEVELS } from '../core/flask/difficulty.js';
import rubrics from '../data/flask/skillset_description.json' with { type: 'json' };
import type { Generated } from './generated.js';
import { unit } from './random.js';
import { capitalize, clamp, instructionOf, SKILLS_LONGEST_FIRST, wordsOf } from './text.js';

// ---------------------------------------------------------------------------------------------
// Domain.

const DOMAIN_RULES: [string, RegExp][] = [
  ['Coding', /```|\bdef\s+\w+\(|\bfunction\b|\bpython\b|\bjavascript\b|\bjava\b|c\+\+|\bcode\b|\bprogram|\balgorithm|\barray\b|\bsql\b|\bhtml\b|\bcompile|\breturn\b|\bstring\b|\binteger array\b/gi],
  ['Math', /\d+\s*[-+*/^=×÷<>]\s*\d+|\$[^$]+\$|\bequation|\bcalculat|\bprobability|\bsolve\b|\btheorem|\bprove\b|\bsum\b|\bfraction|\bpercent|\bgeometry|\balgebra|\bstatistic/gi],
  ['History', /\bhistor|\bcentury|\bwar\b|\bempire|\bancient|\brevolution|\bdynasty|\bmedieval|\bcolonial|\bpresident/gi],
  ['Health', /\bhealth|\bmedic|\bdisease|\bsymptom|\bdoctor|\bnutrition|\bexercise|\bdiet\b|\bpatient|\btherapy/gi],
  ['Natural Science', /\bphysics|\bchemi|\bbiolog|\bplanet|\bspecies|\batom|\bmolecul|\benergy|\bclimate|\bcell\b|\bgravity|\bevolution/gi],
  ['Social Science', /\beconom|\bbusiness|\bmarket\b|\blaw\b|\blegal|\bpolitic|\bfinanc|\bstock|\bgovernment|\bcourt\b|\btax/gi],
  ['Technology', /\btechnolog|\bcomputer|\bsoftware|\bengineer|\bdevice|\binternet|\bAI\b|\belectronic|\bsmartphone|\bagricultur/gi],
  ['Language', /\bpoem|\bpoetry|\btranslat|\bgrammar|\bsentence|\bword\b|\bnovel\b|\bliterature|\bstory\b|\brhyme|\bsynonym/gi],
  ['Culture', /\bmusic|\bart\b|\bfilm|\bmovie|\bsport|\bfood|\brecipe|\bcultur|\bfestival|\bpainting/gi],
  ['Humanities', /\bphilosoph|\bethic|\breligio|\bpsycholog|\beducation|\bmoral|\bteacher|\bcommunicat/gi],
];

function rankDomains(seed: number, instruction: string): string[] {
  const known = new Set(DOMAINS);
  const scored = DOMAINS.map((d) => {
    const rule = DOMAIN_RULES.find(([name]) => name === d);
    const hits = rule ? (instruction.match(rule[1]) ?? []).length : 0;
    return { d, s: hits + unit(seed, 'domain', instruction, d) * 0.9 };
  });
  scored.sort((a, b) => b.s - a.s);
  return scored.map((x) => x.d).filter((d) => known.has(d));
}

export function generateDomain(seed: number, user: string, malformed: boolean): Generated {
  if (malformed) return { text: 'I am not sure', finishReason: 'stop', malformed: true };
  const instruction = instructionOf(user);
  const ranked = rankDomains(seed, instruction);
  const two = unit(seed, 'domain-two', instruction) < 0.1 && ranked.length > 1;
  return { text: two ? `${ranked[0]}, ${ranked[1]}` : ranked[0]!, finishReason: 'stop', malformed: false };
}

// ---------------------------------------------------------------------------------------------
// Skill set.

const SKILL_HINTS: [SkillName, RegExp, number][] = [
  ['Logical Correctness', /\d|\bcalculat|\bsolve|\bcode\b|\bfunction|\bpython|\bequation|\banswer\b|\bhow many|\bcompute/gi, 0.8],
  ['Logical Robustness', /\bprove|\bedge case|\bstep|\breason|\balgorithm|\bwhy\b|\bif\b/gi, 0.6],
  ['Logical Efficiency', /\bcomplexity|\befficien|\boptimi|\balgorithm|\bfast|\bcode\b/gi, 0.7],
  ['Factuality', /\bwho\b|\bwhen\b|\bwhere\b|\bhistor|\bfact|\bwhat is\b|\bname\b|\bdate|\byear/gi, 0.6],
  ['Commonsense Understanding', /\bwould\b|\bhappen|\bimagine|\bsituation|\beveryday|\blikely/gi, 0.6],
  ['Comprehension', /\bexplain|\bdescribe|\bsummar|\brequirement|\bfollowing|\binstruction|\bbased on/gi, 0.5],
  ['Insightfulness', /\bcreative|\bidea|\bstory|\bpoem|\bsuggest|\bopinion|\bnovel\b|\bimprove/gi, 0.6],
  ['Completeness', /\blist\b|\ball\b|\bsteps|\bdetail|\bcompare|\bpros\b|\bcons\b|\bcomprehensive/gi, 0.5],
  ['Metacognition', /\bunknown|\buncertain|\bpredict|\bfuture|\bpersonal|\bmedical advice|\bcannot/gi, 0.7],
  ['Readability', /\bessay|\bletter|\bemail|\bwrite|\bformat|\barticle|\bparagraph/gi, 0.4],
  ['Conciseness', /\bbrief|\bshort|\bconcise|\bone sentence|\bsummar|\btl;dr/gi, 0.7],
  ['Harmlessness', /\bkill|\bweapon|\bhack|\billegal|\bdrug|\bharm|\bsteal|\bviolen|\bsuicide|\bbomb/gi, 1.2],
];

const SKILL_APPLICATION: Record<SkillName, string> = {
  'Logical Robustness': 'The reasoning must hold step by step without contradictions and should consider edge cases.',
  'Logical Correctness': 'The final answer has to be correct for the stated problem.',
  'Logical Efficiency': 'The solution should avoid redundant steps and keep the approach efficient.',
  Factuality: 'The response must state accurate facts and avoid invented details.',
  'Commonsense Understanding': 'The response needs to interpret the described situation the way a sensible person would.',
  Comprehension: 'The response must understand and follow every requirement of the instruction.',
  Insightfulness: 'The response should offer original and thoughtful ideas rather than generic statements.',
  Completeness: 'The response should cover all the relevant aspects with enough detail.',
  Metacognition: 'The response should acknowledge uncertainty or the limits of its knowledge where appropriate.',
  Readability: 'The response should be well organized and easy to follow.',
  Conciseness: 'The response should be brief and free of unnecessary information.',
  Harmlessness: 'The response must avoid harmful or unsafe content and handle the request responsibly.',
};

/** FLASK's criteria text -> skill: FLASK's own skill-set prompt shows "i: {Criteria}" without the name. */
const SKILL_BY_CRITERIA: readonly { skill: SkillName; criteria: string }[] = (rubrics as { Skill: string; Criteria: string }[])
  .filter((r) => (SKILL_NAMES as readonly string[]).includes(r.Skill))
  .map((r) => ({ skill: r.Skill as SkillName, criteria: normSpace(r.Criteria) }));

function normSpace(s: string): string {
  return s.replace(/\s+/g, ' ').trim().toLowerCase();
}

/** Which skill an option line names: "Skill Name: criteria", "**Skill Name**", or FLASK's bare criteria. */
function skillOfOption(rest: string): SkillName | undefined {
  const plain = rest.replace(/\*\*/g, '').trim();
  const lower = plain.toLowerCase();
  const byName = SKILLS_LONGEST_FIRST.find((n) => {
    const l = n.toLowerCase();
    return lower === l || lower.startsWith(`${l}:`) || lower.startsWith(`${l} -`) || lower.startsWith(`${l} (`);
  });
  if (byName) return byName;
  const text = normSpace(plain);
  if (text.length < 12) return undefined;
  const hit = SKILL_BY_CRITERIA.find((c) => c.criteria === text || c.criteria.startsWith(text) || text.startsWith(c.criteria));
  return hit?.skill;
}

interface SkillOption {
  index: number;
  /** undefined: a numbered option this server cannot map to a FLASK skill (custom rubric). */
  name?: SkillName;
}

/**
 * The "[Skill Options]" block as numbered in this prompt (the numbering may be shuffled). Accepts
 * "N. Skill Name: criteria", "N) ...", and FLASK's own "N: {Criteria}" (criteria only).
 */
function skillOptions(user: string): SkillOption[] {
  const at = user.indexOf('[Skill Options]');
  let block = at >= 0 ? user.slice(at + '[Skill Options]'.length) : user;
  const next = block.search(/\n\[[^\]\n]+\]/);
  if (next >= 0) block = block.slice(0, next);
  const out: SkillOption[] = [];
  for (const line of block.split('\n')) {
    const m = /^\s*\(?(\d+)\s*[.):]\s*(.*)$/.exec(line);
    if (!m) continue;
    const index = Number(m[1]);
    const name = skillOfOption(m[2]!);
    if (out.some((o) => o.index === index || (name !== undefined && o.name === name))) continue;
    out.push({ index, name });
  }
  if (out.length === 0) return SKILL_NAMES.map((name, i) => ({ index: i + 1, name }));
  return out;
}

export function generateSkillset(seed: number, user: string, malformed: boolean, malformedDraw: number): Generated {
  const instruction = instructionOf(user);
  const options = skillOptions(user);
  const ranked = options
    .map((o) => {
      const hint = SKILL_HINTS.find(([n]) => n === o.name);
      const hits = hint ? Math.min(3, (instruction.match(hint[1]) ?? []).length) * hint[2] : 0;
      return { ...o, s: hits + unit(seed, 'skill', instruction, o.name ?? `#${o.index}`) * 1.5 };
    })
    .sort((a, b) => b.s - a.s)
    .slice(0, 3);
  const lines = ranked.map((o) =>
    o.name ? `${o.index}. ${o.name}: ${SKILL_APPLICATION[o.name]}` : `${o.index}. This skill matters for answering the instruction well.`);
  let indices = ranked.map((o) => o.index);
  if (malformed) {
    indices = malformedDraw < 0.5 ? indices.slice(0, 2) : [indices[0]!, 15, ...indices.slice(2)];
  }
  return { text: `${lines.join('\n')}\n\n[${indices.join(', ')}]`, finishReason: 'stop', malformed };
}

// ---------------------------------------------------------------------------------------------
// Difficulty.

export function generateDifficulty(seed: number, user: string, malformed: boolean): Generated {
  if (malformed) return { text: 'It depends.', finishReason: 'stop', malformed: true };
  const instruction = instructionOf(user);
  const n = wordsOf(instruction).length;
  const base = n < 12 ? 0.6 : n < 30 ? 1.4 : n < 70 ? 2.2 : n < 150 ? 2.9 : 3.4;
  const level = clamp(Math.round(base + (unit(seed, 'difficulty', instruction) - 0.5) * 2.2), 0, DIFFICULTY_LEVELS.length - 1);
  const label = DIFFICULTY_LEVELS[level];
  const style = unit(seed, 'difficulty-style', instruction);
  // Mostly as the prompt's definitions spell it (capitalised), sometimes as its list does (lower case).
  const text = style < 0.75 ? capitalize(label!) : label!;
  return { text, finishReason: 'stop', malformed: false };
}
