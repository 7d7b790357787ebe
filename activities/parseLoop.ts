import { Context } from '@temporalio/activity';
import type { ChatRequest } from '../core/prompts/chat.js';
import type { ChatProvider } from '../core/provider/provider.js';
import { callModel } from './callModel.js';
import { withHeartbeats } from './heartbeat.js';

export interface AskOutcome<T> {
  ok: boolean;
  value?: T;
  reason?: string;
  rawText: string;
  attempts: number;
  promptTokens: number;
  completionTokens: number;
}

/** What earlier attempts of this activity spent: carried in heartbeat details across retries. */
interface Spent {
  attempts: number;
  promptTokens: number;
  completionTokens: number;
  reason?: string;
  rawText?: string;
}

function carriedOver(): Spent | undefined {
  try {
    return Context.current().info.heartbeatDetails as Spent | undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ask a model and parse its answer; an unparseable answer is asked again, at most `maxAttempts`
 * times in all. What was spent is heartbeated, so when Temporal retries this activity after a
 * 429 or a crash, earlier parse attempts still count toward the bound and the token totals.
 */
export async function askUntilParsed<T>(
  provider: ChatProvider,
  model: string,
  request: ChatRequest,
  maxAttempts: number,
  parse: (text: string) => { ok: true; value: T } | { ok: false; reason: string },
): Promise<AskOutcome<T>> {
  const spent: Spent = { attempts: 0, promptTokens: 0, completionTokens: 0, ...carriedOver() };
  while (spent.attempts < maxAttempts) {
    const res = await withHeartbeats(() => spent, () => callModel(provider, model, request));
    spent.attempts += 1;
    spent.promptTokens += res.promptTokens;
    spent.completionTokens += res.completionTokens;
    spent.rawText = res.text;
    const parsed = parse(res.text);
    if (parsed.ok) {
      return { ok: true, value: parsed.value, rawText: res.text, attempts: spent.attempts, promptTokens: spent.promptTokens, completionTokens: spent.completionTokens };
    }
    spent.reason = parsed.reason;
  }
  return {
    ok: false,
    reason: `unparseable answer after ${spent.attempts} attempt(s): ${spent.reason ?? 'unknown'}`,
    rawText: spent.rawText ?? '',
    attempts: spent.attempts,
    promptTokens: spent.promptTokens,
    completionTokens: spent.completionTokens,
  };
}
