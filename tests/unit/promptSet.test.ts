import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import { readPromptSet, type PromptSet } from '../../core/flask/promptSet.js';
import { stepRequest } from '../../activities/stepRequests.js';
import { createEndpointActivities } from '../../activities/callChunk.js';
import { OpenAIProvider } from '../../core/provider/openaiProvider.js';
import { createEndpointLimiter } from '../../core/rate/index.js';
import { endpointRef } from '../../core/provider/endpoint.js';
import type { ChunkItem } from '../../core/pipeline.js';

const item: ChunkItem = { idx: 7, instruction: 'Name a prime.', answer: '2', skills: ['Correctness', 'Conciseness', 'Readability'], response: '3' };
const settings = { temperature: 0.2, maxTokens: 1024 };
/** What a worker receives: the set as it comes out of a Temporal payload (JSON). */
const shipped = (set: PromptSet): PromptSet => JSON.parse(JSON.stringify(set)) as PromptSet;
const messagesOf = (r: ReturnType<typeof stepRequest>) => {
  assert.ok(!('cannot' in r));
  return r.calls.map((c) => c.request.messages);
};

test('a shipped review set renders exactly what data/ renders, and the worker renders from the set, not from data/', () => {
  const set = readPromptSet('review');
  assert.match(set.hash, /^[0-9a-f]{64}$/);
  assert.ok(JSON.stringify(set).length < 20_000, `the review set travels in every chunk: ${JSON.stringify(set).length} bytes`);
  assert.deepEqual(messagesOf(stepRequest('review', item, settings, 0, shipped(set))), messagesOf(stepRequest('review', item, settings, 0)));
  // An altered set (another hash) is used as given: the text comes from the input.
  const altered = shipped(set);
  altered.hash = 'f'.repeat(64);
  for (const t of altered.prompts.review_prompts!.templates) t.system_prompt = 'SHIPPED SYSTEM PROMPT';
  altered.rubrics = altered.rubrics.map((r) => ({ ...r, Criteria: `SHIPPED ${r.Criteria}` }));
  const [messages] = messagesOf(stepRequest('review', item, settings, 0, altered));
  assert.equal(messages![0]!.content, 'SHIPPED SYSTEM PROMPT');
  assert.match(messages![1]!.content, /Correctness: SHIPPED /);
  // prometheus takes its rubrics from the set too
  const prometheus = messagesOf(stepRequest('review', item, { ...settings, judgeProfile: 'prometheus' }, 0, altered));
  assert.equal(prometheus.length, 3);
  assert.match(prometheus[0]![1]!.content, /SHIPPED /);
});

test('a shipped annotation set renders the 3 stages as data/ does, and is used as given', () => {
  const set = readPromptSet('annotation');
  const labelled = { ...item, domains: ['Math'] };
  for (const step of ['domain', 'skillset', 'difficulty'] as const) {
    assert.deepEqual(messagesOf(stepRequest(step, labelled, settings, 3, shipped(set))), messagesOf(stepRequest(step, labelled, settings, 3)), step);
  }
  const altered = shipped(set);
  altered.hash = 'e'.repeat(64);
  altered.prompts['annotation_prompts/domain']!.templates[0]!.system_prompt = 'SHIPPED DOMAIN PROMPT';
  assert.equal(messagesOf(stepRequest('domain', item, settings, 0, altered))[0]![0]!.content, 'SHIPPED DOMAIN PROMPT');
});

test('a worker that cannot render a chunk\'s prompts stops the run with why (WorkerCannotWork), instead of retrying in silence', async () => {
  const endpoint = endpointRef('http://127.0.0.1:9/v1', 'judge-1', 'q');
  const acts = createEndpointActivities({ endpoint, provider: new OpenAIProvider({ apiKey: 'k', baseURL: endpoint.baseUrl }), limiter: createEndpointLimiter({ maxConcurrency: 1 }) });
  const logged: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => (logged.push(String(s)), true)) as typeof process.stderr.write;
  try {
    // The review step given the annotation set: no review_prompts/ in it.
    await assert.rejects(
      acts.callChunk({ runId: 'r-hidden', step: 'review', endpoint, settings, maxAttempts: 2, shuffleSeed: 0, items: [item], prompts: shipped(readPromptSet('annotation')) }),
      (e: unknown) => {
        assert.ok(e instanceof ApplicationFailure);
        assert.equal(e.type, 'WorkerCannotWork');
        assert.equal(e.nonRetryable, true);
        assert.match(e.message, new RegExp(`worker ${process.pid}@${hostname()} .*cannot render run r-hidden's review prompts: .*no review_prompts/`));
        assert.match(e.message, /run a worker of this version .* or give it the project's data\/ folder/);
        return true;
      },
    );
  } finally {
    process.stderr.write = write;
  }
  assert.equal(logged.filter((l) => /cannot render run r-hidden's review prompts/.test(l)).length, 1, 'the worker says so in its log');
});
