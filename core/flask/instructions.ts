import { z } from 'zod';
import { readJsonl } from '../inputs/jsonl.js';
import { INSTRUCTION_FIELDS, needsInstructionText, rejectDuplicates } from './dataset.js';

/**
 * A user's instruction to annotate: JSONL with `instruction` (or FLASK's `text`), an optional
 * reference `answer` and an optional integer id (`idx`, `id` or `question_id`; else the line number).
 */
export const InstructionSchema = z.object(INSTRUCTION_FIELDS).passthrough().refine(...needsInstructionText);

export interface InstructionItem {
  idx: number;
  instruction: string;
  answer: string;
  task: string;
}

export function loadInstructions(file: string): InstructionItem[] {
  const rows = readJsonl(file, InstructionSchema, 'Each line: {"instruction": "...", "answer": "optional reference", "idx": optional integer id}');
  const items = rows.map((r) => ({
    line: r.line,
    value: {
      idx: r.value.idx ?? r.value.id ?? r.value.question_id ?? r.line,
      instruction: (r.value.instruction ?? r.value.text)!,
      answer: r.value.answer ?? '',
      task: r.value.task ?? '',
    },
  }));
  rejectDuplicates(file, items, (v) => v.idx, 'idx');
  return items.map((i) => i.value);
}
