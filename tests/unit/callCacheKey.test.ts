import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cacheUse, callCacheKey, type CallIdentity } from '../../core/cache/callKey.js';
import { runOptions } from '../../client/flags.js';

const base: CallIdentity = {
  baseUrl: 'https://api.openai.com/v1', model: 'gpt-4-0613', step: 'review', profile: 'flask', template: 'with reference', callIndex: 0,
  request: { messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'u' }], temperature: 0, maxTokens: 1024 },
};

test('callCacheKey: every part of the call identity changes the key; equal identities give equal keys', () => {
  const k = callCacheKey(base);
  assert.match(k, /^[0-9a-f]{64}$/);
  assert.equal(callCacheKey(structuredClone(base)), k);
  const variants: CallIdentity[] = [
    { ...base, baseUrl: 'https://other.example/v1' },
    { ...base, model: 'gpt-4o' },
    { ...base, step: 'domain' },
    { ...base, profile: 'prometheus' },
    { ...base, template: 'without reference' },
    { ...base, callIndex: 1 },
    { ...base, request: { ...base.request, temperature: 0.2 } },
    { ...base, request: { ...base.request, maxTokens: 1000 } },
    { ...base, request: { ...base.request, topP: 0.9 } },
    { ...base, request: { ...base.request, seed: 1 } },
    { ...base, request: { ...base.request, messages: [{ role: 'user', content: 's' }, { role: 'user', content: 'u' }] } },
    { ...base, request: { ...base.request, messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'u ' }] } },
  ];
  const keys = new Set([k, ...variants.map(callCacheKey)]);
  assert.equal(keys.size, variants.length + 1);
});

test('cacheUse: temperature-0 calls by default; --cache on|read|refresh|off', () => {
  assert.deepEqual(cacheUse(undefined, 0), { read: true, write: true });
  assert.deepEqual(cacheUse(undefined, 0.2), { read: false, write: false });
  assert.deepEqual(cacheUse('on', 1), { read: true, write: true });
  assert.deepEqual(cacheUse('read', 0), { read: true, write: false });
  assert.deepEqual(cacheUse('refresh', 0), { read: false, write: true });
  assert.deepEqual(cacheUse('off', 0), { read: false, write: false });
});

test('--cache: a mode the cache does not know is refused with the modes it knows', () => {
  assert.equal(runOptions({ cache: 'refresh' }).cache, 'refresh');
  assert.equal(runOptions({}).cache, undefined);
  assert.throws(() => runOptions({ cache: 'yes' }), /--cache must be one of on, off, read, refresh \(got "yes"\)/);
});
