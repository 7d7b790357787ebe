import type OpenAI from 'openai';
import type { ChatRequest } from '../prompts/chat.js';

/** What one chat completion gave back: all the pipeline needs, whatever the vendor. */
export interface ChatResult {
  text: string;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  /** The model name the endpoint says answered (may differ from the one asked for). */
  model: string;
  /** The endpoint identified itself as simulated (the offline server's `x-flask-simulated` header). */
  simulated: boolean;
  /** Rate-limit headers (x-ratelimit-*), for the limiter. */
  rateHeaders: Record<string, string>;
}

/** What a preflight learned about an endpoint before a run starts. */
export interface EndpointProbe {
  simulated: boolean;
  /** Model ids the endpoint lists (empty when it does not list any). */
  models: string[];
}

/**
 * The one interface through which every model call goes (judge, evaluated model, annotator).
 * Implementations throw ProviderError so that the activity layer can tell Temporal whether and
 * when to retry.
 */
/** Per call: its timeout, and a signal that abandons it (the server sees the hang-up and can stop). */
export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ChatProvider {
  complete(model: string, request: ChatRequest, opts?: CallOptions): Promise<ChatResult>;
  /** One cheap call that checks the endpoint answers and accepts the key (GET /models). */
  probe(timeoutMs?: number): Promise<EndpointProbe>;
  /**
   * OpenAI's Files + Batch API at this endpoint (`--batch`), for providers that speak it: the
   * openai SDK's own resources, so batch mode needs no second client and no second key.
   */
  readonly batchApi?: BatchApi;
}

/** The parts of the openai SDK's client that batch mode uses. */
export type BatchApi = Pick<OpenAI, 'files' | 'batches'>;

/** Why a call failed, in the terms retries care about. */
export type ProviderErrorKind = 'rate_limit' | 'server' | 'timeout' | 'connection' | 'auth' | 'bad_request' | 'not_found';

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status?: number,
    /** From a 429's Retry-After (or retry-after-ms) header. */
    readonly retryAfterMs?: number,
    /** Rate-limit headers sent with the error, for the limiter. */
    readonly rateHeaders: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ProviderError';
  }

  get retryable(): boolean {
    return this.kind === 'rate_limit' || this.kind === 'server' || this.kind === 'timeout' || this.kind === 'connection';
  }
}
