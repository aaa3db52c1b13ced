/**
 * Session-level advisory locks that say "someone is working on this right now". Unlike the
 * queue's lease, a lock dies with the connection of the process holding it, so a killed worker
 * frees it at once and a live one keeps it however long its upload takes.
 */
import type pg from 'pg';
import { AppError, toAppError } from '../errors.js';
import { pgCode } from './database.js';

/** Lock namespaces (first key of the two-key advisory lock). */
export const LOCK_SYNC_DATASET = 71_001;
export const LOCK_SCAN = 71_002;

export interface HeldLock {
  /**
   * Aborted when the connection holding the lock is gone (server restart, network loss): the
   * server dropped the lock with it, so another process may take the work now. Whoever works
   * under the lock must stop before its next recorded step; `assertHeld` says so as an error.
   */
  readonly signal: AbortSignal;
  /** Throws a retryable DB_UNAVAILABLE AppError once the lock is lost. */
  assertHeld(): void;
  release(): Promise<void>;
}

/**
 * Tries to take the lock on a dedicated connection; undefined when another session holds it.
 * The connection stays checked out until `release`, which also returns it to the pool.
 */
export async function tryLock(pool: pg.Pool, namespace: number, key: string): Promise<HeldLock | undefined> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toAppError(error);
  }
  const lost = new AbortController();
  const onLoss = (error?: Error): void => {
    if (!lost.signal.aborted) {
      lost.abort(new AppError('DB_UNAVAILABLE', `lost the database connection holding the lock ${namespace}/${key}: ${error?.message ?? 'connection closed'}`, { retryable: true, cause: error }));
    }
  };
  const onEnd = (): void => onLoss();
  client.on('error', onLoss);
  client.on('end', onEnd);
  const detach = (): void => {
    client.removeListener('error', onLoss);
    client.removeListener('end', onEnd);
  };
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [namespace, key]);
    if (!rows[0]?.ok) {
      detach();
      client.release();
      return undefined;
    }
    await keepSessionAlive(client);
  } catch (error) {
    detach();
    client.release(error instanceof Error ? error : true);
    throw toAppError(error);
  }
  let released = false;
  return {
    signal: lost.signal,
    assertHeld() {
      if (lost.signal.aborted) throw lost.signal.reason as AppError;
    },
    async release() {
      if (released) return;
      released = true;
      detach();
      if (lost.signal.aborted) {
        client.release(true);
        return;
      }
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

/**
 * The lock's session sits idle while the work it guards talks to CKAN and Zenodo, for minutes
 * during a long upload. With `idle_session_timeout` set on the role or database (PostgreSQL 14+,
 * 57P05), the server would end that session, and the lock with it, mid-sync. The setting is the
 * session's own to change; servers older than 14 do not know it (42704), and have no such timeout.
 * It stays on the pooled connection afterwards, which the pool closes when idle anyway.
 */
async function keepSessionAlive(client: pg.PoolClient): Promise<void> {
  try {
    await client.query('SET idle_session_timeout = 0');
  } catch (error) {
    if (pgCode(error) !== '42704') throw error;
  }
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
