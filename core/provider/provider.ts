import type { ChatRequest } from '../prompts/chat.js';

/** What one chat completion gave back: all the pipeline needs, whatever the vendor. */
export interface ChatResult {
  text: string;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  model: string;
}

/**
 * The one interface through which every model call goes (judge, evaluated model, annotator).
 * Implementations throw ProviderError so that the activity layer can tell Temporal whether and
 * when to retry.
 */
export interface ChatProvider {
  complete(model: string, request: ChatRequest): Promise<ChatResult>;
}

/** Why a call failed, in the terms retries care about. */
export type ProviderErrorKind = 'rate_limit' | 'server' | 'timeout' | 'connection' | 'auth' | 'bad_request' | 'not_found';

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status?: number,
    /** From a 429's Retry-After (or retry-after-ms) header. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }

  get retryable(): boolean {
    return this.kind === 'rate_limit' || this.kind === 'server' || this.kind === 'timeout' || this.kind === 'connection';
  }
}
