/**
 * A plain-text table. Every value is printed whole unless it is longer than `maxWidth`; then it
 * is cut and ends with "...", and a note under the table says so. An empty table still prints
 * its header (and says "(no rows)").
 */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[], opts: { maxWidth?: number } = {}): string {
  const max = opts.maxWidth ?? Infinity;
  let cut = false;
  const clean = (s: string) => s.replace(/\s*\n\s*/g, ' ↵ ').replace(/\t/g, ' ');
  const body = rows.map((r) =>
    r.map((c) => {
      const s = clean(c);
      if (s.length > max) {
        cut = true;
        return `${s.slice(0, Math.max(0, max - 3))}...`;
      }
      return s;
    }),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  if (rows.length === 0) out.push('(no rows)');
  if (cut) out.push(`(values longer than ${max} characters are cut and end with "..."; --full prints them whole)`);
  return out.join('\n') + '\n';
}
