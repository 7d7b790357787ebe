import type { Sql } from '../store/database.js';
import { parseJson } from '../store/runs.js';
import { difficultyLevel } from '../flask/difficulty.js';

export interface Agreement {
  domain: { compared: number; exactMatch: number; anyOverlap: number };
  skillset: { compared: number; meanOverlap: number; top1Match: number };
  difficulty: { compared: number; exact: number; withinOne: number };
}

/**
 * Agreement of an annotation run with the reference labels its input carried (FLASK's GPT-4
 * labels for the evaluation set). Rates are over instances where both sides have a label.
 */
export async function annotationAgreement(sql: Pick<Sql, 'all'>, runId: string): Promise<Agreement> {
  const rows = await sql.all(
    `SELECT i.idx, i.skills, i.domains, i.difficulty, a.stage, a.label
     FROM instances i JOIN annotations a USING (run_id, idx) WHERE i.run_id = ? AND a.status = 'labelled'`,
    [runId],
  );
  const acc = { d: [0, 0, 0], s: [0, 0, 0], f: [0, 0, 0] };
  for (const r of rows) {
    const label = parseJson<unknown>(r.label);
    if (r.stage === 'domain') {
      const ref = (r.domains as string[]) ?? [];
      const got = label as string[];
      if (ref.length === 0) continue;
      acc.d[0]! += 1;
      if (ref.length === got.length && ref.every((x) => got.includes(x))) acc.d[1]! += 1;
      if (got.some((x) => ref.includes(x))) acc.d[2]! += 1;
    } else if (r.stage === 'skillset') {
      const ref = (r.skills as string[]) ?? [];
      const got = label as string[];
      if (ref.length === 0) continue;
      acc.s[0]! += 1;
      acc.s[1]! += got.filter((x) => ref.includes(x)).length / ref.length;
      if (got[0] === ref[0]) acc.s[2]! += 1;
    } else if (r.stage === 'difficulty') {
      const ref = difficultyLevel((r.difficulty as string | null) ?? '');
      const got = difficultyLevel(label as string);
      if (ref === undefined || got === undefined) continue;
      acc.f[0]! += 1;
      if (ref === got) acc.f[1]! += 1;
      if (Math.abs(ref - got) <= 1) acc.f[2]! += 1;
    }
  }
  const rate = (x: number, n: number) => (n === 0 ? 0 : x / n);
  return {
    domain: { compared: acc.d[0]!, exactMatch: rate(acc.d[1]!, acc.d[0]!), anyOverlap: rate(acc.d[2]!, acc.d[0]!) },
    skillset: { compared: acc.s[0]!, meanOverlap: rate(acc.s[1]!, acc.s[0]!), top1Match: rate(acc.s[2]!, acc.s[0]!) },
    difficulty: { compared: acc.f[0]!, exact: rate(acc.f[1]!, acc.f[0]!), withinOne: rate(acc.f[2]!, acc.f[0]!) },
  };
}
