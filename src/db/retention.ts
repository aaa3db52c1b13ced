/**
 * `[retention] days`: the history tables that grow with every scan, sync and mail are pruned
 * daily. What the archive is for stays forever: links, sync_runs (they carry the DOIs), the files
 * a sync archived, and every unfinished piece of work.
 */
import type pg from 'pg';
import { withTransaction } from './database.js';

export interface PruneResult {
  scanRuns: number;
  syncSteps: number;
  mails: number;
}

/**
 * Deletes, finished more than `days` days before `now`:
 * - scan_runs that are done or failed, except the latest successful one of each source and kind
 *   (the status page and /healthz show it, however old);
 * - sync_steps of finished syncs, except those of a first version that ended without a recorded
 *   draft: their `creating_deposition` note is what makes the dataset's next sync look on Zenodo
 *   for a deposition it may have created without recording it (sync-queries.ts
 *   `mayHaveUnrecordedDeposition`);
 * - mails that were sent or finally failed.
 * `days` 0 keeps everything. One transaction: the tally of pruned scans (0006) moves with them.
 */
export async function prune(pool: pg.Pool, options: { days: number; now?: Date }): Promise<PruneResult> {
  if (options.days <= 0) return { scanRuns: 0, syncSteps: 0, mails: 0 };
  const cutoff = new Date((options.now ?? new Date()).getTime() - options.days * 86_400_000);
  return withTransaction(pool, async (client) => {
    const scans = await client.query<{ n: string }>(
      `WITH keep AS (
         SELECT DISTINCT ON (source, kind) id FROM scan_runs
          WHERE status = 'done' ORDER BY source, kind, finished_at DESC NULLS LAST, id DESC
       ), gone AS (
         DELETE FROM scan_runs
          WHERE status IN ('done', 'failed') AND coalesce(finished_at, started_at) < $1
            AND id NOT IN (SELECT id FROM keep)
          RETURNING kind, status
       ), tally AS (
         INSERT INTO pruned_scan_runs (kind, status, count)
         SELECT kind, status, count(*) FROM gone GROUP BY kind, status
         ON CONFLICT (kind, status) DO UPDATE SET count = pruned_scan_runs.count + excluded.count
       )
       SELECT count(*) AS n FROM gone`,
      [cutoff],
    );
    const steps = await client.query(
      `DELETE FROM sync_steps s USING sync_runs r
        WHERE s.sync_id = r.id AND r.finished_at IS NOT NULL AND r.finished_at < $1
          AND NOT (coalesce(r.kind = 'first_version', false) AND r.draft_id IS NULL AND r.state <> 'done')`,
      [cutoff],
    );
    // greatest() skips NULLs: a failed mail has no sent_at, its last attempt set next_attempt_at.
    const mails = await client.query(
      `DELETE FROM mail_outbox WHERE status IN ('sent', 'failed') AND greatest(created_at, sent_at, next_attempt_at) < $1`,
      [cutoff],
    );
    return { scanRuns: Number(scans.rows[0]?.n ?? 0), syncSteps: steps.rowCount ?? 0, mails: mails.rowCount ?? 0 };
  });
}
