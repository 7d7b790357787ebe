import type { AnalysisRow, ReportBy } from './analyses.js';

export type ReportFormat = 'table' | 'csv' | 'json';

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? 'N/A' : v.toFixed(3));

/**
 * CSV in the columns of FLASK's aggregate scripts (skill,score,count,avg and, per difficulty,
 * score,count,avg,cumu), with the run and the row's key added in front so several runs fit in one file.
 */
export function toCsv(rows: readonly AnalysisRow[], by: ReportBy): string {
  const head = by === 'difficulty' ? 'run,skill,difficulty,level,score,count,avg,cumu' : by === 'skill' ? 'run,skill,score,count,avg' : 'run,domain,score,count,avg';
  const lines = rows.map((r) => {
    const common = [r.run_id, r.key];
    const tail = [String(r.score_sum), String(r.count), r.avg === null ? 'N/A' : String(r.avg)];
    return (by === 'difficulty' ? [...common, r.difficulty ?? '', String(r.level), ...tail, r.cumulative_avg == null ? 'N/A' : String(r.cumulative_avg)] : [...common, ...tail])
      .map(csvCell)
      .join(',');
  });
  return [head, ...lines].join('\n') + '\n';
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A terminal table with one column per run ("avg (n)"), rows in FLASK's skill order or by
 * domain; for difficulty, one row per skill and level.
 */
export function toTable(rows: readonly AnalysisRow[], by: ReportBy, runIds: readonly string[]): string {
  const rowKey = (r: AnalysisRow) => (by === 'difficulty' ? `${r.key} / L${r.level} ${r.difficulty}` : r.key);
  const keys = [...new Set(rows.map(rowKey))];
  const cell = new Map(rows.map((r) => [`${rowKey(r)}\u0000${r.run_id}`, r]));
  const header = [by === 'domain' ? 'domain' : by === 'skill' ? 'skill' : 'skill / level', ...runIds];
  const body = keys.map((k) => [
    k,
    ...runIds.map((id) => {
      const r = cell.get(`${k}\u0000${id}`);
      if (!r) return '-';
      const extra = by === 'difficulty' ? ` cum ${fmt(r.cumulative_avg)}` : r.na_count ? ` N/A ${r.na_count}` : '';
      return `${fmt(r.avg)} (n=${r.count})${extra}`;
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n') + '\n';
}

export function formatReport(rows: readonly AnalysisRow[], by: ReportBy, runIds: readonly string[], format: ReportFormat): string {
  if (format === 'csv') return toCsv(rows, by);
  if (format === 'json') return JSON.stringify(rows, null, 2) + '\n';
  return toTable(rows, by, runIds);
}
