import OpenAI from 'openai';
import type { ChatRequest } from '../prompts/chat.js';
import { OPENAI_BASE_URL } from './endpoint.js';
import { ProviderError, type BatchApi, type ChatProvider, type ChatResult, type EndpointProbe, type CallOptions } from './provider.js';

export interface OpenAIProviderOptions {
  apiKey: string;
  baseURL?: string;
  timeoutMs?: number;
}

/** Seconds or an HTTP date, as RFC 9110 allows; OpenAI also sends retry-after-ms. */
export function parseRetryAfter(headers: Headers | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const v = headers.get('retry-after');
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v) * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The x-ratelimit-* headers (OpenAI's names; vLLM and others may send none). */
function rateHeadersOf(headers: Headers | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  headers?.forEach((v, k) => { if (k.startsWith('x-ratelimit-')) out[k] = v; });
  return out;
}

const SIMULATED_HEADER = 'x-flask-simulated';

/** The chat-completions body of a request: every sampling setting it carries (top_p and seed only when set). */
export function chatBody(model: string, request: ChatRequest) {
  return {
    model,
    messages: request.messages,
    temperature: request.temperature,
    max_tokens: request.maxTokens,
    ...(request.topP !== undefined ? { top_p: request.topP } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
  };
}

/** Map the SDK's error classes onto the kinds retries care about. */
function classifyOpenAIError(e: unknown, baseURL: string): ProviderError {
  if (e instanceof OpenAI.APIConnectionTimeoutError) return new ProviderError('timeout', `request to ${baseURL} timed out`);
  if (e instanceof OpenAI.APIUserAbortError) return new ProviderError('connection', `request to ${baseURL} abandoned (its chunk was cancelled or its worker is stopping)`);
  if (e instanceof OpenAI.APIConnectionError) return new ProviderError('connection', `cannot connect to ${baseURL}: ${e.message}`);
  if (e instanceof OpenAI.APIError) {
    const status = e.status ?? 0;
    const detail = e.message;
    if (status === 429) return new ProviderError('rate_limit', `rate limited by ${baseURL} (429): ${detail}`, status, parseRetryAfter(e.headers), rateHeadersOf(e.headers));
    if (status === 401 || status === 403)
      return new ProviderError('auth', `${baseURL} rejected the API key (${status}): ${detail}. Check OPENAI_API_KEY / FLASK_MODEL_API_KEY for this endpoint.`, status);
    if (status === 404) return new ProviderError('not_found', `${baseURL} answered 404: ${detail}. Check the model name and base URL (it usually ends in /v1).`, status);
    if (status === 408 || status === 409 || status >= 500) return new ProviderError('server', `${baseURL} answered ${status}: ${detail}`, status);
    return new ProviderError('bad_request', `${baseURL} rejected the request (${status}): ${detail}`, status);
  }
  return new ProviderError('connection', `call to ${baseURL} failed: ${(e as Error)?.message ?? String(e)}`);
}

/**
 * Any OpenAI-compatible endpoint through the official SDK. The SDK's own retries are off:
 * Temporal retries activities, and two retry layers would multiply attempts and cost.
 */
export class OpenAIProvider implements ChatProvider {
  private readonly client: OpenAI;
  private readonly baseURL: string;

  constructor(opts: OpenAIProviderOptions) {
    this.baseURL = opts.baseURL ?? OPENAI_BASE_URL;
    this.client = new OpenAI({ apiKey: opts.apiKey, baseURL: this.baseURL, maxRetries: 0, timeout: opts.timeoutMs ?? 120_000 });
  }

  get batchApi(): BatchApi {
    return this.client;
  }

  async complete(model: string, request: ChatRequest, opts: CallOptions = {}): Promise<ChatResult> {
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    let headers: Headers;
    try {
      const { data, response } = await this.client.chat.completions
        .create(chatBody(model, request), { ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}), ...(opts.signal ? { signal: opts.signal } : {}) })
        .withResponse();
      completion = data;
      headers = response.headers;
    } catch (e) {
      throw classifyOpenAIError(e, this.baseURL);
    }
    const choice = completion.choices?.[0];
    if (!choice) throw new ProviderError('server', `${this.baseURL} returned no choices`);
    return {
      text: choice.message?.content ?? '',
      finishReason: choice.finish_reason ?? 'unknown',
      promptTokens: completion.usage?.prompt_tokens ?? 0,
      completionTokens: completion.usage?.completion_tokens ?? 0,
      model: completion.model ?? model,
      simulated: headers.get(SIMULATED_HEADER) === 'true',
      rateHeaders: rateHeadersOf(headers),
    };
  }

  async probe(timeoutMs = 10_000): Promise<EndpointProbe> {
    try {
      const { data, response } = await this.client.models.list({ timeout: timeoutMs }).withResponse();
      const models = data.data.map((m) => m.id);
      const simulated = response.headers.get(SIMULATED_HEADER) === 'true' || data.data.some((m) => /SIMULATED/.test(String(m.owned_by)));
      return { simulated, models };
    } catch (e) {
      const err = classifyOpenAIError(e, this.baseURL);
      // Some servers (llama.cpp builds, proxies) do not list models: a 404 there is no verdict.
      if (err.kind === 'not_found') return { simulated: false, models: [] };
      throw err;
    }
  }
}
