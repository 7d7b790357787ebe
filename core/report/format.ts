import type { AnalysisRow, ReportBy } from './analyses.js';

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
