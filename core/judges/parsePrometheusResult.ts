/**
 * Reads a Prometheus judge's "(feedback) [RESULT] n" output.
 *
 * Rules (decided here; prometheus-eval's own parser, parser.py, is looser: it also takes
 * "Score: 4" or "score of 4" anywhere at the very end of the text):
 *   - the marker is "[RESULT]" (any case), optionally followed by ":" and/or an opening "(" or "[";
 *   - the score is an integer 1-5, optionally followed by "/5" or "out of 5" and a closing bracket;
 *   - the LAST marker decides (earlier ones are the model echoing the format or drafting); if the
 *     last marker is not followed by a valid score the output is rejected, never silently
 *     replaced by an earlier one;
 *   - "4.5", "4-5", "45", "4/10", "0", "6" and a template echo like "(an integer number between
 *     1 and 5)" are rejected with a reason: the caller asks again, then records the failure;
 *   - text after the score is tolerated (a closing remark does not hide the score);
 *   - the feedback is the text before the last marker, trimmed (may be empty).
 */
export type PrometheusResult = { ok: true; score: number; feedback: string } | { ok: false; reason: string };

const MARKER = /\[\s*RESULT\s*\]/gi;
// After the marker: separators, the number, then an optional "/5" or "out of 5", then a boundary.
const SCORE = /^\s*:?\s*[([]?\s*(\d+(?:[.,]\d+)?)\s*(?:(\/\s*(\d+))|(out\s+of\s+(\d+)))?\s*[)\]]?(?=$|[\s.,;!)\]*"'])/i;

export function parsePrometheusResult(text: string): PrometheusResult {
  const markers = [...text.matchAll(MARKER)];
  if (markers.length === 0) {
    return { ok: false, reason: 'no "[RESULT] n" score in the output (expected "(feedback) [RESULT] (an integer between 1 and 5)")' };
  }
  const last = markers[markers.length - 1];
  const after = text.slice(last!.index! + last![0].length);
  const m = SCORE.exec(after);
  const shown = JSON.stringify(after.trim().slice(0, 40));
  if (!m) {
    if (after.trim() === '') return { ok: false, reason: 'nothing after the last "[RESULT]" (output truncated?)' };
    return { ok: false, reason: `the last "[RESULT]" is not followed by an integer 1-5 (got ${shown})` };
  }
  const [, num, , over1, , over2] = m;
  const scale = over1 ?? over2;
  if (scale !== undefined && scale !== '5') return { ok: false, reason: `score "${m[0].trim()}" is not on the 1-5 scale` };
  if (!/^\d+$/.test(num!)) return { ok: false, reason: `score ${num} is not an integer 1-5` };
  const score = Number(num);
  if (score < 1 || score > 5) return { ok: false, reason: `score ${score} is out of range 1-5` };
  return { ok: true, score, feedback: text.slice(0, last!.index).trim() };
}
