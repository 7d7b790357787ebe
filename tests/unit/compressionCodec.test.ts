import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPayloadConverter } from '@temporalio/common';
import { CompressionCodec, COMPRESSED_ENCODING, COMPRESS_ABOVE_BYTES } from '../../core/temporal/compressionCodec.js';
import { loadReviewPromptKit, renderReviewPrompt } from '../../core/prompts/review.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';

const codec = new CompressionCodec();
const encodingOf = (p: { metadata?: Record<string, Uint8Array> | null }) => new TextDecoder().decode(p.metadata?.encoding ?? new Uint8Array());

test('a chunk of FLASK texts is compressed and decodes to the same value', async () => {
  const { instances, responses } = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4');
  const kit = loadReviewPromptKit();
  const items = instances.slice(0, 100).map((inst) => ({ idx: inst.idx, messages: renderReviewPrompt(inst, responses.find((r) => r.idx === inst.idx)?.text ?? '', kit) }));
  const payload = defaultPayloadConverter.toPayload({ runId: 'r', items });
  const [encoded] = await codec.encode([payload]);
  assert.equal(encodingOf(encoded!), COMPRESSED_ENCODING);
  // FLASK's texts compress well: a chunk of 100 shrinks to well under half.
  assert.ok(encoded!.data!.length < payload.data!.length / 2, `${encoded!.data!.length} of ${payload.data!.length} bytes`);
  const [decoded] = await codec.decode([encoded!]);
  assert.equal(encodingOf(decoded!), 'json/plain');
  assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), { runId: 'r', items });
});

test('small payloads, and payloads written before compression existed, pass through untouched', async () => {
  const small = defaultPayloadConverter.toPayload({ done: 3, failed: 0 });
  assert.ok(small.data!.length < COMPRESS_ABOVE_BYTES);
  const [encoded] = await codec.encode([small]);
  assert.equal(encoded, small);
  const oldBig = defaultPayloadConverter.toPayload({ text: 'x'.repeat(COMPRESS_ABOVE_BYTES * 2) });
  const [decoded] = await codec.decode([oldBig]);
  assert.equal(decoded, oldBig);
});
