import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Written by `npm run build` (scripts/build.mjs): saves the seconds webpack takes at every start. */
export const PREBUILT_BUNDLE = fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));

let bundle: Promise<WorkflowBundleWithSourceMap | { codePath: string }> | undefined;

/** The workflow code, bundled once per process (or prebuilt when `npm run build` wrote it). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap | { codePath: string }> {
  bundle ??= existsSync(PREBUILT_BUNDLE) && process.env.FLASK_NO_PREBUILT_BUNDLE !== '1'
    ? Promise.resolve({ codePath: PREBUILT_BUNDLE })
    : bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  return bundle;
}

export const quietLogger = {
  log() {}, trace() {}, debug() {}, info() {},
  warn(message: string, meta?: Record<string, unknown>) { console.warn(message, meta ?? ''); },
  error(message: string, meta?: Record<string, unknown>) { console.error(message, meta ?? ''); },
};
