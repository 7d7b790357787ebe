import type { Sql } from '../../core/store/database.js';
import { landResults } from '../../core/store/landResults.js';
import type { SkillName } from '../../core/flask/skills.js';
import type { SkillScore } from '../../core/scoring/parseSkillScores.js';
import type { StepOutcome } from '../../core/pipeline.js';

/** A judge's review as a report fixture states it: the rest of a landed row is filled in. */
export interface ReviewFixture {
  idx: number;
  status: 'scored' | 'failed';
  scores: Partial<Record<SkillName, SkillScore>>;
  rawText?: string;
  error?: string | null;
  judgeModel?: string;
  promptTokens?: number;
  completionTokens?: number;
  attempts?: number;
}

/**
 * Lands one review through the production path (landResults, as the store activity does), so
 * report tests stand on the rows a run really writes: provenance, judge id, a call record.
 */
export async function landReview(sql: Sql, runId: string, r: ReviewFixture, judge: { baseUrl?: string; simulated?: boolean } = {}): Promise<boolean> {
  const at = '2026-01-01T00:00:00Z';
  const outcome: StepOutcome = {
    idx: r.idx, status: r.status === 'scored' ? 'done' : 'failed', text: r.rawText ?? '', value: r.status === 'scored' ? r.scores : undefined,
    error: r.error ?? (r.status === 'failed' ? 'failed' : undefined), attempts: r.attempts ?? 1, promptTokens: r.promptTokens ?? 1, completionTokens: r.completionTokens ?? 1,
    servedModel: r.judgeModel ?? 'j', simulated: judge.simulated ?? true, startedAt: at, finishedAt: '2026-01-01T00:00:01Z',
    calls: [{ callNo: 1, outcome: 'ok', httpStatus: 200, promptTokens: r.promptTokens ?? 1, completionTokens: r.completionTokens ?? 1, latencyMs: 1000, resent: false, startedAt: at }],
  };
  const endpoint = { id: 'fixture', baseUrl: judge.baseUrl ?? 'offline:seed=0', model: r.judgeModel ?? 'j', queue: 'fixture' };
  const { landed } = await landResults(sql, runId, 'review', endpoint, [outcome]);
  return landed === 1;
}
