// Default run names cannot collide by accident: FLASK-Hard, another evaluation set and a subset
// each get a name of their own, so the second command starts its own run instead of failing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRunName } from '../../client/flags.js';

test('default run names tell instance sets apart', () => {
  assert.equal(defaultRunName('review', 'chatgpt', {}), 'review-chatgpt');
  assert.equal(defaultRunName('review', 'chatgpt', { hard: true }), 'review-chatgpt-hard');
  assert.equal(defaultRunName('review', 'chatgpt', { limit: '50' }), 'review-chatgpt-first50');
  assert.equal(defaultRunName('eval', 'llama', { 'eval-set': '/data/my set.jsonl', limit: '10' }), 'eval-llama-my_set-first10');
  const names = new Set([{}, { hard: true }, { limit: '50' }, { hard: true, limit: '50' }].map((v) => defaultRunName('review', 'gpt4', v)));
  assert.equal(names.size, 4);
});
