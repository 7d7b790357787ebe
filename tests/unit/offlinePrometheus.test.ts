import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startOfflineServer, type OfflineServer, type OfflineRequestEvent } from '../../simulator/server.js';
import { gradeParts, generatePrometheusGrade } from '../../simulator/prometheusJudge.js';
import { judgeProfile } from '../../core/judges/index.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { judgeAgreement, itemKey, type JudgeScore } from '../../core/stats/agreement.js';

// The offline Prometheus judge is SIMULATED: these tests check that it answers the real
// Prometheus prompt in the format the profile's parser reads, and fails realistically.

const servers: OfflineServer[] = [];
after(async () => Promise.all(servers.map((s) => s.close())));
const prometheus = judgeProfile('prometheus');
const flask = judgeProfile('flask');
const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', 30);
const responses = new Map(prepared.responses.map((r) => [r.idx, r.text]));

test('the offline server answers Prometheus prompts with "(feedback) [RESULT] n" for the rubric\'s skill', async () => {
  const events: OfflineRequestEvent[] = [];
  const server = await startOfflineServer({ seed: 5, onRequest: (e) => events.push(e) });
  servers.push(server);
  const client = new OpenAI({ apiKey: 'x', baseURL: server.url, maxRetries: 0 });
  const scores: JudgeScore[] = [];
  for (const i of prepared.instances.slice(0, 30)) {
    const response = responses.get(i.idx)!;
    for (const skill of i.skills) {
      const r = await client.chat.completions.create({ model: 'prometheus-eval/prometheus-7b-v2.0', messages: prometheus.render(i, response, skill), max_tokens: 1024 });
      const text = r.choices[0]!.message.content!;
      const parsed = prometheus.parse(text, skill);
      assert.ok(parsed.ok, `${i.idx} ${skill}: ${text}`);
      assert.deepEqual(Object.keys(parsed.scores), [skill]);
      assert.ok(parsed.feedback!.length > 20);
      scores.push({ item: itemKey(i.idx, skill), judge: 'prometheus', score: parsed.scores[skill] as number });
    }
    // the offline FLASK judge on the same answer, for a panel
    const r = await client.chat.completions.create({ model: 'gpt-4-0613', messages: flask.render(i, response), max_tokens: 1024 });
    const parsed = flask.parse(r.choices[0]!.message.content!, i.skills);
    if (parsed.ok) for (const [skill, s] of Object.entries(parsed.scores)) if (typeof s === 'number') scores.push({ item: itemKey(i.idx, skill), judge: 'flask', score: s });
  }
  assert.equal(server.stats().byKind.prometheus, prepared.instances.reduce((n, i) => n + i.skills.length, 0));
  assert.ok(events.filter((e) => e.kind === 'prometheus').length >= 89);
  // same request, same score (deterministic), and the scores vary
  const i = prepared.instances[0];
  const again = await client.chat.completions.create({ model: 'p', messages: prometheus.render(i!, responses.get(i!.idx)!, i!.skills[0]) });
  const first = scores.find((s) => s.item === itemKey(i!.idx, i!.skills[0]!) && s.judge === 'prometheus')!;
  assert.equal((prometheus.parse(again.choices[0]!.message.content!, i!.skills[0]!) as { scores: Record<string, number> }).scores[i!.skills[0]!], first.score);
  assert.ok(new Set(scores.filter((s) => s.judge === 'prometheus').map((s) => s.score)).size >= 3);
  // the two offline judges share their quality signals: positively related, not identical
  const a = judgeAgreement(scores);
  process.stdout.write(`# offline flask vs offline prometheus (SIMULATED), ${a.items} items: spearman ${a.pairs[0]!.spearman?.toFixed(3)}, kendall ${a.pairs[0]!.kendallTauB?.toFixed(3)}, alpha ${a.krippendorffAlpha?.toFixed(3)}, exact ${a.exact.count}/${a.exact.n}, within one ${a.withinOne.count}/${a.withinOne.n}\n`);
  assert.ok(a.items >= 80);
  assert.ok(a.pairs[0]!.spearman! > 0.2);
  assert.ok(a.exact.rate! < 0.95);
});

test('gradeParts reads the instruction, response, reference and the skill back from the rendered prompt', () => {
  const i = prepared.instances[3];
  const response = 'A response with\n\n###Odd markers inside\nand more.';
  const user = prometheus.render(i!, response, i!.skills[1])[1]!.content;
  const p = gradeParts(user);
  assert.equal(p.instruction, i!.instruction);
  assert.equal(p.response, response);
  assert.equal(p.reference, i!.answer);
  assert.equal(p.skill, i!.skills[1]);
});

test('malformed Prometheus outputs are all rejected by the parser, in several ways', () => {
  const i = prepared.instances[0];
  const user = prometheus.render(i!, responses.get(i!.idx)!, i!.skills[0])[1]!.content;
  const reasons = new Set<string>();
  for (let k = 0; k < 5; k++) {
    const g = generatePrometheusGrade(1, 'h', user, true, (k + 0.5) / 5);
    assert.ok(g.malformed);
    const parsed = prometheus.parse(g.text, i!.skills[0]!);
    assert.ok(!parsed.ok, g.text);
    reasons.add(parsed.reason.replace(/\(got .*\)$/, '').replace(/score \d+/, 'score n'));
  }
  assert.ok(reasons.size >= 3, [...reasons].join(' | '));
  const ok = generatePrometheusGrade(1, 'h', user, false, 0);
  assert.ok(prometheus.parse(ok.text, i!.skills[0]!).ok);
});
