import { ApplicationFailure } from '@temporalio/activity';
import type { ChatRequest } from '../core/prompts/chat.js';
import { ProviderError, type ChatProvider, type ChatResult } from '../core/provider/provider.js';

/**
 * One model call, with provider errors turned into the failures Temporal's retry policy acts on:
 * 429/5xx/timeouts/connection errors retry with backoff (a 429's Retry-After becomes the next
 * retry delay); 400/401/403/404 are non-retryable, with the provider's message.
 */
export async function callModel(provider: ChatProvider, model: string, request: ChatRequest): Promise<ChatResult> {
  try {
    return await provider.complete(model, request);
  } catch (e) {
    if (e instanceof ProviderError) {
      throw ApplicationFailure.create({
        type: `ProviderError.${e.kind}`,
        message: e.message,
        nonRetryable: !e.retryable,
        ...(e.retryAfterMs !== undefined ? { nextRetryDelay: Math.max(1, Math.ceil(e.retryAfterMs)) } : {}),
      });
    }
    throw e;
  }
}
