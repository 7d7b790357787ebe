/** The evaluated-model role: a plausible (SIMULATED) answer of about `answerWords` words. */
import type { Generated } from './generated.js';
import { Rng, unit } from './random.js';
import { contentWords, wordsOf } from './text.js';

export interface AnswerOptions {
  answerWords: number;
  emptyAnswerRate: number;
  truncatedAnswerRate: number;
}

/** The answer to `instruction` (the last user message): sometimes empty, sometimes cut off. */
export function generateAnswer(seed: number, reqHash: string, instruction: string, opts: AnswerOptions): Generated {
  if (unit(seed, 'empty', reqHash) < opts.emptyAnswerRate) return { text: '', finishReason: 'stop', malformed: false };
  const rng = new Rng(seed, 'answer', reqHash);
  const target = Math.max(1, Math.round(opts.answerWords * (0.7 + 0.6 * rng.next())));
  let text = modelAnswer(rng, instruction, target);
  let finishReason: Generated['finishReason'] = 'stop';
  if (unit(seed, 'truncated', reqHash) < opts.truncatedAnswerRate) {
    // Cut mid-sentence, as a model that hit its token limit.
    const cut = Math.max(1, Math.floor(text.length * (0.3 + 0.5 * unit(seed, 'truncated-at', reqHash))));
    text = text.slice(0, cut).replace(/[.?!]\s*$/, '');
    finishReason = 'length';
  }
  return { text, finishReason, malformed: false };
}

function topicOf(instruction: string): string {
  const first = instruction.replace(/\s+/g, ' ').trim().split(/(?<=[.?!])\s/)[0] ?? '';
  const w = first.split(' ').filter(Boolean);
  const short = w.slice(0, 14).join(' ').replace(/[.?!:;,]+$/, '');
  return w.length > 14 ? `${short} ...` : short;
}

/** Words of a request that say what to do rather than what it is about. */
const REQUEST_WORDS = new Set(
  ('write explain describe give make list provide create tell please following generate answer question use using ' +
    'whether show find help want need like know think given based rewrite input output').split(' '),
);

function keywordsOf(instruction: string): string[] {
  const counts = new Map<string, number>();
  for (const w of contentWords(instruction)) if (!/^\d+$/.test(w) && !REQUEST_WORDS.has(w)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || b[0].length - a[0].length).map(([w]) => w);
  return ranked.length > 0 ? ranked.slice(0, 6) : ['the question', 'the context'];
}

function modelAnswer(rng: Rng, instruction: string, targetWords: number): string {
  const topic = topicOf(instruction);
  const keys = keywordsOf(instruction);
  const k = (): string => rng.pick(keys);
  /** Two different keywords (when there are two). */
  const k2 = (): [string, string] => {
    const a = rng.int(keys.length);
    const b = keys.length > 1 ? (a + 1 + rng.int(keys.length - 1)) % keys.length : a;
    return [keys[a]!, keys[b]!];
  };
  const opener = topic
    ? rng.pick([
        `You asked: "${topic}". Here is a clear answer.`,
        `To answer "${topic}", let us go through it step by step.`,
        `Regarding "${topic}", there are a few points worth making.`,
        `Good question. The request "${topic}" can be addressed as follows.`,
      ])
    : 'Here is my answer.';
  const fillers: (() => string)[] = [
    () => {
      const [a, b] = k2();
      return a === b ? `The key idea concerns ${a} and how it applies here.` : `The key idea concerns ${a} and how it relates to ${b}.`;
    },
    () => `A careful look at ${k()} shows that the details matter.`,
    () => `In practice, ${k()} depends on the context and the constraints involved.`,
    () => `One common mistake is to overlook ${k()}, which can change the outcome.`,
    () => `It helps to consider a concrete example involving ${k()}.`,
    () => `Taking ${k()} into account, the most reasonable conclusion follows directly.`,
    () => `This also connects to ${k()}, which supports the main point.`,
    () => `First, identify what ${k()} means here; then apply it consistently.`,
    () => `Most sources agree that ${k()} plays a central role in this case.`,
  ];
  const parts = [opener];
  if (/\bcode\b|\bfunction\b|\bpython\b|\bprogram\b|\bimplement/i.test(instruction) && rng.next() < 0.7) {
    const fn = (keys[0] ?? 'solve').replace(/[^a-z0-9_]/gi, '').toLowerCase() || 'solve';
    parts.push(`\n\n\`\`\`python\ndef ${/^\d/.test(fn) ? `f_${fn}` : fn}(data):\n    result = []\n    for item in data:\n        result.append(item)\n    return result\n\`\`\`\n\n`);
  }
  let count = wordsOf(parts.join(' ')).length;
  while (count < targetWords) {
    const s = rng.pick(fillers)();
    parts.push(s);
    count += wordsOf(s).length;
  }
  parts.push(`In summary, the answer addresses ${keys[0]} directly.`);
  return parts.join(' ').replace(/ \n\n/g, '\n\n').replace(/\n\n /g, '\n\n');
}
