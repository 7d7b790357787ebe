/**
 * The "ideal client" the project is measured against: the openai SDK (maxRetries 0), N requests
 * in flight, FLASK's review prompt (core/prompts/review.ts), each result parsed and appended to
 * DuckDB over ONE long-lived connection. No durability, no resume: the floor of what any
 * implementation pays. 429: wait the Retry-After; 5xx / parse failure: ask again (at most 12 calls).
 */
import OpenAI from 'openai';
import { DuckDBInstance } from '@duckdb/node-api';
import { renderReviewPrompt, loadReviewPromptKit } from '../core/prompts/review.js';
import { parseSkillScores } from '../core/scoring/parseSkillScores.js';
import { prepareReview } from '../core/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../core/paths.js';

export interface BaselineOptions { url: string; model: string; reviews: number; concurrency: number; rpm?: number; dbFile: string }
export interface BaselineResult { wallMs: number; scored: number; failed: number; calls: number }

export async function runBaseline(o: BaselineOptions): Promise<BaselineResult> {
  const kit = loadReviewPromptKit();
  const { instances, responses } = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4');
  const text = new Map(responses.map((r) => [r.idx, r.text]));
  const client = new OpenAI({ apiKey: 'x', baseURL: o.url, maxRetries: 0 });
  const db = await DuckDBInstance.create(o.dbFile);
  const conn = await db.connect();
  await conn.run('CREATE TABLE IF NOT EXISTS reviews (n INTEGER, idx INTEGER, status VARCHAR, raw_text VARCHAR, scores VARCHAR, calls INTEGER)');
  const appender = await conn.createAppender('reviews');
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let next = 0, nextStart = 0, scored = 0, failed = 0, calls = 0;
  const t0 = Date.now();
  const one = async (n: number): Promise<void> => {
    const inst = instances[n % instances.length];
    const messages = renderReviewPrompt(inst, text.get(inst.idx) ?? '', kit);
    let raw = '', result: ReturnType<typeof parseSkillScores> | undefined, tries = 0;
    while (tries < 12 && !result?.ok) {
      if (o.rpm) { const wait = nextStart - Date.now(); nextStart = Math.max(Date.now(), nextStart) + 60_000 / o.rpm; if (wait > 0) await sleep(wait); }
      calls++;
      try {
        const c = await client.chat.completions.create({ model: o.model, messages, temperature: kit.temperature, max_tokens: kit.maxTokens });
        tries++;
        raw = c.choices[0]?.message.content ?? '';
        result = parseSkillScores(raw, inst.skills);
      } catch (e) {
        if (e instanceof OpenAI.APIError && e.status === 429) await sleep(Number(e.headers?.get('retry-after') ?? 1) * 1000);
        else tries++;
      }
    }
    if (result?.ok) scored++; else failed++;
    appender.appendInteger(n); appender.appendInteger(inst.idx); appender.appendVarchar(result?.ok ? 'scored' : 'failed');
    appender.appendVarchar(raw); appender.appendVarchar(JSON.stringify(result?.ok ? result.scores : null)); appender.appendInteger(tries);
    appender.endRow();
  };
  await Promise.all(Array.from({ length: o.concurrency }, async () => { while (next < o.reviews) await one(next++); }));
  appender.closeSync();
  const wallMs = Date.now() - t0;
  conn.closeSync();
  db.closeSync();
  return { wallMs, scored, failed, calls };
}
