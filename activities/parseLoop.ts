import { Context } from '@temporalio/activity';
import type { ChatRequest } from '../core/prompts/chat.js';
import type { ChatProvider } from '../core/provider/provider.js';
import { callModel } from './callModel.js';

export interface AskOutcome<T> {
  ok: boolean;
  value?: T;
  reason?: string;
  rawText: string;
  attempts: number;
  promptTokens: number;
  completionTokens: number;
}

interface Carried {
  attempts: number;
  promptTokens: number;
  completionTokens: number;
  reason?: string;
  rawText?: string;
}

/**
 * Ask a model and parse its answer; an unparseable answer is asked again, at most `maxAttempts`
 * times in all. What was already spent is heartbeated, so when Temporal retries this activity
 * after a 429 or a crash, earlier parse attempts still count toward the bound and the tokens.
 */
export async function askUntilParsed<T>(
  provider: ChatProvider,
  model: string,
  request: ChatRequest,
  maxAttempts: number,
  parse: (text: string) => { ok: true; value: T } | { ok: false; reason: string },
): Promise<AskOutcome<T>> {
  const carried = (inActivity() ? (Context.current().info.heartbeatDetails as Carried | undefined) : undefined) ?? {
    attempts: 0, promptTokens: 0, completionTokens: 0,
  };
  const state: Carried = { ...carried };
  while (state.attempts < maxAttempts) {
    const res = await callModel(provider, model, request);
    state.attempts += 1;
    state.promptTokens += res.promptTokens;
    state.completionTokens += res.completionTokens;
    state.rawText = res.text;
    if (inActivity()) Context.current().heartbeat(state);
    const parsed = parse(res.text);
    if (parsed.ok) return { ok: true, value: parsed.value, rawText: res.text, attempts: state.attempts, promptTokens: state.promptTokens, completionTokens: state.completionTokens };
    state.reason = parsed.reason;
  }
  return {
    ok: false,
    reason: `unparseable answer after ${state.attempts} attempt(s): ${state.reason ?? 'unknown'}`,
    rawText: state.rawText ?? '',
    attempts: state.attempts,
    promptTokens: state.promptTokens,
    completionTokens: state.completionTokens,
  };
}

function inActivity(): boolean {
  try {
    Context.current();
    return true;
  } catch {
    return false;
  }
}
