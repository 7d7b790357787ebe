/** FLASK's 5 difficulty levels, easiest first; the number is the level used in reports (1-5). */
export const DIFFICULTY_LEVELS = [
  'simple lifestyle knowledge',
  'advanced lifestyle knowledge',
  'formal education knowledge',
  'major level knowledge',
  'expert level knowledge',
] as const;
export type Difficulty = (typeof DIFFICULTY_LEVELS)[number];

export function difficultyLevel(d: string): number | undefined {
  const i = (DIFFICULTY_LEVELS as readonly string[]).indexOf(d);
  return i < 0 ? undefined : i + 1;
}
