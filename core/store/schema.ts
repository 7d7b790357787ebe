import { SKILLS } from '../flask/skills.js';
import { DIFFICULTY_LEVELS } from '../flask/difficulty.js';
import type { Sql } from './sql.js';
import { endpointId } from '../provider/endpoint.js';
import { judgeIdOf } from '../pipeline.js';

/**
 * The results schema. Every table is keyed so that landing the same thing twice is a no-op
 * (INSERT ... ON CONFLICT DO NOTHING): a retried activity never duplicates a row.
 * Secrets never enter it: endpoints are stored as host names only.
 */
const TABLES = `
CREATE TABLE IF NOT EXISTS runs (
  run_id VARCHAR PRIMARY KEY,
  kind VARCHAR NOT NULL,                 -- review | infer | eval | annotate
  created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
  simulated BOOLEAN NOT NULL,            -- true when the offline judge/model produced the outputs
  dataset_path VARCHAR, dataset_sha256 VARCHAR,
  answers_path VARCHAR, answers_sha256 VARCHAR,
  model_id VARCHAR, model_endpoint VARCHAR, model_settings JSON,
  judge_model VARCHAR, judge_endpoint VARCHAR, judge_settings JSON,
  prompt_template_sha256 VARCHAR,
  project_version VARCHAR,
  summary JSON,                          -- data quirks found when the run was created
  judge_base_url VARCHAR, judge_queue VARCHAR,  -- the endpoints the run is bound to (base URL, never a key)
  model_base_url VARCHAR, model_queue VARCHAR,
  judge_profile VARCHAR,                 -- flask | prometheus (core/judges); its hash is prompt_template_sha256
  judges JSON                            -- a panel's judges [{id, model, baseUrl, profile}] (reviews.judge_id)
);
CREATE TABLE IF NOT EXISTS instances (
  run_id VARCHAR NOT NULL,
  idx INTEGER NOT NULL,
  ord INTEGER NOT NULL,                  -- 0..n-1: the order work is batched in
  instruction VARCHAR NOT NULL,
  answer VARCHAR,                        -- reference answer (may be empty)
  task VARCHAR,
  skills VARCHAR[],                      -- rubric names; empty for instructions still to annotate
  domains VARCHAR[],                     -- empty when unlabelled (FLASK's "-1")
  difficulty VARCHAR,                    -- NULL when unlabelled (FLASK's -1)
  extra JSON,
  PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS responses (
  run_id VARCHAR NOT NULL,
  idx INTEGER NOT NULL,
  model_id VARCHAR NOT NULL,
  text VARCHAR NOT NULL,
  source VARCHAR NOT NULL,               -- imported | generated
  finish_reason VARCHAR,
  prompt_tokens INTEGER, completion_tokens INTEGER,
  created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
  endpoint VARCHAR, served_model VARCHAR, simulated BOOLEAN,  -- which endpoint produced it; simulated: it said so
  PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS generation_failures (
  run_id VARCHAR NOT NULL,
  idx INTEGER NOT NULL,
  reason VARCHAR NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
  PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS reviews (
  run_id VARCHAR NOT NULL,
  idx INTEGER NOT NULL,
  status VARCHAR NOT NULL,               -- scored | failed
  judge_model VARCHAR,
  raw_text VARCHAR,                      -- the judge's last answer, verbatim
  error VARCHAR,                         -- why it failed
  prompt_tokens INTEGER, completion_tokens INTEGER,
  attempts INTEGER NOT NULL,             -- judge calls that returned text
  started_at TIMESTAMP, finished_at TIMESTAMP,
  endpoint VARCHAR, served_model VARCHAR, simulated BOOLEAN,
  judge_profile VARCHAR,                 -- how the judge was asked (core/judges): flask | prometheus
  judge_id VARCHAR NOT NULL DEFAULT '',  -- "<endpoint id>:<profile>": a panel's judges each review every instance
  review_template VARCHAR,               -- the judge template used: flask/prompt_id=2 (reference) or =1 (none), prometheus/...
  samples INTEGER,                       -- --judge-samples K (NULL = 1); review_scores holds the mean of the K samples
  PRIMARY KEY (run_id, idx, judge_id)
);
CREATE TABLE IF NOT EXISTS review_sample_scores (  -- --judge-samples K > 1: every sample's scores
  run_id VARCHAR NOT NULL,
  idx INTEGER NOT NULL,
  judge_id VARCHAR NOT NULL DEFAULT '',
  sample INTEGER NOT NULL,               -- 1..K
  skill VARCHAR NOT NULL,
  skill_key VARCHAR NOT NULL,
  score DOUBLE,                          -- 1-5; NULL = N/A
  PRIMARY KEY (run_id, idx, judge_id, sample, skill)
);
CREATE TABLE IF NOT EXISTS review_scores (
  run_id VARCHAR NOT NULL,
  idx INTEGER NOT NULL,
  skill VARCHAR NOT NULL,                -- rubric name
  skill_key VARCHAR NOT NULL,            -- FLASK's short key (correctness, readability, ...)
  score DOUBLE,                          -- 1-5; NULL = N/A
  judge_id VARCHAR NOT NULL DEFAULT '',  -- the review's judge (reviews.judge_id)
  PRIMARY KEY (run_id, idx, skill, judge_id)
);
CREATE TABLE IF NOT EXISTS human_labels (  -- flask-eval import-labels: people's scores of a run's responses
  run_id VARCHAR NOT NULL,
  idx INTEGER NOT NULL,
  annotator VARCHAR NOT NULL,
  skill VARCHAR NOT NULL,                -- rubric name
  skill_key VARCHAR NOT NULL,
  score DOUBLE,                          -- 1-5; NULL = N/A
  source_path VARCHAR, source_sha256 VARCHAR, source_line INTEGER,
  imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
  PRIMARY KEY (run_id, idx, annotator, skill)
);
CREATE TABLE IF NOT EXISTS annotations (
  run_id VARCHAR NOT NULL,
  idx INTEGER NOT NULL,
  stage VARCHAR NOT NULL,                -- domain | skillset | difficulty
  status VARCHAR NOT NULL,               -- labelled | failed
  label JSON,                            -- domains list / skills list / difficulty string
  raw_text VARCHAR,
  error VARCHAR,
  numbering JSON,                        -- skillset: the skill order shown to the annotator
  prompt_tokens INTEGER, completion_tokens INTEGER,
  attempts INTEGER NOT NULL,
  started_at TIMESTAMP, finished_at TIMESTAMP,
  model VARCHAR, endpoint VARCHAR, served_model VARCHAR, simulated BOOLEAN,
  PRIMARY KEY (run_id, idx, stage)
);
CREATE TABLE IF NOT EXISTS calls (       -- every HTTP attempt of a model call, including lost and re-sent ones
  run_id VARCHAR NOT NULL,
  idx INTEGER NOT NULL,
  step VARCHAR NOT NULL,                 -- generate | review | domain | skillset | difficulty
  call_no INTEGER NOT NULL,              -- 1, 2, ... per instance and step
  outcome VARCHAR NOT NULL,              -- ok | rate_limited | server_error | timeout | connection | bad_request | lost | possibly_sent | cached (from call_cache: no request, 0 tokens)
  http_status INTEGER,
  prompt_tokens INTEGER, completion_tokens INTEGER,  -- lost calls: the tokens of the call that repeated them
  latency_ms INTEGER,
  resent BOOLEAN NOT NULL,               -- repeats a call a dead worker sent (lost) or may have sent (possibly_sent)
  endpoint VARCHAR, model VARCHAR,
  started_at TIMESTAMP,
  judge_id VARCHAR,                      -- review calls: the panel judge (reviews.judge_id)
  via_batch BOOLEAN                      -- a Batch API line (--batch): billed at the batch discount
);
CREATE TABLE IF NOT EXISTS call_cache (  -- answers by content (core/cache/callKey.ts): shared by every run of this file
  key VARCHAR PRIMARY KEY,               -- sha256 of endpoint base URL + model, step, profile/template, call index, messages, sampling (never a key)
  endpoint VARCHAR, model VARCHAR, step VARCHAR,
  text VARCHAR NOT NULL, finish_reason VARCHAR,
  prompt_tokens INTEGER, completion_tokens INTEGER,  -- what the original call used (what a cached call saves)
  served_model VARCHAR, simulated BOOLEAN,
  run_id VARCHAR, idx INTEGER,           -- the call that produced it
  created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS skill_catalog (skill VARCHAR PRIMARY KEY, skill_key VARCHAR NOT NULL, skill_order INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS difficulty_catalog (difficulty VARCHAR PRIMARY KEY, level INTEGER NOT NULL);
`;

/**
 * FLASK's analyses as views. N/A scores are excluded from averages (FLASK skips them) but counted.
 * Only reviews with status 'scored' contribute.
 */
const VIEWS = `
CREATE OR REPLACE VIEW scores AS
SELECT s.run_id, s.idx, s.skill, s.skill_key, c.skill_order, s.score,
       i.difficulty, d.level AS difficulty_level, i.domains, i.task, s.judge_id, r.judge_model, r.judge_profile
FROM review_scores s
JOIN reviews r USING (run_id, idx, judge_id)
JOIN instances i USING (run_id, idx)
JOIN skill_catalog c ON c.skill = s.skill
LEFT JOIN difficulty_catalog d ON d.difficulty = i.difficulty
WHERE r.status = 'scored';

CREATE OR REPLACE VIEW skill_summary AS
SELECT run_id, skill_key AS skill, skill_order,
       sum(score) AS score_sum, count(score) AS count, avg(score) AS avg, count(*) - count(score) AS na_count, judge_id
FROM scores GROUP BY run_id, skill_key, skill_order, judge_id;

CREATE OR REPLACE VIEW skill_difficulty_summary AS
SELECT run_id, skill, skill_order, difficulty, difficulty_level, score_sum, count, avg,
       sum(score_sum) OVER w / nullif(sum(count) OVER w, 0) AS cumulative_avg, judge_id
FROM (
  SELECT run_id, skill_key AS skill, skill_order, difficulty, difficulty_level, judge_id,
         sum(score) AS score_sum, count(score) AS count, avg(score) AS avg
  FROM scores WHERE difficulty_level IS NOT NULL
  GROUP BY ALL
)
WINDOW w AS (PARTITION BY run_id, judge_id, skill ORDER BY difficulty_level ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);

CREATE OR REPLACE VIEW domain_summary AS
SELECT run_id, domain, sum(score) AS score_sum, count(score) AS count, avg(score) AS avg, count(*) - count(score) AS na_count, judge_id
FROM (SELECT run_id, judge_id, score, unnest(domains) AS domain FROM scores)
GROUP BY run_id, domain, judge_id;

CREATE OR REPLACE VIEW domain_skill_summary AS
SELECT run_id, domain, skill_key AS skill, skill_order, sum(score) AS score_sum, count(score) AS count, avg(score) AS avg, judge_id
FROM (SELECT run_id, judge_id, score, skill_key, skill_order, unnest(domains) AS domain FROM scores)
GROUP BY ALL;

-- A panel pooled (flask-eval report --pooled): the instances every judge of the run scored; per
-- instance and skill the mean of the judges' non-N/A scores (NULL = every judge said N/A).
CREATE OR REPLACE VIEW pooled_scores AS
WITH panel AS (SELECT run_id, count(DISTINCT judge_id) AS judges FROM reviews GROUP BY run_id),
complete AS (
  SELECT v.run_id, v.idx FROM reviews v JOIN panel p USING (run_id)
  WHERE v.status = 'scored' GROUP BY v.run_id, v.idx, p.judges HAVING count(DISTINCT v.judge_id) = p.judges
)
SELECT s.run_id, s.idx, s.skill, s.skill_key, s.skill_order, avg(s.score) AS score, count(s.score) AS judges_scoring, count(*) AS judges
FROM scores s JOIN complete USING (run_id, idx)
GROUP BY s.run_id, s.idx, s.skill, s.skill_key, s.skill_order;

CREATE OR REPLACE VIEW pooled_skill_summary AS
SELECT run_id, skill_key AS skill, skill_order, sum(score) AS score_sum, count(score) AS count, avg(score) AS avg, count(*) - count(score) AS na_count
FROM pooled_scores GROUP BY run_id, skill_key, skill_order;

CREATE OR REPLACE VIEW run_progress AS
SELECT r.run_id, r.kind,
       (SELECT count(*) FROM instances i WHERE i.run_id = r.run_id) AS instances,
       (SELECT count(*) FROM responses x WHERE x.run_id = r.run_id) AS responses,
       (SELECT count(*) FROM reviews v WHERE v.run_id = r.run_id AND v.status = 'scored') AS reviews_scored,
       (SELECT count(*) FROM reviews v WHERE v.run_id = r.run_id AND v.status = 'failed') AS reviews_failed,
       (SELECT count(*) FROM annotations a WHERE a.run_id = r.run_id AND a.status = 'labelled') AS annotations_labelled,
       (SELECT count(*) FROM annotations a WHERE a.run_id = r.run_id AND a.status = 'failed') AS annotations_failed
FROM runs r;

CREATE OR REPLACE VIEW run_calls AS
SELECT run_id, step, count(*) FILTER (outcome NOT IN ('lost', 'possibly_sent', 'cached')) AS calls,
       count(*) FILTER (outcome = 'cached') AS cached,
       count(*) FILTER (outcome = 'ok') AS ok,
       count(*) FILTER (outcome = 'rate_limited') AS rate_limited,
       count(*) FILTER (outcome IN ('server_error', 'timeout', 'connection', 'bad_request')) AS errors,
       count(*) FILTER (outcome = 'lost') AS lost,
       count(*) FILTER (outcome = 'possibly_sent') AS possibly_sent,
       count(*) FILTER (resent) AS resent,
       coalesce(sum(prompt_tokens) FILTER (outcome IN ('lost', 'possibly_sent')), 0) + coalesce(sum(completion_tokens) FILTER (outcome IN ('lost', 'possibly_sent')), 0) AS lost_tokens,
       coalesce(sum(prompt_tokens), 0) + coalesce(sum(completion_tokens), 0) AS tokens
FROM calls GROUP BY run_id, step;
`;

/**
 * Columns added after the first release: provenance per row (which endpoint and model produced
 * it, and whether that endpoint said it is simulated) and the run's endpoint bindings. Added
 * with IF NOT EXISTS so that files written by the first release open and gain them.
 */
const ADDED_COLUMNS = `
ALTER TABLE runs ADD COLUMN IF NOT EXISTS judge_base_url VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS judge_queue VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS model_base_url VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS model_queue VARCHAR;
ALTER TABLE responses ADD COLUMN IF NOT EXISTS endpoint VARCHAR;
ALTER TABLE responses ADD COLUMN IF NOT EXISTS served_model VARCHAR;
ALTER TABLE responses ADD COLUMN IF NOT EXISTS simulated BOOLEAN;
ALTER TABLE reviews ADD COLUMN IF NOT EXISTS endpoint VARCHAR;
ALTER TABLE reviews ADD COLUMN IF NOT EXISTS served_model VARCHAR;
ALTER TABLE reviews ADD COLUMN IF NOT EXISTS simulated BOOLEAN;
ALTER TABLE annotations ADD COLUMN IF NOT EXISTS model VARCHAR;
ALTER TABLE annotations ADD COLUMN IF NOT EXISTS endpoint VARCHAR;
ALTER TABLE annotations ADD COLUMN IF NOT EXISTS served_model VARCHAR;
ALTER TABLE annotations ADD COLUMN IF NOT EXISTS simulated BOOLEAN;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS judge_profile VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS judges JSON;
ALTER TABLE reviews ADD COLUMN IF NOT EXISTS judge_profile VARCHAR;
ALTER TABLE calls ADD COLUMN IF NOT EXISTS judge_id VARCHAR;
ALTER TABLE calls ADD COLUMN IF NOT EXISTS via_batch BOOLEAN;
ALTER TABLE calls ADD COLUMN IF NOT EXISTS batch_fallback VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS batch_fallback VARCHAR;
ALTER TABLE reviews ADD COLUMN IF NOT EXISTS review_template VARCHAR;
ALTER TABLE reviews ADD COLUMN IF NOT EXISTS samples INTEGER;
ALTER TABLE calls ADD COLUMN IF NOT EXISTS cache_key VARCHAR;
ALTER TABLE calls ADD COLUMN IF NOT EXISTS cached_from VARCHAR;
`;

export async function ensureSchema(sql: Sql): Promise<void> {
  for (const stmt of splitStatements(TABLES)) await sql.exec(stmt);
  for (const stmt of splitStatements(ADDED_COLUMNS)) await sql.exec(stmt);
  await keyReviewsByJudge(sql);
  for (const [i, s] of SKILLS.entries())
    await sql.exec('INSERT INTO skill_catalog VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [s.name, s.key, i + 1]);
  for (const [i, d] of DIFFICULTY_LEVELS.entries())
    await sql.exec('INSERT INTO difficulty_catalog VALUES (?, ?) ON CONFLICT DO NOTHING', [d, i + 1]);
  for (const stmt of splitStatements(VIEWS)) await sql.exec(stmt);
}


/**
 * Files written before panels key reviews by (run, idx) and scores by (run, idx, skill). DuckDB
 * cannot alter a primary key: create the keyed tables, copy (each old review's judge id from its
 * endpoint, model and profile), drop, rename — in one transaction (the caller checkpoints).
 */
async function keyReviewsByJudge(sql: Sql): Promise<void> {
  const cols = await sql.all(`SELECT column_name FROM information_schema.columns WHERE table_name = 'reviews' AND column_name = 'judge_id'`);
  if (cols.length > 0) return;
  await sql.exec('BEGIN TRANSACTION');
  try {
    const judges = await sql.all(
      `SELECT DISTINCT v.endpoint, coalesce(v.endpoint, r.judge_base_url) AS base, v.judge_model, v.judge_profile
       FROM reviews v LEFT JOIN runs r USING (run_id)`,
    );
    await sql.exec(`CREATE TEMP TABLE review_judge_ids (endpoint VARCHAR, judge_model VARCHAR, judge_profile VARCHAR, judge_id VARCHAR)`);
    for (const j of judges) {
      const id = j.base ? judgeIdOf(endpointId(String(j.base), String(j.judge_model ?? '')), j.judge_profile as string | null) : `legacy:${j.judge_model ?? ''}`;
      await sql.exec(`INSERT INTO review_judge_ids VALUES (?, ?, ?, ?)`, [j.endpoint ?? null, j.judge_model ?? null, j.judge_profile ?? null, id]);
    }
    const tables = splitStatements(TABLES);
    const def = (name: string) => tables.find((t) => t.startsWith(`CREATE TABLE IF NOT EXISTS ${name} `))!.replace(`IF NOT EXISTS ${name} `, `${name}_keyed `);
    await sql.exec(def('reviews'));
    await sql.exec(def('review_scores'));
    const reviewCols = (await sql.all(`SELECT column_name FROM information_schema.columns WHERE table_name = 'reviews' ORDER BY ordinal_position`)).map((r) => String(r.column_name));
    await sql.exec(
      `INSERT INTO reviews_keyed (${reviewCols.join(', ')}, judge_id)
       SELECT ${reviewCols.map((c) => `v.${c}`).join(', ')}, m.judge_id FROM reviews v
       JOIN review_judge_ids m ON m.endpoint IS NOT DISTINCT FROM v.endpoint AND m.judge_model IS NOT DISTINCT FROM v.judge_model
                              AND m.judge_profile IS NOT DISTINCT FROM v.judge_profile`,
    );
    await sql.exec(
      `INSERT INTO review_scores_keyed (run_id, idx, skill, skill_key, score, judge_id)
       SELECT s.run_id, s.idx, s.skill, s.skill_key, s.score, v.judge_id FROM review_scores s JOIN reviews_keyed v USING (run_id, idx)`,
    );
    for (const t of ['review_scores', 'reviews']) {
      await sql.exec(`DROP TABLE ${t}`);
      await sql.exec(`ALTER TABLE ${t}_keyed RENAME TO ${t}`);
    }
    await sql.exec(`DROP TABLE review_judge_ids`);
    await sql.exec('COMMIT');
  } catch (e) {
    await sql.exec('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

function splitStatements(script: string): string[] {
  return script
    .split(/;\s*\n/)
    .map((s) => s.replace(/--[^\n]*/g, '').trim())
    .filter(Boolean);
}
