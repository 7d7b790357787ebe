/**
 * An evaluation set and an answers file of any size, for runs larger than FLASK's 1,700 answered
 * instances: FLASK's instances and GPT-4's published answers cycled under new ids 1..n. The work
 * per instance is FLASK's (same prompts, same lengths), which is what the baseline client sends too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DATA_FILES, publishedAnswersFile } from '../core/paths.js';

export function writeSyntheticSet(dir: string, n: number): { evalSet: string; answers: string } {
  const readJsonl = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
  const answers = new Map(readJsonl(publishedAnswersFile('gpt4')).map((a) => [a.question_id, a.text]));
  const answered = readJsonl(DATA_FILES.evalSet).filter((i) => answers.has(i.idx));
  const evalLines: string[] = [];
  const answerLines: string[] = [];
  for (let k = 0; k < n; k++) {
    const base = answered[k % answered.length];
    evalLines.push(JSON.stringify({ ...base, idx: k + 1 }));
    answerLines.push(JSON.stringify({ question_id: k + 1, text: answers.get(base!.idx) }));
  }
  const files = { evalSet: path.join(dir, `synthetic-eval-${n}.jsonl`), answers: path.join(dir, `synthetic-answers-${n}.jsonl`) };
  writeFileSync(files.evalSet, `${evalLines.join('\n')}\n`);
  writeFileSync(files.answers, `${answerLines.join('\n')}\n`);
  return files;
}
