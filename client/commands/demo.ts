import { parseArgs } from 'node:util';
import { judgeEndpoint, endpointIsOffline } from '../../core/config.js';
import { reviewCommand } from './review.js';

/**
 * `npm run demo`: review one published model's answers end to end on the embedded defaults.
 * Without OPENAI_API_KEY the offline judge scores them (SIMULATED); with it, a real judge does.
 */
export async function demoCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v } = parseArgs({ args: argv, options: { full: { type: 'boolean' }, model: { type: 'string', default: 'gpt4' }, limit: { type: 'string', default: '300' } } });
  const model = v.model as string;
  const offline = endpointIsOffline(judgeEndpoint());
  log(`FLASK demo: reviewing ${v.full ? 'all' : `the first ${v.limit}`} published answers of ${model} with ${offline ? 'the OFFLINE judge (scores are SIMULATED; set OPENAI_API_KEY for a real judge)' : `judge ${judgeEndpoint().model}`}.`);
  const started = Date.now();
  const runName = `demo-${model}${v.full ? '-full' : `-${v.limit}`}${offline ? '-offline' : ''}`;
  await reviewCommand(['--model', model, '--run', runName, ...(v.full ? [] : ['--limit', v.limit as string])], log);
  log(`Demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  log(`Next: npm run flask-eval -- report ${runName} --by domain    (or --by difficulty, --format csv)`);
  log('      npm run flask-eval -- report ' + runName + ' --format html --out report.html    (charts, CIs, every instance)');
  log('      npm run flask-eval -- server start    keeps the state server (and the Temporal UI) up; `server stop` stops it');
}
