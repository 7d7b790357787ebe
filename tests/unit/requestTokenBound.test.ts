import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countChat, requestTokenBound, tokenCounter } from '../../core/cost/tokens.js';
import { stepRequest } from '../../activities/stepRequests.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';

test('the TPM admission of a call is its BPE prompt count (as estimate and prompts count) + max_tokens, per model encoding', async () => {
  const { instances, responses } = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 5);
  const cl100k = await tokenCounter('cl100k_base');
  const o200k = await tokenCounter('o200k_base');
  let chars4Off = 0;
  for (const [k, inst] of instances.entries()) {
    const asked = stepRequest('review', { ...inst, response: responses[k]!.text }, { temperature: 0.2, maxTokens: 1024 }, 0);
    assert.ok(!('cannot' in asked));
    const req = asked.calls[0]!.request;
    assert.equal(await requestTokenBound('gpt-4-0613', req), countChat(cl100k, req.messages) + 1024);
    assert.equal(await requestTokenBound('gpt-4o', req), countChat(o200k, req.messages) + 1024);
    // Models without a known encoding: cl100k_base (approximate, as estimate states).
    assert.equal(await requestTokenBound('prometheus-eval/prometheus-7b-v2.0', req), countChat(cl100k, req.messages) + 1024);
    const chars = req.messages.reduce((s, m) => s + m.content.length + 8, 0);
    if (Math.ceil(chars / 4) !== countChat(cl100k, req.messages)) chars4Off++;
  }
  assert.ok(chars4Off > 0, 'the old characters / 4 figure differs from the BPE count');
});

test('concurrent first callers share one encoder (one per caller ran the demo out of heap at 60 instances)', async () => {
  // A module instance of its own (a new URL), whose encoders are not loaded yet.
  const url: string = '../../core/cost/tokens.js?first-callers';
  const fresh = (await import(url)) as typeof import('../../core/cost/tokens.js');
  const all = await Promise.all(Array.from({ length: 20 }, () => fresh.tokenCounter('cl100k_base')));
  assert.ok(all.every((c) => c === all[0]), 'the same counter for every caller');
});
