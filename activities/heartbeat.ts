import { Context } from '@temporalio/activity';

/**
 * Heartbeat `details()` every third of the heartbeat timeout while `fn` runs (a model call can
 * take minutes). Outside an activity (unit tests) it just runs `fn`.
 */
export async function withHeartbeats<T>(details: () => unknown, fn: () => Promise<T>): Promise<T> {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return fn();
  }
  const every = Math.max(200, Math.floor((ctx.info.heartbeatTimeoutMs ?? 60_000) / 3));
  ctx.heartbeat(details());
  const timer = setInterval(() => ctx.heartbeat(details()), every);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
