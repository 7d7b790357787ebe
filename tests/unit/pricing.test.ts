import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { costOf, formatUsd, loadPriceTable, priceOf } from '../../core/cost/pricing.js';
import { InputError } from '../../core/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flask-prices-'));
const file = (name: string, body: unknown): string => {
  const f = path.join(dir, name);
  writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
  return f;
};

test('default prices: FLASK\'s judge and common OpenAI models, each with a date and a source', () => {
  const t = loadPriceTable();
  assert.deepEqual([priceOf('gpt-4-0613')!.input, priceOf('gpt-4-0613')!.output], [30, 60]);
  for (const m of ['gpt-4-turbo', 'gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-3.5-turbo']) assert.ok(priceOf(m), m);
  for (const [m, p] of Object.entries(t.models)) {
    assert.match(p.asOf, /^\d{4}-\d{2}/, m);
    assert.ok(p.source.length > 10, m);
    assert.ok(p.output >= p.input, m);
  }
  assert.equal(t.batchDiscount, 0.5);
});

test('costOf: per 1M tokens, batch at half price, unknown model undefined (never guessed)', () => {
  // 1,700 FLASK reviews of ~1,500 prompt + ~400 completion tokens with gpt-4-0613:
  assert.equal(costOf('gpt-4-0613', 1_000_000, 0), 30);
  assert.equal(costOf('gpt-4-0613', 0, 1_000_000), 60);
  assert.equal(costOf('gpt-4-0613', 2_550_000, 680_000), 117.3); // 76.50 + 40.80
  assert.equal(costOf('gpt-4-0613', 2_550_000, 680_000, { batch: true }), 58.65);
  assert.equal(costOf('gpt-4o-mini', 1000, 1000), (1000 * 0.15 + 1000 * 0.6) / 1e6);
  assert.equal(costOf('gpt-4o-2024-08-06', 0, 0), 0);
  assert.equal(costOf('prometheus-eval/prometheus-7b-v2.0', 1000, 1000), undefined);
  assert.equal(costOf('GPT-4O', 1000, 1000), undefined, 'names are exact');
  assert.equal(costOf('gpt-4o-2099-01-01', 1000, 1000), undefined, 'no guess from a similar name');
  assert.equal(costOf('toString', 1, 1), undefined, 'no prototype keys');
});

test('--prices FILE overrides and adds models; its entries need no date/source; bad files name the field', () => {
  const f = file('prices.json', {
    batchDiscount: 0.4,
    models: {
      'gpt-4o': { input: 1, output: 2, asOf: '2027-01', source: 'our contract' },
      'prometheus-eval/prometheus-7b-v2.0': { input: 0, output: 0 },
    },
  });
  const t = loadPriceTable(f);
  assert.equal(costOf('gpt-4o', 1e6, 1e6, { table: t }), 3);
  assert.equal(costOf('gpt-4o', 1e6, 1e6, { table: t, batch: true }), 3 * 0.6);
  assert.equal(costOf('prometheus-eval/prometheus-7b-v2.0', 5e6, 1e6, { table: t }), 0);
  assert.equal(priceOf('prometheus-eval/prometheus-7b-v2.0', t)!.source, f);
  assert.equal(costOf('gpt-4-0613', 1e6, 0, { table: t }), 30, 'defaults kept');
  assert.equal(t.files.length, 2);
  assert.throws(() => loadPriceTable(file('bad.json', { models: { 'gpt-4o': { input: -1, output: 2 } } })), (e: unknown) => e instanceof InputError && /bad\.json: field models\.gpt-4o\.input/.test((e as Error).message));
  assert.throws(() => loadPriceTable(file('bad2.json', '{ not json')), (e: unknown) => e instanceof InputError && /bad2\.json: cannot read JSON/.test((e as Error).message));
  assert.throws(() => loadPriceTable(path.join(dir, 'missing.json')), InputError);
});

test('formatUsd', () => {
  assert.equal(formatUsd(undefined), 'n/a');
  assert.equal(formatUsd(0), '$0.00');
  assert.equal(formatUsd(127.5), '$127.50');
  assert.equal(formatUsd(0.0042), '$0.0042');
});
