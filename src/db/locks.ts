/**
 * Session-level advisory locks that say "someone is working on this right now". Unlike the
 * queue's lease, a lock dies with the connection of the process holding it, so a killed worker
 * frees it at once and a live one keeps it however long its upload takes.
 */
import type pg from 'pg';

/** Lock namespaces (first key of the two-key advisory lock). */
export const LOCK_SYNC_DATASET = 71_001;
export const LOCK_SCAN = 71_002;

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Tries to take the lock on a dedicated connection; undefined when another session holds it.
 * The connection stays checked out until `release`, which also returns it to the pool.
 */
export async function tryLock(pool: pg.Pool, namespace: number, key: string): Promise<HeldLock | undefined> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [namespace, key]);
    if (!rows[0]?.ok) {
      client.release();
      return undefined;
    }
  } catch (error) {
    client.release(error instanceof Error ? error : true);
    throw error;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [namespace, key]);
        client.release();
      } catch (error) {
        // A broken connection has dropped its locks already; discard it.
        client.release(error instanceof Error ? error : true);
      }
    },
  };
}

/** Open syncs (not done, unchanged or failed): what a restarted daemon has to finish. */
export async function openSyncDatasets(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ dataset_id: string }>(`SELECT dataset_id FROM sync_runs WHERE state NOT IN ('done', 'unchanged', 'skipped', 'failed') ORDER BY id`);
  return rows.map((r) => r.dataset_id);
}

/** Sync jobs queued or running plus mails not yet sent: zero means the system is idle. */
export async function pendingWork(pool: pg.Pool, syncQueue: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active'))
          + (SELECT count(*) FROM mail_outbox WHERE status IN ('pending', 'sending')) AS n`,
    [syncQueue],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Sync jobs pg-boss believes are running, started more than `olderThanSeconds` ago. */
export async function activeSyncJobs(pool: pg.Pool, syncQueue: string, olderThanSeconds: number): Promise<{ id: string; datasetId: string }[]> {
  const { rows } = await pool.query<{ id: string; singleton_key: string | null }>(
    `SELECT id, singleton_key FROM pgboss.job
      WHERE name = $1 AND state = 'active' AND started_on < now() - make_interval(secs => $2)`,
    [syncQueue, olderThanSeconds],
  );
  return rows.filter((r) => r.singleton_key !== null).map((r) => ({ id: r.id, datasetId: r.singleton_key! }));
}
