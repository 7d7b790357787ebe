import { existsSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { PROJECT_ROOT } from '../core/paths.js';

const WORKFLOWS_PATH = path.join(PROJECT_ROOT, 'workflows', 'index.ts');
/** Written by `npm run build` (scripts/build.mjs): saves the seconds webpack takes at every start. */
const PREBUILT_BUNDLE = path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
/** bin/flask-eval.js runs the compiled dist/ only when it is newer than every source file. */
const RUNNING_FRESH_BUILD = process.env.FLASK_FRESH_BUILD === '1';

let bundle: Promise<WorkflowBundleWithSourceMap | { codePath: string }> | undefined;

/** The workflow code, bundled once per process (or prebuilt when `npm run build` wrote it). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap | { codePath: string }> {
  bundle ??= RUNNING_FRESH_BUILD && existsSync(PREBUILT_BUNDLE)
    ? Promise.resolve({ codePath: PREBUILT_BUNDLE })
    : bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  return bundle;
}

const quietLogger = {
  log() {}, trace() {}, debug() {}, info() {},
  warn(message: string, meta?: Record<string, unknown>) { console.warn(message, meta ?? ''); },
  error(message: string, meta?: Record<string, unknown>) { console.error(message, meta ?? ''); },
};
