import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import OpenAI from 'openai';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import o200k from 'js-tiktoken/ranks/o200k_base';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, PROJECT_ROOT, publishedAnswersFile } from '../../core/paths.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { judgeProfile } from '../../core/judges/index.js';
import { loadPriceTable } from '../../core/cost/pricing.js';
import { estimateStage, planEvalReview, planGenerate, planReview, totalEstimate, PUBLISHED_ANSWER_TOKENS } from '../../core/cost/estimate.js';
import { estimateAnnotate, estimateEval, estimateReview, formatEstimate } from '../../client/commands/estimate.js';
import { tokenizerFor } from '../../core/cost/tokens.js';
import { startOfflineServer, type OfflineServer } from '../../simulator/server.js';
import type { ChatMessage } from '../../core/prompts/chat.js';

// Independent count: the whole prompt encoded by js-tiktoken, OpenAI's cookbook overhead
// (3 tokens a message + role + content, 3 priming the reply). No cache, no splitting.
const cl = new Tiktoken(cl100k);
const o2 = new Tiktoken(o200k);
const billed = (enc: Tiktoken, messages: ChatMessage[]) => messages.reduce((n, m) => n + 3 + enc.encode(m.role).length + enc.encode(m.content, [], []).length, 3);

const prices = loadPriceTable();
const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 20);
const responses = new Map(prepared.responses.map((r) => [r.idx, r.text]));

const servers: OfflineServer[] = [];
after(async () => Promise.all(servers.map((s) => s.close())));

test('review estimate: prompt tokens of 20 instances = the sum of the tokenizer counts of the rendered prompts', async () => {
  for (const [profileName, model, enc] of [['flask', 'gpt-4-0613', cl], ['prometheus', 'gpt-4o', o2]] as const) {
    const profile = judgeProfile(profileName);
    const e = await estimateReview({ model: 'gpt4', limit: '20', 'judge-model': model, 'judge-profile': profileName }, prices);
    const s = e.stages[0];
    let expected = 0, calls = 0;
    for (const i of prepared.instances) {
      const skills = profileName === 'flask' ? [undefined] : i.skills;
      for (const skill of skills) {
        expected += billed(enc, profile.render(i, responses.get(i.idx)!, skill));
        calls++;
      }
    }
    assert.equal(s!.calls, calls, profileName);
    assert.equal(s!.calls, profileName === 'flask' ? 20 : 60);
    assert.equal(s!.promptTokens.upper, expected, `${profileName}: prompt tokens`);
    assert.equal(s!.promptTokens.typical, expected);
    assert.equal(s!.completionTokens.upper, calls * 1024);
    assert.equal(s!.completionTokens.typical, undefined, 'no measured review length: not guessed');
    const p = prices.models[model];
    assert.ok(Math.abs(s!.cost.upper! - (expected * p!.input + calls * 1024 * p!.output) / 1e6) < 1e-12);
    assert.ok(Math.abs(s!.cost.batchUpper! - s!.cost.upper! / 2) < 1e-12);
    assert.equal(s!.cost.typical, undefined);
  }
});

test('estimate vs the offline server\'s usage for the same 20 prompts: the margin is stated', async () => {
  const server = await startOfflineServer({ seed: 1 });
  servers.push(server);
  const client = new OpenAI({ apiKey: 'x', baseURL: server.url, maxRetries: 0 });
  const profile = judgeProfile('flask');
  const calls = planReview(prepared.instances, responses, profile);
  const est = await estimateStage('review', 'gpt-4-0613', prepared.instances.length, calls, prices);
  let usage = 0;
  const ratios: number[] = [];
  for (const c of calls) {
    const r = await client.chat.completions.create({ model: 'gpt-4-0613', messages: c.messages, max_tokens: c.maxTokens, temperature: 0.2 });
    usage += r.usage!.prompt_tokens;
    // the server's own approximation: ceil(characters / 4) of the message texts, no overhead
    assert.equal(r.usage!.prompt_tokens, Math.ceil(c.messages.reduce((n, m) => n + m.content.length, 0) / 4));
    ratios.push(r.usage!.prompt_tokens / billed(cl, c.messages));
  }
  const margin = (usage - est.promptTokens.upper) / est.promptTokens.upper;
  // FLASK's review prompts are rubric prose that cl100k_base packs at ~5 characters a token, so
  // the offline server's 4-a-token usage is ~26% above the real count for these 20 prompts
  // (deterministic: usage depends on the prompt text only). Over all 1,700 gpt4 reviews: docs/judges.md.
  process.stdout.write(`# estimate ${est.promptTokens.upper} prompt tokens (cl100k_base), offline usage ${usage}: ${(margin * 100).toFixed(1)}%, per request ${(Math.min(...ratios) * 100 - 100).toFixed(1)}% .. ${(Math.max(...ratios) * 100 - 100).toFixed(1)}%\n`);
  assert.equal(est.promptTokens.upper, 18_584);
  assert.equal(usage, 23_513);
  assert.ok(margin > 0.2 && margin < 0.33);
});

test('eval estimate: generation prompts + review prompts with the answer pending (max_tokens bound, published mean typical)', async () => {
  const instances = loadEvalSet(DATA_FILES.evalSet).slice(0, 10);
  const e = await estimateEval({ 'model-name': 'gpt-4o-mini', 'judge-model': 'gpt-4-0613', limit: '10', 'max-tokens': '512', 'system-prompt': 'Be brief.' }, prices);
  const [gen, rev] = e.stages;
  const genExpected = instances.reduce((n, i) => n + billed(o2, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: i.instruction }]), 0);
  assert.equal(gen!.promptTokens.upper, genExpected);
  assert.equal(gen!.completionTokens.upper, 10 * 512);
  assert.equal(gen!.completionTokens.typical, 10 * PUBLISHED_ANSWER_TOKENS.mean);
  const base = instances.reduce((n, i) => n + billed(cl, judgeProfile('flask').render(i, '')), 0);
  assert.equal(rev!.promptTokens.upper, base + 10 * 512);
  assert.equal(rev!.promptTokens.typical, base + 10 * PUBLISHED_ANSWER_TOKENS.mean);
  assert.equal(e.calls, 20);
  assert.equal(e.promptTokens.upper, gen!.promptTokens.upper + rev!.promptTokens.upper);
  assert.equal(e.cost.typical, undefined, 'review completion typical unknown -> total typical unknown');
  assert.ok(e.cost.upper! > 0);
  // with a typical review length given, the typical cost exists
  const e2 = await estimateEval({ 'model-name': 'gpt-4o-mini', 'judge-model': 'gpt-4-0613', limit: '10', 'typical-review-tokens': '300' }, prices);
  assert.equal(e2.stages[1]!.completionTokens.typical, 3000);
  assert.ok(e2.cost.typical! < e2.cost.upper!);
});

test('annotate estimate: three stages, one call each per instruction; planGenerate / planEvalReview shapes', async () => {
  const e = await estimateAnnotate(DATA_FILES.evalSet, { limit: '5', 'judge-model': 'gpt-4-0613' }, prices);
  assert.deepEqual(e.stages.map((s) => [s.stage, s.calls]), [['domain', 5], ['skillset', 5], ['difficulty', 5]]);
  assert.ok(e.stages.every((s) => s.promptTokens.upper > 5 * 100));
  assert.equal(planGenerate([{ instruction: 'hi' }], { maxTokens: 7 })[0]!.messages.length, 1);
  const inst = loadEvalSet(DATA_FILES.evalSet).slice(0, 2);
  assert.equal(planEvalReview(inst, judgeProfile('prometheus'), { upper: 9, typical: 3 }).length, 6);
});

test('unknown price: cost n/a, never guessed; non-OpenAI model counted approximately', async () => {
  const e = await estimateReview({ model: 'gpt4', limit: '3', 'judge-model': 'prometheus-eval/prometheus-7b-v2.0', 'judge-profile': 'prometheus' }, prices);
  assert.equal(e.stages[0]!.cost.upper, undefined);
  assert.equal(e.stages[0]!.tokenizer.exact, false);
  const table = formatEstimate(e, prices);
  assert.match(table, /cost n\/a \(add it with --prices FILE\)/);
  assert.match(table, /cl100k_base \(approximate\)/);
  assert.deepEqual(tokenizerFor('gpt-4-0613'), { encoding: 'cl100k_base', exact: true });
  assert.deepEqual(tokenizerFor('gpt-4o-mini'), { encoding: 'o200k_base', exact: true });
  assert.deepEqual(tokenizerFor('gpt-4.1'), { encoding: 'o200k_base', exact: true });
  assert.equal(totalEstimate(e.stages).cost.upper, undefined);
});

test('flask-eval estimate review --format json (the CLI command)', () => {
  const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'estimate', 'review', '--model', 'gpt4', '--limit', '20', '--format', 'json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const expected = prepared.instances.reduce((n, i) => n + billed(cl, judgeProfile('flask').render(i, responses.get(i.idx)!)), 0);
  assert.equal(j.stages[0].promptTokens.upper, expected);
  assert.equal(j.stages[0].model, 'gpt-4-0613');
  const bad = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'estimate', 'review'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /needs --model NAME/);
});

test('estimate takes the endpoint flags and never prices a judge served elsewhere at OpenAI\'s rates', async () => {
  const cliEstimate = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'estimate', ...args],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, OPENAI_BASE_URL: '', FLASK_JUDGE_MODEL: '', ...env } });
  // OpenAI's API (no base URL): gpt-4-0613 at its listed price.
  const openai = JSON.parse(cliEstimate(['review', '--model', 'gpt4', '--limit', '3', '--format', 'json']).stdout);
  assert.ok(openai.stages[0].cost.upper > 0);
  // The same model name on a local server, by env (as a user with OPENAI_BASE_URL exported) and by flag: n/a, said why.
  for (const [args, env] of [[[], { OPENAI_BASE_URL: 'http://127.0.0.1:8080/v1' }], [['--judge-base-url', 'http://127.0.0.1:8080/v1', '--judge-api-key', 'sk-local'], {}]] as [string[], NodeJS.ProcessEnv][]) {
    const r = cliEstimate(['review', '--model', 'gpt4', '--limit', '3', ...args], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /review \(flask\)\s+gpt-4-0613\s+3\s+[\d,]+\s+3,072\s+n\/a\s+n\/a/);
    assert.match(r.stdout, /price gpt-4-0613 at 127\.0\.0\.1:8080: not OpenAI's API, no price in --prices FILE: cost n\/a/);
    assert.match(r.stdout, /note review: gpt-4-0613 is served at 127\.0\.0\.1:8080, not api\.openai\.com: not priced at OpenAI's rates/);
    assert.doesNotMatch(r.stdout, /sk-local/);
  }
  // A price the user gives for the local model is used; the default table's price for that name is not.
  const own = path.join(mkdtempSync(path.join(tmpdir(), 'flask-prices-')), 'local.json');
  writeFileSync(own, JSON.stringify({ models: { smollm: { input: 1, output: 2 } } }));
  const e = await estimateReview({ model: 'gpt4', limit: '3', 'judge-model': 'smollm', 'judge-base-url': 'http://127.0.0.1:8080/v1' }, loadPriceTable(own));
  const s = e.stages[0]!;
  assert.equal(s.endpointHost, '127.0.0.1:8080');
  assert.equal(s.cost.upper, (s.promptTokens.upper * 1 + s.completionTokens.upper * 2) / 1e6);
  assert.match(formatEstimate(e, loadPriceTable(own)), /price smollm at 127\.0\.0\.1:8080: \$1 in \/ \$2 out per 1M tokens/);
  // eval: the model under test's endpoint is priced by its own flag.
  const ev = await estimateEval({ 'model-name': 'gpt-4o-mini', 'judge-model': 'gpt-4-0613', limit: '2', 'model-base-url': 'http://127.0.0.1:9000/v1' }, prices);
  assert.deepEqual(ev.stages.map((x) => [x.stage, x.endpointHost, x.cost.upper === undefined]), [['generate', '127.0.0.1:9000', true], ['review', undefined, false]]);
});
