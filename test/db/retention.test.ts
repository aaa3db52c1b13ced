/**
 * `[retention] days` (src/db/retention.ts `prune`): exactly the old finished history goes; the
 * archive itself (syncs with DOIs, links, archived files) and unfinished work stay. Ages are set
 * with SQL on a real database; scans_total on /metrics must not drop when scans are pruned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prune } from '../../src/db/retention.js';
import { createStatusQueries } from '../../src/db/status-queries.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const DAY = "make_interval(days => $1)";

async function scan(label: string, kind: string, status: string, daysAgo: number, source = 'ckan'): Promise<void> {
  await db.pool.query(
    `INSERT INTO scan_runs (source, kind, status, started_at, finished_at, error)
     VALUES ($2, $3, $4::text, now() - ${DAY}, CASE WHEN $4::text = 'running' THEN NULL ELSE now() - ${DAY} + interval '1 minute' END, CASE WHEN $4::text = 'failed' THEN $5::text END)`,
    [daysAgo, source, kind, status, label],
  );
}

/** A sync with two steps and one archived file, finished `daysAgo` days ago (null: still open). */
async function sync(datasetId: string, state: string, kind: string | null, daysAgo: number, draftId: number | null = null): Promise<number> {
  const finished = ['done', 'unchanged', 'failed'].includes(state);
  const { rows } = await db.pool.query<{ id: string }>(
    `INSERT INTO sync_runs (dataset_id, trigger, state, kind, plan, draft_id, record_id, doi, error_code, started_at, finished_at)
     VALUES ($2, 'scan', $3::text, $4::text, CASE WHEN $4::text IS NULL THEN NULL ELSE '{}'::jsonb END, $5::bigint,
             CASE WHEN $3::text = 'done' THEN 7 END, CASE WHEN $3::text = 'done' THEN '10.5281/zenodo.7' END,
             CASE WHEN $3::text = 'failed' THEN 'ZENODO_UNAVAILABLE' END, now() - ${DAY}, CASE WHEN $6::boolean THEN now() - ${DAY} ELSE NULL END)
     RETURNING id`,
    [daysAgo, datasetId, state, kind, draftId, finished],
  );
  const id = Number(rows[0]!.id);
  await db.pool.query(`INSERT INTO sync_steps (sync_id, step, at) VALUES ($1, 'creating_deposition', now() - make_interval(days => $2)), ($1, $3, now() - make_interval(days => $2))`, [id, daysAgo, state]);
  await db.pool.query(`INSERT INTO sync_files (sync_id, filename, action, size) VALUES ($1, 'data.csv', 'add', 10)`, [id]);
  return id;
}

async function mail(recipient: string, status: string, daysAgo: number): Promise<void> {
  await db.pool.query(
    `INSERT INTO mail_outbox (recipient, kind, status, created_at, next_attempt_at, sent_at, last_error)
     VALUES ($2, 'new_version', $3::text, now() - ${DAY}, now() - ${DAY}, CASE WHEN $3::text = 'sent' THEN now() - ${DAY} END,
             CASE WHEN $3::text = 'failed' THEN 'mailbox unavailable' END)`,
    [daysAgo, recipient, status],
  );
}

async function column(sql: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ v: string }>(sql);
  return rows.map((r) => String(r.v));
}

describe('prune', () => {
  it('deletes exactly the old finished history and keeps the archive', async () => {
    await scan('old-failed', 'scan', 'failed', 200);
    await scan('old-done', 'scan', 'done', 150);
    await scan('latest-done-but-old', 'scan', 'done', 120); // latest success of source ckan: kept
    await scan('recent-failed', 'scan', 'failed', 10);
    await scan('old-running', 'scan', 'running', 300); // not finished: kept
    await scan('old-reconcile', 'reconcile', 'done', 130); // latest reconcile: kept
    await scan('older-reconcile', 'reconcile', 'done', 140);
    await scan('other-source', 'scan', 'done', 400, 'ckan-two'); // latest of its source: kept
    const before = await column("SELECT kind || ':' || status || ':' || extract(day from now() - started_at)::int AS v FROM scan_runs ORDER BY id");

    const doneOld = await sync('ds-done', 'done', 'new_version', 100);
    const failedOld = await sync('ds-failed', 'failed', 'new_version', 100, 55);
    const firstNoDraft = await sync('ds-first', 'failed', 'first_version', 100); // may have created a deposition: steps kept
    const recent = await sync('ds-recent', 'done', 'new_version', 30);
    const open = await sync('ds-open', 'planned', 'new_version', 200); // unfinished: kept

    await mail('old-sent@example.org', 'sent', 100);
    await mail('old-failed@example.org', 'failed', 100);
    await mail('old-pending@example.org', 'pending', 100); // still to send: kept
    await mail('recent-sent@example.org', 'sent', 5);

    const status = createStatusQueries(db.pool);
    const totalsBefore = await status.scanTotals();

    const result = await prune(db.pool, { days: 90 });
    expect(result).toEqual({ scanRuns: 3, syncSteps: 4, mails: 2 });

    const after = await column("SELECT kind || ':' || status || ':' || extract(day from now() - started_at)::int AS v FROM scan_runs ORDER BY id");
    expect(after).toEqual(before.filter((v) => !['scan:failed:200', 'scan:done:150', 'reconcile:done:140'].includes(v)));

    const stepsLeft = await column('SELECT DISTINCT sync_id AS v FROM sync_steps ORDER BY 1');
    expect(stepsLeft.map(Number).sort((a, b) => a - b)).toEqual([firstNoDraft, recent, open].sort((a, b) => a - b));
    expect(stepsLeft.map(Number)).not.toContain(doneOld);
    expect(stepsLeft.map(Number)).not.toContain(failedOld);
    // Syncs (with their DOIs) and archived files are kept forever.
    expect(await column('SELECT count(*) AS v FROM sync_runs')).toEqual(['5']);
    expect(await column('SELECT count(*) AS v FROM sync_files')).toEqual(['5']);
    expect(await column("SELECT doi AS v FROM sync_runs WHERE dataset_id = 'ds-done'")).toEqual(['10.5281/zenodo.7']);

    expect(await column('SELECT recipient AS v FROM mail_outbox ORDER BY recipient')).toEqual(['old-pending@example.org', 'recent-sent@example.org']);

    // The deleted scans stay counted: /metrics' scans_total never goes down.
    expect(await status.scanTotals()).toEqual(totalsBefore);

    // Running again finds nothing more.
    expect(await prune(db.pool, { days: 90 })).toEqual({ scanRuns: 0, syncSteps: 0, mails: 0 });
    expect(await status.scanTotals()).toEqual(totalsBefore);
  });

  it('keeps everything with days = 0', async () => {
    await scan('ancient', 'scan', 'failed', 5000);
    await mail('ancient@example.org', 'sent', 5000);
    expect(await prune(db.pool, { days: 0 })).toEqual({ scanRuns: 0, syncSteps: 0, mails: 0 });
    expect(await column("SELECT count(*) AS v FROM scan_runs WHERE started_at < now() - interval '4000 days'")).toEqual(['1']);
    expect(await column("SELECT count(*) AS v FROM mail_outbox WHERE recipient = 'ancient@example.org'")).toEqual(['1']);
  });
});
