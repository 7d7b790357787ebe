/**
 * How far a run's judges can be trusted, per judge and per skill (flask-eval judge-report RUN):
 * self-consistency across repeated samples (--judge-samples K), agreement with the run's other
 * judges, parse failures and re-asks, N/A rate, cost and time per 1,000 instances. Every
 * statistic is defined in docs/judges.md ("Judge reliability"); CIs are percentile bootstraps over
 * instances.
 */
import { judgeAgreement, itemKey, krippendorffAlpha, type AgreementSummary, type JudgeScore, type Rate } from '../stats/agreement.js';
import { selfConsistency, type SelfConsistency } from '../stats/reliability.js';
import { deriveSeed, mulberry32 } from '../stats/random.js';
import { quantile, type BootstrapOptions } from '../stats/bootstrap.js';
import { loadPriceTable, type PriceTable } from '../cost/pricing.js';
import { runCost } from '../cost/runCost.js';
import { orderSkills } from './instanceScores.js';
import { tableColumns, type Reader } from '../store/reader.js';
import { runJudges, sourceScoresSql, resolveScoreSources, type RunJudge } from './scoreSources.js';
import { countWords, lengthProbe, pairedShift, type LengthProbe, type PairedShift } from '../stats/biasProbes.js';

/** Krippendorff (2004): alpha below 0.667 does not support even tentative conclusions. */
export const LOW_ALPHA = 0.667;
/** Koo & Li (2016): an ICC below 0.5 is poor reliability. */
export const LOW_ICC = 0.5;

interface SkillAgreement {
  /** items (instances) scored by this judge and at least one other */
  items: number;
  /** Krippendorff's alpha (ordinal) of all the run's judges on this skill, with its bootstrap CI */
  alpha: number | null;
  alphaCi: [number, number] | null;
  /** mean of this judge's pairwise Spearman correlations with each other judge */
  spearman: number | null;
  /** pooled over this judge's pairs */
  exact: Rate;
  withinOne: Rate;
}

interface JudgeSkillReliability {
  skill: string;
  /** instances this judge scored on the skill (N/A included) */
  instances: number;
  /** mean of the per-instance scores (the figure reports show) */
  mean: number | null;
  /** share of N/A: per sample when there are samples, else per instance */
  na: Rate;
  /** across samples; null without --judge-samples */
  self: SelfConsistency | null;
  /** with the run's other judges; null when the run has one judge */
  agreement: SkillAgreement | null;
  /**
   * With human labels (import-labels): the judge against each annotator (alpha over the judge and
   * the annotators, mean Spearman and pooled exact / within-one over its pairs with annotators), and
   * the annotators' own alpha (the ceiling a judge can be expected to reach).
   */
  human: { annotators: number; humanAlpha: number | null; judgeHuman: SkillAgreement } | null;
  /** score vs response length, and the length-controlled mean (core/stats/biasProbes.ts) */
  length: LengthProbe;
  /** why the skill is flagged (alpha or ICC below the thresholds); empty when not */
  flags: string[];
}

export interface JudgeReliability {
  judge: RunJudge;
  /** samples per instance (K) */
  samples: number;
  reviews: number;
  /** reviews recorded failed (no parseable answer within the re-ask bound, or the calls failed) */
  failed: Rate;
  /** answers that did not parse and were asked again, per answer needed */
  reasks: Rate;
  calls: number;
  promptTokens: number;
  completionTokens: number;
  /** USD for the judge's calls, undefined when its model has no price */
  usd: number | undefined;
  usdPer1000: number | undefined;
  /** summed call latency per 1,000 instances (seconds of endpoint time) */
  callSecondsPer1000: number | null;
  /** the judge and the evaluated model share a family (from their names): its scores may favour its own kind */
  selfPreference: { judgeFamily: string | null; modelFamily: string | null; flagged: boolean };
  skills: JudgeSkillReliability[];
}

export interface RunReliability {
  runId: string;
  judges: JudgeReliability[];
  bootstrap: Required<BootstrapOptions>;
}

/** Every figure of judge-report for one run. */
export async function judgeReliability(r: Reader, runId: string, bs: Required<BootstrapOptions>, prices: PriceTable = loadPriceTable()): Promise<RunReliability> {
  const judges = await runJudges(r, runId);
  const reviews = await r.all(
    `SELECT v.judge_id, v.status, v.attempts, coalesce(v.samples, 1) AS k, len(i.skills) AS nskills, coalesce(v.judge_profile, 'flask') AS profile
     FROM reviews v JOIN instances i USING (run_id, idx) WHERE v.run_id = ?`, [runId]);
  // Every row set a bootstrap reads is ordered: the same results give the same CIs, whatever order they landed in.
  const scores = await r.all(`SELECT judge_id, idx, skill_key, score FROM scores WHERE run_id = ? ORDER BY judge_id, idx, skill_order, skill_key`, [runId]);
  const samples = await r.all(`SELECT s.judge_id, s.idx, s.skill_key, s.score FROM review_sample_scores s
     JOIN reviews v ON v.run_id = s.run_id AND v.idx = s.idx AND v.judge_id = s.judge_id AND v.status = 'scored' WHERE s.run_id = ?
     ORDER BY s.judge_id, s.idx, s.skill_key, s.sample`, [runId]);
  const latency = await r.all(`SELECT judge_id, coalesce(sum(latency_ms), 0)::DOUBLE AS ms FROM calls WHERE run_id = ? AND step = 'review' GROUP BY judge_id`, [runId]);
  const cost = await runCost(r, runId, prices);
  const [run] = await r.all(`SELECT model_id FROM runs WHERE run_id = ?`, [runId]);
  const labels = (await tableColumns(r, 'human_labels')).size
    ? await r.all(`SELECT idx, annotator, skill_key, score FROM human_labels WHERE run_id = ? AND score IS NOT NULL ORDER BY idx, annotator, skill_key`, [runId]) : [];
  const texts = await r.all(`SELECT i.idx, coalesce(i.answer, '') AS answer, x.text FROM instances i JOIN responses x USING (run_id, idx) WHERE i.run_id = ?`, [runId]);
  const words = new Map(texts.map((t) => [Number(t.idx), { words: countWords(String(t.text)), referenceWords: countWords(String(t.answer)) }]));

  // Per skill, every judge's per-instance score (N/A left out), for agreement.
  const bySkill = new Map<string, JudgeScore[]>();
  for (const s of scores) {
    if (s.score === null) continue;
    const k = String(s.skill_key);
    (bySkill.get(k) ?? bySkill.set(k, []).get(k)!).push({ item: itemKey(Number(s.idx), k), judge: String(s.judge_id), score: Number(s.score) });
  }
  const order = judges.map((j) => j.id);
  const agreementOf = new Map<string, { a: AgreementSummary; ci: [number, number] | null }>();
  if (judges.length > 1) for (const [skill, list] of bySkill) agreementOf.set(skill, { a: judgeAgreement(list, order), ci: alphaCi(list, bs, `${runId}|${skill}`) });

  const out: JudgeReliability[] = judges.map((j) => {
    const mine = reviews.filter((v) => v.judge_id === j.id);
    const scored = mine.filter((v) => v.status === 'scored');
    const k = Math.max(1, ...mine.map((v) => Number(v.k)));
    // Answers needed by a scored review: K samples x its calls (flask 1, prometheus one per skill).
    const needed = scored.reduce((s, v) => s + Number(v.k) * (v.profile === 'prometheus' ? Number(v.nskills) : 1), 0);
    const answers = scored.reduce((s, v) => s + Number(v.attempts), 0);
    const lines = cost.lines.filter((l) => l.judgeId === j.id);
    const usd = lines.some((l) => l.usd === undefined && l.promptTokens + l.completionTokens > 0) ? undefined : lines.reduce((s, l) => s + (l.usd ?? 0), 0);
    const ms = Number(latency.find((x) => x.judge_id === j.id)?.ms ?? 0);
    const myScores = scores.filter((s) => s.judge_id === j.id);
    const mySamples = samples.filter((s) => s.judge_id === j.id);
    const skills = orderSkills(myScores.map((s) => String(s.skill_key))).map((skill): JudgeSkillReliability => {
      const xs = myScores.filter((s) => s.skill_key === skill);
      const numeric = xs.filter((s) => s.score !== null).map((s) => Number(s.score));
      const ss = mySamples.filter((s) => s.skill_key === skill);
      const groups = new Map<number, number[]>();
      for (const s of ss) if (s.score !== null) (groups.get(Number(s.idx)) ?? groups.set(Number(s.idx), []).get(Number(s.idx))!).push(Number(s.score));
      const self = ss.length ? selfConsistency([...groups.values()], bs, `${runId}|${j.id}|${skill}`) : null;
      const naN = ss.length ? ss.length : xs.length;
      const naCount = ss.length ? ss.filter((s) => s.score === null).length : xs.length - numeric.length;
      const ag = agreementOf.get(skill);
      const agreement = ag ? skillAgreementFor(j.id, ag.a, ag.ci) : null;
      const flags: string[] = [];
      if (agreement?.alpha !== null && agreement?.alpha !== undefined && agreement.alpha < LOW_ALPHA) flags.push(`alpha ${agreement.alpha.toFixed(2)} < ${LOW_ALPHA}`);
      if (self?.icc !== null && self?.icc !== undefined && self.icc < LOW_ICC) flags.push(`ICC ${self.icc.toFixed(2)} < ${LOW_ICC}`);
      const labelled: JudgeScore[] = labels.filter((l) => l.skill_key === skill).map((l) => ({ item: itemKey(Number(l.idx), skill), judge: `human:${l.annotator}`, score: Number(l.score) }));
      let human: JudgeSkillReliability['human'] = null;
      if (labelled.length) {
        const mineScored: JudgeScore[] = xs.filter((s) => s.score !== null).map((s) => ({ item: itemKey(Number(s.idx), skill), judge: j.id, score: Number(s.score) }));
        const both = [...mineScored, ...labelled];
        human = {
          annotators: new Set(labelled.map((l) => l.judge)).size,
          humanAlpha: judgeAgreement(labelled).krippendorffAlpha,
          judgeHuman: skillAgreementFor(j.id, judgeAgreement(both, [j.id]), alphaCi(both, bs, `${runId}|${j.id}|${skill}|human`)),
        };
      }
      const points = xs.filter((s) => s.score !== null && words.has(Number(s.idx))).map((s) => ({ score: Number(s.score), ...words.get(Number(s.idx))! }));
      return {
        skill, instances: xs.length, mean: numeric.length ? numeric.reduce((a, b) => a + b, 0) / numeric.length : null,
        na: rate(naCount, naN), self, agreement, human, length: lengthProbe(points, bs, `${runId}|${j.id}|${skill}`), flags,
      };
    });
    return {
      judge: j, samples: k, reviews: mine.length, failed: rate(mine.length - scored.length, mine.length), reasks: rate(Math.max(0, answers - needed), needed),
      calls: lines.reduce((s, l) => s + l.calls, 0), promptTokens: lines.reduce((s, l) => s + l.promptTokens, 0), completionTokens: lines.reduce((s, l) => s + l.completionTokens, 0),
      usd, usdPer1000: usd === undefined || mine.length === 0 ? undefined : (usd / mine.length) * 1000,
      callSecondsPer1000: mine.length ? (ms / 1000 / mine.length) * 1000 : null, skills,
      selfPreference: selfPreference(j.model, run?.model_id == null ? null : String(run.model_id)),
    };
  });
  return { runId, judges: out, bootstrap: bs };
}

function rate(count: number, n: number): Rate {
  return { count, n, rate: n > 0 ? count / n : null };
}

/** This judge's view of the panel's agreement on a skill: the panel's alpha, its own pairs' figures. */
function skillAgreementFor(judge: string, a: AgreementSummary, ci: [number, number] | null): SkillAgreement {
  const pairs = a.pairs.filter((p) => p.a === judge || p.b === judge);
  const rhos = pairs.map((p) => p.spearman).filter((x): x is number => x !== null);
  const sum = (f: (p: (typeof pairs)[number]) => { count: number; n: number }) => pairs.reduce((s, p) => ({ count: s.count + f(p).count, n: s.n + f(p).n }), { count: 0, n: 0 });
  const ex = sum((p) => p.exact);
  const w1 = sum((p) => p.withinOne);
  return {
    items: Math.max(0, ...pairs.map((p) => p.n)), alpha: a.krippendorffAlpha, alphaCi: ci,
    spearman: rhos.length ? rhos.reduce((x, y) => x + y, 0) / rhos.length : null, exact: rate(ex.count, ex.n), withinOne: rate(w1.count, w1.n),
  };
}

/** Percentile bootstrap CI of Krippendorff's alpha, instances resampled (a drawn instance keeps every judge's score). */
function alphaCi(list: readonly JudgeScore[], bs: Required<BootstrapOptions>, label: string): [number, number] | null {
  const byItem = new Map<string, JudgeScore[]>();
  for (const s of list) (byItem.get(s.item) ?? byItem.set(s.item, []).get(s.item)!).push(s);
  // The units judgeAgreement's alpha is computed on: items with at least two judges' scores.
  const units = [...byItem.values()].filter((x) => x.length >= 2).map((x) => x.map((s) => s.score));
  if (units.length < 2) return null;
  const rand = mulberry32(deriveSeed(bs.seed, `alpha|${label}`));
  const alphas: number[] = [];
  const drawn: number[][] = new Array(units.length);
  for (let b = 0; b < bs.resamples; b++) {
    for (let i = 0; i < units.length; i++) drawn[i] = units[Math.floor(rand() * units.length)]!;
    const a = krippendorffAlpha(drawn, 'ordinal');
    if (a !== null) alphas.push(a);
  }
  if (!alphas.length) return null;
  const s = Float64Array.from(alphas).sort();
  return [quantile(s, (1 - bs.level) / 2), quantile(s, 1 - (1 - bs.level) / 2)];
}

/**
 * The judge's own variance shown under a report: per column with samples (--judge-samples K > 1),
 * per skill, the within-instance SD (sqrt of the pooled within-instance variance, as in
 * core/stats/reliability.ts) and K. Columns without samples are left out.
 */
export async function sampleSpread(r: Reader, sources: readonly { label: string; runId: string; judge: RunJudge | null; pooled: boolean }[]): Promise<Array<{ label: string; samples: number; sdBySkill: Map<string, number> }>> {
  const out: Array<{ label: string; samples: number; sdBySkill: Map<string, number> }> = [];
  for (const src of sources) {
    if (src.pooled) continue;
    const rows = await r.all(
      `SELECT skill_key, sqrt(sum(ss) / sum(k - 1)) AS sd, max(k) AS kmax FROM (
         SELECT s.idx, s.skill_key, count(s.score) AS k, coalesce(var_samp(s.score), 0) * (count(s.score) - 1) AS ss
         FROM review_sample_scores s JOIN reviews v ON v.run_id = s.run_id AND v.idx = s.idx AND v.judge_id = s.judge_id AND v.status = 'scored'
         WHERE s.run_id = ?${src.judge ? ' AND s.judge_id = ?' : ''} GROUP BY s.idx, s.skill_key HAVING count(s.score) >= 2)
       GROUP BY skill_key`, [src.runId, ...(src.judge ? [src.judge.id] : [])]);
    if (rows.length === 0) continue;
    out.push({ label: src.label, samples: Math.max(...rows.map((x) => Number(x.kmax))), sdBySkill: new Map(rows.map((x) => [String(x.skill_key), Number(x.sd)])) });
  }
  return out;
}

/** Model families by name (lower case): the self-preference flag compares the judge's and the evaluated model's. */
const FAMILIES: Array<[string, RegExp]> = [
  ['openai', /^(gpt|o\d|chatgpt|davinci|text-davinci|openai)/], ['anthropic', /claude/], ['google', /gemini|bard|palm|gemma/],
  ['meta', /llama/], ['mistral', /mistral|mixtral/], ['alibaba', /qwen/], ['deepseek', /deepseek/], ['prometheus', /prometheus/],
  ['vicuna', /vicuna/], ['tulu', /tulu/], ['wizardlm', /wizardlm/], ['alpaca', /alpaca/], ['flask-offline', /flask-offline/],
];

function modelFamily(name: string | null): string | null {
  if (!name) return null;
  const n = name.toLowerCase().split('/').pop()!;
  return FAMILIES.find(([, re]) => re.test(n))?.[0] ?? null;
}

/** Flagged when both names map to the same known family (gpt-4 judging gpt4's answers). Unknown names are not flagged. */
export function selfPreference(judgeModel: string, evaluatedModel: string | null): JudgeReliability['selfPreference'] {
  const judgeFamily = modelFamily(judgeModel);
  const mf = modelFamily(evaluatedModel);
  return { judgeFamily, modelFamily: mf, flagged: judgeFamily !== null && judgeFamily === mf };
}

export interface OrderProbe {
  given: string;
  reversed: string;
  /** per skill: the mean paired shift reversed − given */
  bySkill: Array<{ skill: string } & PairedShift>;
  /** per position (1-based) the skill had in the given order, over instances with `skills` skills */
  byPosition: Array<{ position: number; skills: number } & PairedShift>;
}

/**
 * The skill-order probe: two runs (or panel columns, RUN@J1) judging the same responses, the second
 * with --skill-order reversed; paired by (instance, skill), N/A left out.
 */
export async function orderProbe(r: Reader, given: string, reversed: string, bs: Required<BootstrapOptions>): Promise<OrderProbe> {
  const sources = await resolveScoreSources(r, [given, reversed]);
  if (sources.length !== 2) throw new Error(`the order probe compares two columns; "${given}" and "${reversed}" give ${sources.length} (name one judge of a panel: RUN@J1)`);
  const from = sourceScoresSql(sources);
  const rows = await r.all(
    `SELECT s.src, s.idx, s.skill_key, s.score, list_position(i.skills, s.skill) AS pos, len(i.skills) AS nskills
     FROM (${from.sql}) s JOIN instances i ON i.run_id = s.run_id AND i.idx = s.idx WHERE s.score IS NOT NULL
     ORDER BY s.src, s.idx, s.skill_key`, from.params);
  const a = new Map<string, { score: number; pos: number; n: number; skill: string }>();
  const pairs: Array<{ skill: string; pos: number; n: number; d: number }> = [];
  for (const x of rows) if (Number(x.src) === 0) a.set(`${x.idx}|${x.skill_key}`, { score: Number(x.score), pos: Number(x.pos), n: Number(x.nskills), skill: String(x.skill_key) });
  for (const x of rows) {
    if (Number(x.src) !== 1) continue;
    const g = a.get(`${x.idx}|${x.skill_key}`);
    if (g) pairs.push({ skill: g.skill, pos: g.pos, n: g.n, d: Number(x.score) - g.score });
  }
  const bySkill = orderSkills(pairs.map((p) => p.skill)).map((skill) => ({ skill, ...pairedShift(pairs.filter((p) => p.skill === skill).map((p) => p.d), bs, `order|${skill}`) }));
  const keys = [...new Set(pairs.map((p) => `${p.n}|${p.pos}`))].sort();
  const byPosition = keys.map((k) => {
    const [n, pos] = k.split('|').map(Number) as [number, number];
    return { position: pos, skills: n, ...pairedShift(pairs.filter((p) => p.n === n && p.pos === pos).map((p) => p.d), bs, `order|${k}`) };
  });
  return { given, reversed, bySkill, byPosition };
}
