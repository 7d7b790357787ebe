import type { Database, Sql } from '../core/store/database.js';
import type { ChatProvider } from '../core/provider/provider.js';
import { getRun, type RunRecord, type SamplingSettings } from '../core/store/runs.js';
import { countInstances, getInstance, getResponse, landResponses, type StoredInstance } from '../core/store/instances.js';
import { hasReview, landReview } from '../core/store/reviews.js';
import { getAnnotations, landAnnotation, type AnnotationStage } from '../core/store/annotations.js';
import { workItemsInRange } from '../core/store/workItems.js';
import { renderReviewPrompt } from '../core/prompts/review.js';
import { renderDifficultyPrompt, renderDomainPrompt, renderSkillsetPrompt, skillNumbering, type AnnotationPrompt } from '../core/prompts/annotation.js';
import { parseSkillScores } from '../core/scoring/parseSkillScores.js';
import { parseDifficultyAnswer, parseDomainAnswer, parseSkillsetAnswer } from '../core/scoring/parseAnnotation.js';
import type { ChatMessage } from '../core/prompts/chat.js';
import type { SkillName } from '../core/skills.js';
import type { ControlActivities, StepActivities } from '../workflows/activityTypes.js';
import type { StepInput, StepResult } from '../workflows/types.js';
import { askUntilParsed } from './parseLoop.js';
import { callModel } from './callModel.js';
import { withHeartbeats } from './heartbeat.js';

export interface ActivityDeps {
  db: Database;
  /** The endpoint that judges and annotates. */
  judge: ChatProvider;
  /** The endpoint of the model being evaluated. */
  model: ChatProvider;
}

const DEFAULT_PARSE_ATTEMPTS = 3;

/**
 * All activities, as plain async functions over their dependencies (tests pass fakes).
 * Every step activity is idempotent: it first checks whether its result already landed, and
 * lands with ON CONFLICT DO NOTHING, so a retry after a crash neither pays nor writes twice.
 */
export function createActivities(deps: ActivityDeps): ControlActivities & StepActivities {
  const { db } = deps;
  const runs = new Map<string, RunRecord>();

  async function runOf(sql: Sql, runId: string): Promise<RunRecord> {
    let run = runs.get(runId);
    if (!run) {
      run = await getRun(sql, runId);
      if (!run) throw new Error(`run "${runId}" is not in ${db.file}`);
      runs.set(runId, run);
    }
    return run;
  }

  function settingsOf(s: SamplingSettings | null, what: string): SamplingSettings {
    if (!s) throw new Error(`the run has no ${what} settings`);
    return s;
  }

  async function annotateStage(
    input: StepInput,
    stage: AnnotationStage,
    render: (inst: StoredInstance, earlier: Awaited<ReturnType<typeof getAnnotations>>, run: RunRecord) => { prompt: AnnotationPrompt; numbering?: SkillName[] } | { missing: string },
    parse: (text: string, numbering?: SkillName[]) => { ok: true; value: unknown } | { ok: false; reason: string },
  ): Promise<StepResult> {
    const ctx = await db.run(async (sql) => {
      const earlier = await getAnnotations(sql, input.runId, input.idx);
      if (earlier[stage]) return null;
      return { run: await runOf(sql, input.runId), instance: await getInstance(sql, input.runId, input.idx), earlier };
    });
    if (!ctx) return { status: 'skipped', tokens: 0, calls: 0 };
    if (!ctx.instance) throw new Error(`instance ${input.idx} is not in run ${input.runId}`);
    const startedAt = new Date().toISOString();
    const rendered = render(ctx.instance, ctx.earlier, ctx.run);
    if ('missing' in rendered) {
      await db.run((sql) => landAnnotation(sql, input.runId, failedAnnotation(input.idx, stage, rendered.missing, startedAt)));
      return { status: 'failed', tokens: 0, calls: 0, reason: rendered.missing };
    }
    const settings = settingsOf(ctx.run.judgeSettings, 'annotator');
    const outcome = await askUntilParsed(
      deps.judge,
      ctx.run.judgeModel!,
      {
        messages: rendered.prompt.messages,
        temperature: settings.override ? settings.temperature : rendered.prompt.temperature,
        maxTokens: settings.override ? settings.maxTokens : rendered.prompt.maxTokens,
        seed: settings.seed,
      },
      settings.maxParseAttempts ?? DEFAULT_PARSE_ATTEMPTS,
      (text) => parse(text, rendered.numbering),
    );
    await db.run((sql) =>
      landAnnotation(sql, input.runId, {
        idx: input.idx, stage, status: outcome.ok ? 'labelled' : 'failed', label: outcome.ok ? outcome.value : null,
        rawText: outcome.rawText, error: outcome.ok ? null : outcome.reason!, numbering: rendered.numbering ?? null,
        promptTokens: outcome.promptTokens, completionTokens: outcome.completionTokens, attempts: outcome.attempts,
        startedAt, finishedAt: new Date().toISOString(),
      }),
    );
    return {
      status: outcome.ok ? 'done' : 'failed', tokens: outcome.promptTokens + outcome.completionTokens, calls: outcome.attempts,
      ...(outcome.ok ? {} : { reason: outcome.reason }),
    };
  }

  return {
    async countWorkItems(runId) {
      return db.run((sql) => countInstances(sql, runId));
    },

    async listWorkItems({ runId, steps, fromOrd, toOrd }) {
      return db.run((sql) => workItemsInRange(sql, runId, steps, fromOrd, toOrd));
    },

    async recordStepFailure({ runId, idx, step, reason }) {
      const now = new Date().toISOString();
      await db.run(async (sql) => {
        if (step === 'generate') {
          await sql.exec(`INSERT INTO generation_failures (run_id, idx, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, [runId, idx, reason]);
        } else if (step === 'review') {
          const run = await runOf(sql, runId);
          await landReview(sql, runId, {
            idx, status: 'failed', judgeModel: run.judgeModel ?? '', rawText: null, error: reason, scores: {},
            promptTokens: 0, completionTokens: 0, attempts: 0, startedAt: now, finishedAt: now,
          });
        } else {
          await landAnnotation(sql, runId, failedAnnotation(idx, step, reason, now));
        }
      });
    },

    async generateResponse(input) {
      const ctx = await db.run(async (sql) => {
        if (await getResponse(sql, input.runId, input.idx)) return null;
        return { run: await runOf(sql, input.runId), instance: await getInstance(sql, input.runId, input.idx) };
      });
      if (!ctx) return { status: 'skipped', tokens: 0, calls: 0 };
      if (!ctx.instance) throw new Error(`instance ${input.idx} is not in run ${input.runId}`);
      const settings = settingsOf(ctx.run.modelSettings, 'model');
      const messages: ChatMessage[] = [
        ...(settings.systemPrompt ? [{ role: 'system' as const, content: settings.systemPrompt }] : []),
        { role: 'user', content: ctx.instance.instruction },
      ];
      const res = await withHeartbeats(() => null, () =>
        callModel(deps.model, ctx.run.modelId!, { messages, temperature: settings.temperature, maxTokens: settings.maxTokens, seed: settings.seed }),
      );
      // Empty, truncated or refusing answers are data: they land and get judged like any other.
      await db.run((sql) =>
        landResponses(sql, input.runId, [{
          idx: input.idx, modelId: ctx.run.modelId!, text: res.text, source: 'generated', finishReason: res.finishReason,
          promptTokens: res.promptTokens, completionTokens: res.completionTokens,
        }]),
      );
      return { status: 'done', tokens: res.promptTokens + res.completionTokens, calls: 1 };
    },

    async reviewResponse(input) {
      const ctx = await db.run(async (sql) => {
        if (await hasReview(sql, input.runId, input.idx)) return null;
        return {
          run: await runOf(sql, input.runId),
          instance: await getInstance(sql, input.runId, input.idx),
          response: await getResponse(sql, input.runId, input.idx),
        };
      });
      if (!ctx) return { status: 'skipped', tokens: 0, calls: 0 };
      if (!ctx.instance) throw new Error(`instance ${input.idx} is not in run ${input.runId}`);
      const startedAt = new Date().toISOString();
      const settings = settingsOf(ctx.run.judgeSettings, 'judge');
      if (!ctx.response || ctx.instance.skills.length === 0) {
        const reason = !ctx.response ? 'no response to review' : 'instance has no skills to score';
        await db.run((sql) =>
          landReview(sql, input.runId, {
            idx: input.idx, status: 'failed', judgeModel: ctx.run.judgeModel!, rawText: null, error: reason, scores: {},
            promptTokens: 0, completionTokens: 0, attempts: 0, startedAt, finishedAt: startedAt,
          }),
        );
        return { status: 'failed', tokens: 0, calls: 0, reason };
      }
      const skills = ctx.instance.skills;
      const outcome = await askUntilParsed(
        deps.judge,
        ctx.run.judgeModel!,
        { messages: renderReviewPrompt(ctx.instance, ctx.response.text), temperature: settings.temperature, maxTokens: settings.maxTokens, seed: settings.seed },
        settings.maxParseAttempts ?? DEFAULT_PARSE_ATTEMPTS,
        (text) => {
          const p = parseSkillScores(text, skills);
          return p.ok ? { ok: true, value: p.scores } : p;
        },
      );
      await db.run((sql) =>
        landReview(sql, input.runId, {
          idx: input.idx, status: outcome.ok ? 'scored' : 'failed', judgeModel: ctx.run.judgeModel!, rawText: outcome.rawText,
          error: outcome.ok ? null : outcome.reason!, scores: outcome.value ?? {}, promptTokens: outcome.promptTokens,
          completionTokens: outcome.completionTokens, attempts: outcome.attempts, startedAt, finishedAt: new Date().toISOString(),
        }),
      );
      return {
        status: outcome.ok ? 'done' : 'failed', tokens: outcome.promptTokens + outcome.completionTokens, calls: outcome.attempts,
        ...(outcome.ok ? {} : { reason: outcome.reason }),
      };
    },

    annotateDomain(input) {
      return annotateStage(input, 'domain', (inst) => ({ prompt: renderDomainPrompt(inst.instruction) }), (t) => parseDomainAnswer(t));
    },

    annotateSkillset(input) {
      return annotateStage(
        input,
        'skillset',
        (inst, _earlier, run) => {
          const numbering = skillNumbering(Number(run.summary.skillShuffleSeed ?? 0), inst.idx);
          return { prompt: renderSkillsetPrompt(inst.instruction, inst.answer || undefined, numbering), numbering };
        },
        (t, numbering) => {
          const p = parseSkillsetAnswer(t, numbering!);
          return p.ok ? { ok: true, value: p.value.skills } : p;
        },
      );
    },

    annotateDifficulty(input) {
      return annotateStage(
        input,
        'difficulty',
        (inst, earlier) => {
          const domain = earlier.domain;
          if (!domain || domain.status !== 'labelled') return { missing: 'the domain stage has no label for this instance' };
          return { prompt: renderDifficultyPrompt(inst.instruction, domain.label as string[]) };
        },
        (t) => parseDifficultyAnswer(t),
      );
    },
  };
}

function failedAnnotation(idx: number, stage: AnnotationStage, reason: string, at: string) {
  return {
    idx, stage, status: 'failed' as const, label: null, rawText: null, error: reason, numbering: null,
    promptTokens: 0, completionTokens: 0, attempts: 0, startedAt: at, finishedAt: at,
  };
}
