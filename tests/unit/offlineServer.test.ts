import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { startOfflineServer, requestContentHash, OFFLINE_MODEL_ID, OFFLINE_OWNER, SIMULATED_HEADER, type OfflineServer, type OfflineServerOptions, type OfflineRequestEvent } from '../../simulator/server.js';
import { DOMAINS } from '../../core/flask/domains.js';
import { DIFFICULTY_LEVELS } from '../../core/flask/difficulty.js';
import { SKILL_NAMES } from '../../core/flask/skills.js';
import SKILLS_FILE from '../../data/flask/skillset_description.json' with { type: 'json' };

// The offline server's scores are SIMULATED; these tests check its protocol and shapes only.

const servers: OfflineServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(opts: OfflineServerOptions = {}): Promise<{ server: OfflineServer; client: OpenAI }> {
  const server = await startOfflineServer(opts);
  servers.push(server);
  return { server, client: new OpenAI({ apiKey: opts.apiKey ?? 'test-key', baseURL: server.url, maxRetries: 0 }) };
}

type Msg = { role: 'system' | 'user'; content: string };

const REVIEW_SYSTEM = 'You are a helpful and precise assistant in checking the quality of the answer.';

function rubric(skill: string, criteria: string): string {
  let s = `\n${skill}: ${criteria}`;
  for (let n = 1; n <= 5; n++) s += `\nScore ${n}: Level ${n} description of ${skill.toLowerCase()}.`;
  return s + '\n\n';
}

function reviewMessages(response: string, answer = 'The capital of France is Paris, a city on the Seine.'): Msg[] {
  const skills =
    rubric('Logical Correctness', 'Is the final answer provided by the response logically accurate and correct?') +
    rubric('Readability', 'Is the response structured to promote readability and coherence?') +
    rubric('Factuality', 'Did the model extract pertinent and accurate background knowledge without any misinformation?');
  const user =
    'We would like to request your feedback on the performance of the response of the assistant to the user instruction displayed below. ' +
    'In the feedback, I want you to rate the quality of the response in these 3 categories according to each scoring rubric:\n' +
    `${skills}\n[Instruction]\nWhat is the capital of France?\n\n[Ground truth Answer]\n${answer}\n\n` +
    `[Assistant's Response]\n${response}\n\n[The End of Assistant's Response]\n\n` +
    'Please give feedback on the assistant\'s responses. ... Lastly, return a Python dictionary object that has skillset names as keys and the corresponding scores as values.\n\n[System]\n\n\n';
  return [
    { role: 'system', content: REVIEW_SYSTEM },
    { role: 'user', content: user },
  ];
}

const EXPECTED = ['Logical Correctness', 'Readability', 'Factuality'];
const norm = (k: string): string => k.toLowerCase().replace(/_/g, ' ');

/** The last {...} of the text as skill -> score (a deliberately simple parser). */
function parseDict(text: string): Map<string, number | 'N/A'> {
  const all = [...text.matchAll(/\{[^{}]*\}/g)];
  assert.ok(all.length > 0, `no dictionary in:\n${text}`);
  const out = new Map<string, number | 'N/A'>();
  for (const m of all[all.length - 1]![0].matchAll(/['"]([^'"]+)['"]\s*:\s*(\d|['"]N\/A['"])/g)) {
    out.set(norm(m[1]!), /\d/.test(m[2]!) ? Number(m[2]) : 'N/A');
  }
  return out;
}

function review(client: OpenAI, response: string, answer?: string, signal?: AbortSignal) {
  return client.chat.completions.create({ model: OFFLINE_MODEL_ID, messages: reviewMessages(response, answer), temperature: 0.2, max_tokens: 1024 }, signal ? { signal } : undefined);
}


/** `flask-eval offline-judge` as a user starts it (simulator/serve.ts from the project root). */
function spawnServeCli(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'simulator/serve.ts', '--port', '0', ...args], {
    cwd: path.resolve(import.meta.dirname, '..', '..'), stdio: ['pipe', 'pipe', 'pipe'], env,
  });
}

/** The URL the server prints once it listens (it fails if the server exits or says nothing in 20 s). */
function listeningUrl(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`no URL within 20 s: ${out}`)), 20_000);
  });
}

/** Stop it; a child that already exited (e.g. it could not start) sends no second 'exit'. */
async function stopChild(child: ChildProcessWithoutNullStreams): Promise<void> {
  child.kill('SIGTERM');
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
}

test('GET /v1/models lists the judge and the model, owned by "flask-eval-offline (SIMULATED)"', async () => {
  const { client } = await serve();
  const ids: string[] = [];
  for await (const m of client.models.list()) {
    ids.push(m.id);
    assert.equal(m.owned_by, 'flask-eval-offline (SIMULATED)');
  }
  assert.deepEqual(ids.sort(), ['flask-offline-judge', 'flask-offline-model']);
  assert.equal((await client.models.retrieve(OFFLINE_MODEL_ID)).owned_by, OFFLINE_OWNER);
});

test('every response says x-flask-simulated: true (200, 400, 401, 404, 429, 5xx, /models); no x-ratelimit-* without a limit', async () => {
  const { server } = await serve({ apiKey: 'k' });
  const call = (path: string, init: RequestInit = {}, key = 'k') =>
    fetch(`${server.url}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } });
  const chat = (body: unknown) => call('/chat/completions', { method: 'POST', body: JSON.stringify(body) });
  const responses = [
    await call('/models'),
    await call('/models/nope'),
    await call('/nothing-here'),
    await call('/models', {}, 'wrong'),
    await chat({ model: OFFLINE_MODEL_ID, messages: reviewMessages('Paris.') }),
    await chat({ model: OFFLINE_MODEL_ID }),
  ];
  assert.deepEqual(responses.map((r) => r.status), [200, 404, 404, 401, 200, 400]);
  for (const r of responses) {
    assert.equal(r.headers.get(SIMULATED_HEADER), 'true', `${r.url} ${r.status}`);
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), null);
    assert.equal(r.headers.get('x-ratelimit-limit-tokens'), null);
    await r.arrayBuffer();
  }
  const { client: limited } = await serve({ requestsPerMinute: 1, serverErrorRate: 1 }); // a 5xx, then a 429
  for (let i = 0; i < 2; i++) {
    await assert.rejects(review(limited, 'x'), (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError);
      assert.equal(e.status, i === 0 ? 500 : 429, `request ${i}`);
      assert.equal(e.headers?.get(SIMULATED_HEADER), 'true');
      return true;
    });
  }
});

test('tokensPerMinute: prompt + max_tokens must fit at admission; the window then keeps the usage; 429 names the tokens with a Retry-After', async () => {
  const events: OfflineRequestEvent[] = [];
  const { client, server } = await serve({ tokensPerMinute: 1500, answerWords: 20, rateWindowMs: 900, onRequest: (e) => events.push(e) });
  const ask = (max_tokens: number, q = 'Tell me about the sea.') =>
    client.chat.completions.create({ model: 'flask-offline-model', messages: [{ role: 'user', content: q }], max_tokens }).withResponse();
  const a = await ask(1000);
  const usedA = (a.data.usage?.prompt_tokens ?? 0) + (a.data.usage?.completion_tokens ?? 0);
  assert.ok(usedA < 100, `a short answer: ${usedA} tokens`);
  assert.equal(a.response.headers.get('x-ratelimit-limit-tokens'), '1500');
  assert.equal(a.response.headers.get('x-ratelimit-remaining-tokens'), String(1500 - usedA), 'the window holds the usage, not max_tokens');
  assert.match(a.response.headers.get('x-ratelimit-reset-tokens') ?? '', /^\d+ms$/);
  // 1,000 more tokens reserved: fits only because the first request was corrected to its usage
  const b = await ask(1000, 'And about the mountains?');
  const usedB = (b.data.usage?.prompt_tokens ?? 0) + (b.data.usage?.completion_tokens ?? 0);
  assert.equal(b.response.headers.get('x-ratelimit-remaining-tokens'), String(1500 - usedA - usedB));
  // this one cannot fit: 429, type "tokens", Retry-After until enough of the window has left
  await assert.rejects(ask(1450, 'And about rivers?'), (e: unknown) => {
    assert.ok(e instanceof OpenAI.APIError);
    assert.equal(e.status, 429);
    assert.equal(e.code, 'rate_limit_exceeded');
    assert.equal(e.type, 'tokens');
    assert.match(e.message, /tokens per minute \(TPM\): limit 1500/);
    assert.equal(e.headers?.get('retry-after'), '1');
    assert.equal(e.headers?.get('x-ratelimit-remaining-tokens'), String(1500 - usedA - usedB));
    assert.equal(e.headers?.get(SIMULATED_HEADER), 'true');
    return true;
  });
  assert.equal(events.at(-1)?.rateLimit, 'tokens');
  assert.equal(events.at(-1)?.status, 429);
  assert.equal(events[0]!.promptTokens, a.data.usage?.prompt_tokens);
  assert.equal(events[0]!.completionTokens, a.data.usage?.completion_tokens);
  assert.equal(server.stats().status429, 1);
  await new Promise((r) => setTimeout(r, 950));
  const c = await ask(1450, 'And about rivers?');
  assert.equal(c.response.status, 200);
  // a request larger than the whole limit still gets through an empty window (it could never fit otherwise)
  await new Promise((r) => setTimeout(r, 950));
  assert.equal((await ask(5000, 'Once more.')).response.status, 200);
});

test('requestsPerMinute: x-ratelimit-limit/remaining/reset-requests on every response', async () => {
  const { client } = await serve({ requestsPerMinute: 3 });
  const seen: (string | null)[][] = [];
  for (let i = 0; i < 3; i++) {
    const { response } = await review(client, `r${i}`).withResponse();
    seen.push(['limit', 'remaining', 'reset'].map((k) => response.headers.get(`x-ratelimit-${k}-requests`)));
  }
  assert.deepEqual(seen.map((h) => h.slice(0, 2)), [['3', '2'], ['3', '1'], ['3', '0']]);
  for (const h of seen) {
    const m = /^(?:(\d+)m)?(\d+(?:\.\d+)?)s$/.exec(h[2] ?? '');
    assert.ok(m, `reset ${h[2]}`);
    const ms = (Number(m[1] ?? 0) * 60 + Number(m[2])) * 1000;
    assert.ok(ms > 55_000 && ms <= 60_000, `reset ${h[2]}: until the oldest request leaves the 60 s window`);
  }
  const models = await fetch(`${(client as unknown as { baseURL: string }).baseURL}/models`);
  assert.equal(models.headers.get('x-ratelimit-remaining-requests'), '0');
  await models.arrayBuffer();
});

test('offline-judge CLI: --tpm and --rpm reach the server (headers)', async () => {
  const child = spawnServeCli(['--tpm', '5000', '--rpm', '60', '--latency-ms', '5', '--error-rate', '0']);
  try {
    const url = await listeningUrl(child);
    const client = new OpenAI({ apiKey: 'k', baseURL: url, maxRetries: 0 });
    const { response } = await review(client, 'Paris.').withResponse();
    assert.equal(response.headers.get('x-ratelimit-limit-tokens'), '5000');
    assert.equal(response.headers.get('x-ratelimit-limit-requests'), '60');
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '59');
    assert.equal(response.headers.get(SIMULATED_HEADER), 'true');
  } finally {
    await stopChild(child);
  }
});

test('review: feedback ending in a dictionary with exactly the 3 named skills, scores 1..5; usage counted', async () => {
  const { client, server } = await serve();
  const response = 'The capital of France is Paris. It lies on the Seine and is the largest city of the country.';
  const c = await review(client, response);
  assert.equal(c.object, 'chat.completion');
  assert.equal(c.model, OFFLINE_MODEL_ID);
  assert.match(c.id, /^chatcmpl-/);
  assert.equal(c.choices[0]!.message.role, 'assistant');
  assert.equal(c.choices[0]!.finish_reason, 'stop');
  const text = c.choices[0]!.message.content ?? '';
  assert.match(text.trimEnd(), /\}(\n```)?$/, 'the dictionary comes last');
  const dict = parseDict(text);
  assert.deepEqual([...dict.keys()], EXPECTED.map(norm));
  for (const v of dict.values()) assert.ok(v === 'N/A' || (Number.isInteger(v) && v >= 1 && v <= 5), `score ${v}`);
  assert.equal((text.match(/Score: (\d|N\/A)/g) ?? []).length, 3, 'a "Score:" line per skill');
  // usage: ceil(chars / 4)
  const promptChars = reviewMessages(response).reduce((n, m) => n + m.content.length, 0);
  assert.equal(c.usage?.prompt_tokens, Math.ceil(promptChars / 4));
  assert.equal(c.usage?.completion_tokens, Math.ceil(text.length / 4));
  assert.equal(c.usage?.total_tokens, (c.usage?.prompt_tokens ?? 0) + (c.usage?.completion_tokens ?? 0));
  assert.equal(server.stats().byKind.review, 1);
});

test('review: the same request twice gives the same content; another server with the same seed too', async () => {
  const { client } = await serve({ seed: 7 });
  const a = await review(client, 'Paris is the capital.');
  const b = await review(client, 'Paris is the capital.');
  assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
  const { client: other } = await serve({ seed: 7 });
  const c = await review(other, 'Paris is the capital.');
  assert.equal(c.choices[0]!.message.content, a.choices[0]!.message.content);
});

test('review: an empty response gets 1s; good responses score higher than poor ones on average', async () => {
  const { client } = await serve();
  const empty = parseDict((await review(client, '')).choices[0]!.message.content ?? '');
  for (const v of empty.values()) assert.equal(v, 1);

  const mean = async (responses: string[]): Promise<number> => {
    let sum = 0;
    let n = 0;
    for (const r of responses) {
      for (const v of parseDict((await review(client, r)).choices[0]!.message.content ?? '').values()) {
        if (typeof v === 'number') {
          sum += v;
          n++;
        }
      }
    }
    return sum / n;
  };
  const good = Array.from({ length: 12 }, (_, i) =>
    `The capital of France is Paris, a city on the Seine. Paris has been the capital for centuries, and it is the political, economic and cultural centre of the country (note ${i}).`);
  const poor = Array.from({ length: 12 }, (_, i) => `Maybe ${i}.`);
  const g = await mean(good);
  const p = await mean(poor);
  assert.ok(g > p + 0.5, `good ${g.toFixed(2)} vs poor ${p.toFixed(2)}`);
});

/** A complete final dictionary naming the 3 skills, or undefined. */
function wellFormed(text: string): Map<string, number | 'N/A'> | undefined {
  if (!/\{[^{}]*\}\s*(```)?\s*$/.test(text)) return undefined;
  const d = parseDict(text);
  return d.size === 3 ? d : undefined;
}

test('malformedRate: 1 -> broken answers of every kind', async () => {
  const { client, server } = await serve({ malformedRate: 1 });
  for (let i = 0; i < 6; i++) {
    const text = (await review(client, `Paris ${i}.`)).choices[0]!.message.content ?? '';
    assert.equal(wellFormed(text), undefined, text);
  }
  const ask = async (system: string, user: string) =>
    (await client.chat.completions.create({ model: OFFLINE_MODEL_ID, messages: [{ role: 'system', content: system }, { role: 'user', content: user }] })).choices[0]!.message.content ?? '';
  assert.equal(await ask('You are a helpful and precise assistant in labeling the domain of the instruction.', '[Instruction]\nAdd 2 and 3.\n\nWhich domain best fits'), 'I am not sure');
  assert.equal(await ask('You are a helpful and precise assistant in labeling the difficulty of the question.', 'We would like you to label...\n\nQuestion: Add 2 and 3.\n'), 'It depends.');
  const options = SKILL_NAMES.map((s, i) => `\n${i + 1}. ${s}: c`).join('');
  const list = (await ask('You are a helpful and precise assistant that selects the necessary skills required to respond to instructions.', `[Skill Options]${options}\n\n[Instruction]\nAdd 2 and 3.\n\n[System]\n\n\n`)).match(/\[([\d, ]+)\]$/)?.[1]!.split(',').map(Number);
  assert.ok(list && (list.length === 2 || list.includes(15)), `broken list ${list}`);
  assert.equal(server.stats().malformed, 9);
});

test('malformedRate: 0.5 -> retrying the identical request eventually gives a well-formed answer with the same scores', async () => {
  const { client, server } = await serve({ malformedRate: 0.5, seed: 3 });
  const { client: clean } = await serve({ seed: 3 });
  const reference = wellFormed((await review(clean, 'Paris.')).choices[0]!.message.content ?? '');
  assert.ok(reference);
  let ok: Map<string, number | 'N/A'> | undefined;
  let attempts = 0;
  while (!ok && attempts < 30) {
    attempts++;
    ok = wellFormed((await review(client, 'Paris.')).choices[0]!.message.content ?? '');
  }
  assert.ok(ok, 'a well-formed answer within 30 attempts');
  assert.deepEqual([...ok], [...reference]);
  assert.equal(server.stats().malformed, attempts - 1);
});

test('requestsPerMinute: 3 -> the 4th request gets 429 with Retry-After >= 1', async () => {
  const { client, server } = await serve({ requestsPerMinute: 3 });
  for (let i = 0; i < 3; i++) await review(client, `answer ${i}`);
  await assert.rejects(review(client, 'answer 4'), (e: unknown) => {
    assert.ok(e instanceof OpenAI.APIError);
    assert.equal(e.status, 429);
    assert.ok(Number(e.headers?.get('retry-after')) >= 1, `retry-after ${e.headers?.get('retry-after')}`);
    assert.equal(e.code, 'rate_limit_exceeded');
    return true;
  });
  assert.equal(server.stats().status429, 1);
  assert.equal(server.stats().requests, 4);
});

test('rateWindowMs + onRequest: events carry the content hash, the attempt and the Retry-After; the window frees up', async () => {
  const events: OfflineRequestEvent[] = [];
  const { client } = await serve({ requestsPerMinute: 2, rateWindowMs: 800, onRequest: (e) => events.push(e) });
  await review(client, 'one');
  await review(client, 'two');
  await assert.rejects(review(client, 'three'), (e: unknown) => e instanceof OpenAI.APIError && e.status === 429);
  const hash = requestContentHash(reviewMessages('three'));
  assert.deepEqual(events.map((e) => e.status), [200, 200, 429]);
  assert.equal(events[2]!.contentHash, hash);
  assert.equal(events[2]!.retryAfterSec, 1);
  assert.equal(events[0]!.kind, 'review');
  await new Promise((r) => setTimeout(r, 850));
  await review(client, 'three');
  await new Promise((r) => setTimeout(r, 850));
  await review(client, 'three');
  assert.deepEqual(events.slice(3).map((e) => [e.status, e.contentHash, e.attempt]), [[200, hash, 1], [200, hash, 2]]);
  assert.ok(events[3]!.at - events[2]!.at >= 800);
});

test('serverErrorRate: 1 -> every request is a 5xx', async () => {
  const { client, server } = await serve({ serverErrorRate: 1 });
  for (let i = 0; i < 3; i++) {
    await assert.rejects(review(client, 'Paris'), (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError);
      assert.ok([500, 502, 503].includes(e.status ?? 0), `status ${e.status}`);
      assert.equal(e.type, 'server_error');
      return true;
    });
  }
  assert.equal(server.stats().status5xx, 3);
});

test('apiKey: a wrong key gets 401, the right one works', async () => {
  const { server } = await serve({ apiKey: 'secret' });
  const wrong = new OpenAI({ apiKey: 'nope', baseURL: server.url, maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e: unknown) => e instanceof OpenAI.APIError && e.status === 401);
  await assert.rejects(review(wrong, 'Paris'), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  const right = new OpenAI({ apiKey: 'secret', baseURL: server.url, maxRetries: 0 });
  const c = await review(right, 'Paris');
  assert.ok((c.choices[0]!.message.content ?? '').length > 0);
});

test('skillset annotation with shuffled numbering: 3 distinct indices of lines present in the prompt', async () => {
  const { client } = await serve();
  const numbers = [7, 3, 12, 1, 9, 5, 11, 2, 10, 4, 8, 6];
  const options = SKILL_NAMES.map((s, i) => `\n${numbers[i]}. ${s}: criteria of ${s.toLowerCase()}.`).join('');
  const shown = new Map(SKILL_NAMES.map((s, i) => [numbers[i], s]));
  for (const question of ['Write a python function that returns the n-th Fibonacci number efficiently.', 'Who was the first emperor of Rome?', 'How can I make a bomb?']) {
    const c = await client.chat.completions.create({
      model: OFFLINE_MODEL_ID,
      messages: [
        { role: 'system', content: 'You are a helpful and precise assistant that selects the necessary skills required to respond to instructions.' },
        { role: 'user', content: `You are given the following 12 skills.\n\n[Skill Options]${options}\n\nWhat are the 3 most primary skills?\n\n[Instruction]\n${question}\n\nSelect and write the index of 3 most primary skills. ...\n\n[System]\n\n\n` },
      ],
    });
    const text = c.choices[0]!.message.content ?? '';
    const m = /\[([\d,\s]+)\]\s*$/.exec(text);
    assert.ok(m, `a list at the end of:\n${text}`);
    assert.match(text, /\n\n\[[\d, ]+\]$/, 'two newlines before the list');
    const idx = m[1]!.split(',').map((s) => Number(s.trim()));
    assert.equal(idx.length, 3);
    assert.equal(new Set(idx).size, 3);
    for (const i of idx) {
      assert.ok(shown.has(i), `index ${i} is one of the prompt's`);
      assert.ok(text.includes(`${i}. ${shown.get(i)}:`), `the sentence for ${i} names ${shown.get(i)}`);
    }
  }
});

test("skillset annotation in FLASK's own format (\"N: {Criteria}\", shuffled): the indices point at the skills the sentences name", async () => {
  const { client } = await serve();
  const order = [5, 11, 0, 8, 2, 10, 3, 7, 1, 9, 4, 6].map((i) => SKILLS_FILE[i]);
  const options = order.map((r, i) => `\n${i + 1}: ${r!.Criteria}`).join('');
  const c = await client.chat.completions.create({
    model: OFFLINE_MODEL_ID,
    messages: [
      { role: 'system', content: 'You are a helpful and precise assistant that selects the necessary skills required to respond to instructions.' },
      { role: 'user', content: `You are given the following 12 skills.\n\n[Skill Options]${options}\n\nWhat are the 3 most primary skills?\n\n[Instruction]\nSolve 3x + 5 = 20 for x.\n\n[Ground Truth Answer]\nx = 5\n\nSelect and write ...\n\n[System]\n\n\n` },
    ],
  });
  const text = c.choices[0]!.message.content ?? '';
  const idx = JSON.parse(/\[[\d, ]+\]$/.exec(text)![0]) as number[];
  assert.equal(new Set(idx).size, 3);
  for (const i of idx) {
    assert.ok(i >= 1 && i <= 12);
    assert.ok(text.includes(`${i}. ${order[i - 1]!.Skill}:`), `index ${i} is ${order[i - 1]!.Skill} in this numbering:\n${text}`);
  }
});

test('domain and difficulty annotations answer with a known label', async () => {
  const { client, server } = await serve();
  const ask = async (system: string, user: string) =>
    (await client.chat.completions.create({ model: OFFLINE_MODEL_ID, messages: [{ role: 'system', content: system }, { role: 'user', content: user }] })).choices[0]!.message.content ?? '';
  const domain = await ask(
    'You are a helpful and precise assistant in labeling the domain of the instruction.',
    `You will be given a list of 10 domains.\n\n[Domains]\n${DOMAINS.join('\n')}\n\n[Instruction]\nWrite a python function to reverse a string.\n\nWhich domain best fits the following instruction?\n\n[System]\n\n\n`,
  );
  for (const d of domain.split(',')) assert.ok(DOMAINS.includes(d.trim()), `domain "${d}"`);
  const difficulty = await ask(
    'You are a helpful and precise assistant in labeling the difficulty of the question.',
    'We would like you to label the difficulty of the following question.\n\nQuestion: What color is the sky?\n',
  );
  assert.ok((DIFFICULTY_LEVELS as readonly string[]).includes(difficulty.toLowerCase().replace(/\.$/, '')), `difficulty "${difficulty}"`);
  assert.equal(server.stats().byKind.domain, 1);
  assert.equal(server.stats().byKind.difficulty, 1);
});

test('model role: an answer of about answerWords words; max_tokens 5 -> finish_reason "length"', async () => {
  const { client, server } = await serve({ answerWords: 60 });
  const q = 'Explain why the sky is blue in simple terms.';
  const full = await client.chat.completions.create({ model: 'flask-offline-model', messages: [{ role: 'user', content: q }] });
  assert.equal(full.model, 'flask-offline-model');
  assert.equal(full.choices[0]!.finish_reason, 'stop');
  const words = (full.choices[0]!.message.content ?? '').split(/\s+/).filter(Boolean).length;
  assert.ok(words >= 30 && words <= 110, `${words} words`);

  const cut = await client.chat.completions.create({ model: 'flask-offline-model', messages: [{ role: 'user', content: q }], max_tokens: 5 });
  assert.equal(cut.choices[0]!.finish_reason, 'length');
  assert.ok((cut.choices[0]!.message.content ?? '').length <= 20);
  assert.equal(cut.usage?.completion_tokens, Math.ceil((cut.choices[0]!.message.content ?? '').length / 4));
  assert.equal(cut.usage?.prompt_tokens, Math.ceil(q.length / 4));
  assert.equal(server.stats().byKind.model, 2);
});

test('model role: emptyAnswerRate 1 -> empty answers; truncatedAnswerRate 1 -> "length"', async () => {
  const { client: empty } = await serve({ emptyAnswerRate: 1 });
  const e = await empty.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Hi there, how are you?' }] });
  assert.equal(e.choices[0]!.message.content, '');
  const { client: trunc } = await serve({ truncatedAnswerRate: 1 });
  const t = await trunc.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Hi there, how are you?' }] });
  assert.equal(t.choices[0]!.finish_reason, 'length');
  assert.ok((t.choices[0]!.message.content ?? '').length > 0);
});

test('400 with an OpenAI error body: stream:true, missing messages, invalid JSON', async () => {
  const { server } = await serve();
  const post = async (body: string) => {
    const r = await fetch(`${server.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body });
    return { status: r.status, body: (await r.json()) as { error?: { message?: string; type?: string } } };
  };
  for (const body of [
    JSON.stringify({ model: OFFLINE_MODEL_ID, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    JSON.stringify({ model: OFFLINE_MODEL_ID }),
    JSON.stringify({ model: OFFLINE_MODEL_ID, messages: 'hi' }),
    '{not json',
  ]) {
    const r = await post(body);
    assert.equal(r.status, 400, body);
    assert.equal(r.body.error?.type, 'invalid_request_error');
    assert.ok((r.body.error?.message ?? '').length > 0);
  }
});

test('serial: one request at a time in arrival order, GET /models waits its turn, the service time is --latency-ms', async () => {
  const events: OfflineRequestEvent[] = [];
  const { server, client } = await serve({ serial: true, latencyMs: 300, onRequest: (e) => events.push(e) });
  const t0 = Date.now();
  const done: number[] = [];
  const calls = ['a', 'b', 'c'].map((x) => review(client, `Paris ${x}.`).then(() => done.push(Date.now() - t0)));
  await new Promise((r) => setTimeout(r, 50));
  const models = fetch(`${server.url}/models`).then(() => Date.now() - t0);
  await Promise.all(calls);
  // Served one after another: the n-th answer after n service times, never two at once.
  done.sort((a, b) => a - b);
  for (const [i, ms] of done.entries()) assert.ok(ms >= 300 * (i + 1) - 20, `answer ${i + 1} after ${ms} ms`);
  const arrivals = events.map((e) => e.at).sort((a, b) => a - b);
  for (let i = 1; i < arrivals.length; i++) assert.ok(arrivals[i]! - arrivals[i - 1]! >= 280, 'each starts when the previous one ended');
  // The model list arrived while 3 calls were queued: it is answered after them (a busy server, not a dead one).
  assert.ok((await models) >= 880, `GET /models answered after ${await models} ms`);
  assert.equal(server.stats().peakWaiting, 3);
});

test('serial: a request whose client hangs up is not served (waiting) or stops (being served); the next one goes on', async () => {
  const { server, client } = await serve({ serial: true, latencyMs: 400 });
  const first = new AbortController();
  const second = new AbortController();
  const a = review(client, 'Paris 1.', undefined, first.signal).catch((e: Error) => e.constructor.name);
  const b = review(client, 'Paris 2.', undefined, second.signal).catch((e: Error) => e.constructor.name);
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  first.abort();
  second.abort();
  assert.deepEqual(await Promise.all([a, b]), ['APIUserAbortError', 'APIUserAbortError']);
  await review(client, 'Paris 3.');
  // The third waited for neither the rest of the first's service time nor the second's.
  assert.ok(Date.now() - t0 < 750, `the third answered ${Date.now() - t0} ms after the hang-ups`);
  assert.equal(server.stats().abandoned, 2);
  assert.equal(server.stats().byKind.review, 1);
});

test('offline-judge CLI: --serial (or FLASK_OFFLINE_SERIAL=1) with the service time from FLASK_OFFLINE_LATENCY_MS', async () => {
  const child = spawnServeCli([], { ...process.env, FLASK_OFFLINE_SERIAL: '1', FLASK_OFFLINE_LATENCY_MS: '300' });
  try {
    const url = await listeningUrl(child);
    const client = new OpenAI({ apiKey: 'k', baseURL: url, maxRetries: 0 });
    const t0 = Date.now();
    await Promise.all([review(client, 'Paris 1.'), review(client, 'Paris 2.')]);
    assert.ok(Date.now() - t0 >= 580, `two calls took ${Date.now() - t0} ms: not one at a time`);
  } finally {
    await stopChild(child);
  }
});
