import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itemState, resumeCheckpoint, type Checkpoint } from '../../activities/checkpoint.js';
import type { StepOutcome } from '../../core/pipeline.js';

const done = (idx: number): StepOutcome => ({
  idx, status: 'done', attempts: 1, promptTokens: 1, completionTokens: 1, simulated: true, startedAt: 't', finishedAt: 't', calls: [],
});

/** The dead attempt's last heartbeat: instance 1 finished, 2 had call 1 in flight, 3 was waiting between calls, 4 had not started. */
function lastHeartbeat(): Checkpoint {
  const cp: Checkpoint = { done: [done(1)], items: {} };
  itemState(cp, 2).inFlight = [1];
  itemState(cp, 2).nextCallNo = 2;
  const three = itemState(cp, 3);
  three.calls.push({ callNo: 1, outcome: 'server_error', httpStatus: 500, promptTokens: 0, completionTokens: 0, latencyMs: 5, resent: false, startedAt: 't' });
  three.nextCallNo = 2;
  return cp;
}

test('a retried chunk records every call its dead attempt may have sent: in flight as lost, every other unfinished instance as possibly sent', () => {
  const { cp, lost } = resumeCheckpoint(lastHeartbeat(), 'm', { idxs: [1, 2, 3, 4], retry: true });
  const calls = (idx: number) => (cp.items[idx]?.calls ?? []).map((c) => `${c.callNo}:${c.outcome}`);
  assert.deepEqual(calls(2), ['1:lost']);
  assert.deepEqual(calls(3), ['1:server_error', '2:possibly_sent'], 'its next call number, after the calls the heartbeat saw');
  assert.deepEqual(calls(4), ['1:possibly_sent'], 'not started at the heartbeat, maybe started after it');
  assert.equal(cp.items[1], undefined, 'a finished instance is not asked again and records nothing');
  assert.equal(lost, 3);
  assert.ok([2, 3, 4].every((i) => cp.items[i]!.resend), 'their next calls are marked re-sent');
  assert.equal(cp.items[3]!.nextCallNo, 3);
});

test('a first attempt records nothing, and a retry without any heartbeat counts every instance as possibly sent', () => {
  assert.equal(resumeCheckpoint(undefined, 'm', { idxs: [1, 2], retry: false }).lost, 0);
  const { cp, lost } = resumeCheckpoint(undefined, 'm', { idxs: [1, 2], retry: true });
  assert.equal(lost, 2);
  assert.deepEqual(cp.items[1]!.calls.map((c) => c.outcome), ['possibly_sent']);
});
