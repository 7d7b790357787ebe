import { sha } from './random.js';
import type { Msg } from './message.js';
import { errorBody, type ErrorBody } from './http.js';

/** Text of a message's content: a string, null, or an array of content parts. undefined = invalid. */
function contentText(content: unknown): string | undefined {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let s = '';
    for (const p of content) {
      if (typeof p !== 'object' || p === null) return undefined;
      const part = p as { type?: unknown; text?: unknown };
      if (part.type === 'text' && typeof part.text === 'string') s += part.text;
    }
    return s;
  }
  return undefined;
}


/** Messages reduced to what identifies a request's content: role and text. */
function normalizeMessages(messages: readonly { role: string; content?: unknown }[]): Msg[] | undefined {
  const out: Msg[] = [];
  for (const m of messages) {
    const text = contentText(m.content);
    if (text === undefined) return undefined;
    out.push({ role: m.role, text });
  }
  return out;
}

function contentHashOf(messages: readonly Msg[]): string {
  return sha(['request-content', JSON.stringify(messages.map((m) => [m.role, m.text]))]);
}

/**
 * The content hash the server keys a request by (its messages' roles and texts; not the model
 * name or sampling settings): the same value as OfflineRequestEvent.contentHash, so a test can
 * find the events of a prompt it rendered.
 */
export function requestContentHash(messages: readonly { role: string; content?: unknown }[]): string {
  const m = normalizeMessages(messages);
  if (!m) throw new TypeError('requestContentHash: a message content is neither a string nor text parts');
  return contentHashOf(m);
}


/** A chat completion request the server accepts, or the 4xx it answers (with the content hash once the messages are known). */
export type CheckedChatRequest =
  | { ok: true; body: Record<string, unknown>; messages: Msg[]; contentHash: string; maxTokens: number | undefined }
  | { ok: false; status: number; error: ErrorBody; contentHash?: string };

const invalid = (status: number, error: ErrorBody, contentHash?: string): CheckedChatRequest => ({ ok: false, status, error, ...(contentHash ? { contentHash } : {}) });

/** Checks a POST /chat/completions body as OpenAI does, with its messages and error shapes. */
export function parseChatRequest(body: Buffer | 'too-large'): CheckedChatRequest {
  if (body === 'too-large') return invalid(413, errorBody('Request body too large.', 'invalid_request_error'));
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return invalid(400, errorBody('We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload.)', 'invalid_request_error'));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return invalid(400, errorBody('The request body must be a JSON object.', 'invalid_request_error'));
  }
  const b = parsed as Record<string, unknown>;
  if (b.stream === true) {
    return invalid(400, errorBody('Streaming is not supported by the offline server; send stream: false.', 'invalid_request_error', 'unsupported_value', 'stream'));
  }
  if (typeof b.model !== 'string' || b.model === '') {
    return invalid(400, errorBody('You must provide a model parameter.', 'invalid_request_error', null, 'model'));
  }
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    return invalid(400, errorBody("Invalid 'messages': expected a non-empty array of messages.", 'invalid_request_error', 'invalid_value', 'messages'));
  }
  const rawMessages = b.messages as unknown[];
  const bad = rawMessages.findIndex((m) => {
    const mm = m as { role?: unknown; content?: unknown } | null;
    return typeof mm !== 'object' || mm === null || typeof mm.role !== 'string' || contentText(mm.content) === undefined;
  });
  if (bad >= 0) {
    return invalid(400, errorBody(`Invalid 'messages[${bad}]': each message needs a string role and a string (or text parts) content.`, 'invalid_request_error', 'invalid_value', `messages[${bad}]`));
  }
  const messages = normalizeMessages(rawMessages as { role: string; content?: unknown }[])!;
  const contentHash = contentHashOf(messages);
  const maxTokensRaw = b.max_completion_tokens ?? b.max_tokens;
  if (maxTokensRaw !== undefined && maxTokensRaw !== null && (typeof maxTokensRaw !== 'number' || !Number.isInteger(maxTokensRaw) || maxTokensRaw < 1)) {
    return invalid(400, errorBody('Invalid max_tokens: expected an integer >= 1.', 'invalid_request_error', 'invalid_value', 'max_tokens'), contentHash);
  }
  return { ok: true, body: b, messages, contentHash, maxTokens: typeof maxTokensRaw === 'number' ? maxTokensRaw : undefined };
}
