import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { readJsonl } from '../../core/inputs/jsonl.js';

const Line = z.object({ question_id: z.number(), text: z.string() }).passthrough();

test('a lone surrogate escape is refused with file:line and field (it is valid JSON but no character); a pair is a character', () => {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'flask-sur-')), 'answers.jsonl');
  writeFileSync(f, [
    '{"question_id": 1, "text": "smile \\ud83d\\ude00"}',
    '{"question_id": 2, "text": "cut \\ud800 here"}',
    '{"question_id": 3, "text": "ok", "meta": {"note": "\\udc00"}}',
  ].join('\n') + '\n');
  assert.throws(() => readJsonl(f, Line), (e: Error) => {
    assert.match(e.message, /answers\.jsonl:2: field text: holds a lone UTF-16 surrogate/);
    assert.match(e.message, /answers\.jsonl:3: field meta\.note: holds a lone UTF-16 surrogate/);
    assert.doesNotMatch(e.message, /answers\.jsonl:1:/);
    return true;
  });
  writeFileSync(f, '{"question_id": 1, "text": "smile \\ud83d\\ude00"}\n');
  assert.equal(readJsonl(f, Line)[0]!.value.text, 'smile \u{1F600}');
});
