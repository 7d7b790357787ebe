import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { CompressionCodec } from '../../core/temporal/compressionCodec.js';
import type { Checkpoint } from '../../activities/checkpoint.js';
import { unansweredByCrash, type CallOutcome } from '../../core/pipeline.js';
import type { EndpointLive } from './progressBar.js';

/**
 * Live per-call counts of a run's chunks that have not landed yet, per endpoint model, read from
 * their heartbeats (pending activities of the running batch workflows): what `status`, another
 * process than the workers, can know between landings.
 */
export async function liveFromHeartbeats(client: Client, batchIds: readonly string[], now = Date.now()): Promise<EndpointLive[]> {
  const checkpoints: Checkpoint[] = [];
  const codec = new CompressionCodec();
  for (const id of batchIds) {
    let pending: temporal.api.workflow.v1.IPendingActivityInfo[];
    try {
      pending = (await client.workflow.getHandle(id).describe()).raw.pendingActivities ?? [];
    } catch {
      continue; // the batch finished meanwhile: its counts are in the run's
    }
    for (const a of pending) {
      const payloads = a.heartbeatDetails?.payloads;
      if (!payloads?.length) continue;
      const [decoded] = await codec.decode(payloads as never);
      const cp = defaultPayloadConverter.fromPayload<Checkpoint>(decoded!);
      if (cp && Array.isArray(cp.done)) checkpoints.push(cp);
    }
  }
  return liveFromCheckpoints(checkpoints, now);
}

/** Sums chunk checkpoints per model (re-asks: answered calls beyond one per instance). */
function liveFromCheckpoints(checkpoints: readonly Checkpoint[], now = Date.now()): EndpointLive[] {
  const by = new Map<string, EndpointLive & { latencySum: number }>();
  for (const cp of checkpoints) {
    const model = cp.model ?? 'endpoint';
    const e = by.get(model) ?? { model, started: 0, answered: 0, failed: 0, rateLimited: 0, reasked: 0, instancesThrough: 0, inFlight: 0, oldestInFlightMs: 0, latencySum: 0 };
    by.set(model, e);
    const count = (calls: readonly { outcome: string; latencyMs: number }[]) => {
      let ok = 0;
      for (const c of calls) {
        if (unansweredByCrash(c.outcome as CallOutcome)) continue;
        e.started++;
        if (c.outcome === 'ok') {
          ok++;
          e.answered++;
          e.latencySum += c.latencyMs;
        } else if (c.outcome === 'rate_limited') e.rateLimited++;
        else e.failed++;
      }
      e.reasked += Math.max(0, ok - 1);
    };
    for (const o of cp.done) count(o.calls);
    e.instancesThrough += cp.done.length;
    for (const st of Object.values(cp.items)) {
      count(st.calls);
      e.started += st.inFlight.length;
      e.inFlight += st.inFlight.length;
      if (st.sentAt !== undefined && st.inFlight.length) e.oldestInFlightMs = Math.max(e.oldestInFlightMs, now - st.sentAt);
    }
  }
  return [...by.values()].map(({ latencySum, ...e }) => ({ ...e, ...(e.answered ? { meanLatencyMs: latencySum / e.answered } : {}) }));
}
