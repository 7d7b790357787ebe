/**
 * Token counts with OpenAI's own BPE (js-tiktoken; the cl100k_base and o200k_base ranks ship
 * inside the npm package, nothing is fetched at run time). A chat prompt costs, per OpenAI's
 * cookbook ("How to count tokens with tiktoken", for gpt-3.5-turbo-0613 / gpt-4-0613 and later):
 * 3 tokens per message + the tokens of its role and content, + 3 priming the reply.
 * Models that are not OpenAI's (Prometheus on vLLM: Mistral's tokenizer) are counted with
 * cl100k_base and marked approximate.
 */
import { Tiktoken } from 'js-tiktoken/lite';
import type { ChatMessage } from '../prompts/chat.js';

export type EncodingName = 'cl100k_base' | 'o200k_base';

export interface TokenizerChoice {
  encoding: EncodingName;
  /** true when the encoding is the model's own */
  exact: boolean;
}

const TOKENS_PER_MESSAGE = 3;
const TOKENS_REPLY_PRIMER = 3;

/** The encoding OpenAI uses for `model`; anything else: cl100k_base, approximate. */
export function tokenizerFor(model: string): TokenizerChoice {
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o)/.test(model)) return { encoding: 'o200k_base', exact: true };
  if (/^(gpt-4|gpt-3\.5-turbo)/.test(model)) return { encoding: 'cl100k_base', exact: true };
  return { encoding: 'cl100k_base', exact: false };
}

/**
 * An encoder that counts, fast. BPE works on the pieces the encoding's regex splits a text into,
 * each on its own (tiktoken's encode_ordinary), and no piece of cl100k_base's or o200k_base's
 * pattern runs from a newline into a following letter, digit or '#' (the newline-eating
 * alternatives end at the newline). So a text cut right after a newline, before such a character,
 * counts as the sum of its parts: prompts are cut into paragraphs there and the paragraphs'
 * counts are cached, since templates, rubrics, instructions and reference answers repeat across
 * calls. Same numbers as encoding every prompt whole (tests/unit/estimate.test.ts checks it).
 */
export interface TokenCounter {
  encoding: EncodingName;
  encoder: Tiktoken;
  count(text: string): number;
}

// The promise, not the counter: concurrent first callers (a chunk's instances) share one build
// (an encoder holds ~100k ranks: one per caller exhausted the heap).
const counters = new Map<EncodingName, Promise<TokenCounter>>();
const PARAGRAPH = /(?<=\n)(?=[\p{L}\p{N}#])/u;

async function ranks(name: EncodingName) {
  // Loaded on first use: parsing the ranks takes a second or two each.
  return name === 'o200k_base' ? (await import('js-tiktoken/ranks/o200k_base')).default : (await import('js-tiktoken/ranks/cl100k_base')).default;
}

/** The counter of an encoding (loaded once per process). Special-token strings count as ordinary text, as the API treats them. */
export function tokenCounter(name: EncodingName): Promise<TokenCounter> {
  let c = counters.get(name);
  if (!c) {
    c = buildCounter(name);
    counters.set(name, c);
    c.catch(() => counters.delete(name)); // a failed load is tried again by the next caller
  }
  return c;
}

async function buildCounter(name: EncodingName): Promise<TokenCounter> {
  const r = await ranks(name);
  const encoder = new Tiktoken(r);
  const cache = new Map<string, number>();
  const count = (text: string): number => {
    let n = 0;
    for (const para of text.split(PARAGRAPH)) {
      let k = cache.get(para);
      if (k === undefined) {
        k = encoder.encode(para, [], []).length;
        if (cache.size < 200_000) cache.set(para, k);
      }
      n += k;
    }
    return n;
  };
  return { encoding: name, encoder, count };
}

/** Prompt tokens of a chat request as the API bills them. */
export function countChat(counter: TokenCounter, messages: readonly ChatMessage[]): number {
  let n = TOKENS_REPLY_PRIMER;
  for (const m of messages) n += TOKENS_PER_MESSAGE + counter.count(m.role) + counter.count(m.content);
  return n;
}

/**
 * What one request may use at most: its prompt as the model's tokenizer counts it plus its
 * max_tokens. The rate limiter's TPM admission asks this, as `estimate` and `prompts` count.
 */
export async function requestTokenBound(model: string, request: { messages: readonly ChatMessage[]; maxTokens: number }): Promise<number> {
  return countChat(await tokenCounter(tokenizerFor(model).encoding), request.messages) + request.maxTokens;
}

/**
 * What one request may cost at most (USD): its prompt as the model's tokenizer counts it (plus
 * `extraPromptTokens` not rendered yet) and its max_tokens, at `price` (USD per 1M tokens).
 */
export async function requestWorstUsd(
  model: string, request: { messages: readonly ChatMessage[]; maxTokens: number }, price: { input: number; output: number }, extraPromptTokens = 0,
): Promise<number> {
  const prompt = countChat(await tokenCounter(tokenizerFor(model).encoding), request.messages) + extraPromptTokens;
  return (prompt * price.input + request.maxTokens * price.output) / 1_000_000;
}
