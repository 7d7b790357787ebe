import { InputError } from '../core/errors.js';
import { stateDir, type TemporalConfig } from '../core/config.js';
import { probeStateServer } from '../server/attach.js';

/**
 * Where `flask-eval worker` finds Temporal: TEMPORAL_ADDRESS when it is set (a cluster);
 * otherwise the state server of this folder (`server start`, or a run command's), whose embedded
 * dev server's address, namespace and control queue its /health tells. No variable to copy by hand.
 */
export async function workerTemporal(cfg: TemporalConfig, log: (s: string) => void): Promise<Required<TemporalConfig>> {
  if (cfg.address) return { ...cfg, address: cfg.address };
  const dir = stateDir();
  const found = await probeStateServer(dir);
  if (!found) {
    throw new InputError(
      `flask-eval worker needs Temporal: TEMPORAL_ADDRESS is not set (host:port of your Temporal cluster) and no state server runs for ${dir}. ` +
        'Start one there (`flask-eval server start`), run the worker in the folder whose server runs, or set FLASK_STATE_DIR to its state folder',
    );
  }
  const { health } = found;
  log(`Temporal ${health.temporalAddress} (namespace ${health.namespace}, queue ${health.controlQueue}): the state server of ${dir}, pid ${found.info.pid}`);
  return { address: health.temporalAddress, namespace: health.namespace, taskQueue: health.controlQueue };
}
