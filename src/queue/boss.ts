/**
 * The job queue (pg-boss 10, schema `pgboss`). This is the one module that imports pg-boss.
 *
 * - `sync-dataset` uses the `stately` policy with `singletonKey = dataset id`: at most one queued
 *   and one active job per dataset (pg-boss's unique index on (name, state, singleton_key)), so a
 *   dataset edited during its sync is synced once more afterwards, never twice at once
 *   (DESIGN.md "Data flow" 3). A send that would be a second queued job is silently dropped by
 *   pg-boss (`ON CONFLICT DO NOTHING`) — the queued job re-reads the dataset anyway.
 * - `enqueueSync` can run inside the caller's transaction (pg-boss's `db: { executeSql }`
 *   option), so the scanner's page of fingerprints, its watermark and its jobs commit together: a
 *   crash between them can neither skip a change nor queue it twice.
 */
import PgBoss from 'pg-boss';
import type { Logger } from '../log.js';
import { isConnectionLoss } from '../errors.js';

export type Boss = PgBoss;

export const QUEUE_SYNC = 'sync-dataset';
export const QUEUE_NOTIFY = 'notify';
export const QUEUE_SCAN = 'scan';

export interface SyncJobData {
  datasetId: string;
  datasetName: string;
  trigger: 'scan' | 'manual' | 'retry';
  resources: { added: string[]; changed: string[]; removed: string[] };
  metadataChanged: boolean;
  /** What the scanner saw (metadata + per-resource fingerprints); empty for manual triggers. */
  fingerprints: { metadata: string | null; resources: Record<string, string> };
}

export interface Queue {
  boss: PgBoss;
  /** Idempotent; waits for in-flight handlers up to `timeoutMs` (default 30 s). */
  stop(options?: { timeoutMs?: number; graceful?: boolean }): Promise<void>;
}

export interface StartQueueOptions {
  connectionString: string;
  log: Logger;
  schema?: string;
  /** pg-boss pool size (default 4). */
  max?: number;
  /** Retries pg-boss itself makes of a failed sync job (default 3; the sync worker retries steps inside). */
  syncRetryLimit?: number;
}

/** Anything with pg's `query(text, values)`: a transaction-bound client from src/db. */
export interface SqlExecutor {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

export async function startQueue(options: StartQueueOptions): Promise<Queue> {
  const boss = new PgBoss({
    connectionString: options.connectionString,
    schema: options.schema ?? 'pgboss',
    max: options.max ?? 4,
    application_name: 'ckan-zenodo-sync-queue',
  });
  // An EventEmitter 'error' without a listener would crash the process on a dropped connection.
  // pg-boss reconnects by itself (its pool opens a new connection for the next query), so a lost
  // connection is a warning; its workers' errors arrive as plain objects copied from the error.
  boss.on('error', (error: Error) => {
    if (isConnectionLoss(error)) options.log.warn({ err: error }, 'queue lost its database connection; it reconnects on its next query');
    else options.log.error({ err: error }, 'queue error');
  });
  // pg-boss 10 completes (or fails) a job after its handler without awaiting the promise
  // (manager.js work → onFetch): with the database down at that moment, the rejection is
  // unhandled, and Node ends the process for it. Such a job stays active, and the reaper
  // (src/sync/reaper.ts) hands it back once its dataset lock is free. Any other unhandled
  // rejection is a bug in a stray promise: it is logged as an error, and the daemon keeps
  // running, because ending the process for it stalls every other dataset, and a restart that
  // meets the same dataset dies again (a crash loop). The job it came from, if any, fails or
  // times out on its own and is retried by the queue.
  const onUnhandledRejection = (reason: unknown): void => {
    if (isConnectionLoss(reason)) {
      options.log.warn({ err: reason }, 'the queue lost the database while recording a job; it is handed back once the database is back');
      return;
    }
    options.log.error({ err: reason }, 'an unexpected error escaped its job (a bug: please report it); the daemon keeps running');
  };
  process.on('unhandledRejection', onUnhandledRejection);
  let stopped: Promise<void> | undefined;
  const stop = (stopOptions: { timeoutMs?: number; graceful?: boolean } = {}): Promise<void> =>
    (stopped ??= boss.stop({ graceful: stopOptions.graceful ?? true, timeout: stopOptions.timeoutMs ?? 30_000, wait: true }).finally(() => {
      process.removeListener('unhandledRejection', onUnhandledRejection);
    }));
  try {
    await boss.start();
    await boss.createQueue(QUEUE_SYNC, {
      name: QUEUE_SYNC,
      policy: 'stately',
      retryLimit: options.syncRetryLimit ?? 3,
      retryDelay: 60,
      retryBackoff: true,
      // Long uploads: a lease shorter than the transfer hands the job to another worker mid-upload
      // (DESIGN.md "Long uploads"); enqueueSync sizes it per job, this is the floor.
      expireInSeconds: 6 * 3600,
    });
    await boss.createQueue(QUEUE_NOTIFY, { name: QUEUE_NOTIFY, policy: 'standard', retryLimit: 10, retryDelay: 30, retryBackoff: true });
    await boss.createQueue(QUEUE_SCAN, { name: QUEUE_SCAN, policy: 'singleton', retryLimit: 0 });
  } catch (error) {
    await stop({ graceful: false, timeoutMs: 1000 }).catch(() => undefined);
    throw error;
  }
  return { boss, stop };
}

/**
 * A lease long enough for the dataset's transfers: its byte total at a pessimistic 2 MB/s, both
 * ways (download and upload overlap, but retries do not), plus a margin; between 1 and 23 hours,
 * because pg-boss 10 refuses expirations of 24 hours or more. Longer transfers are still safe:
 * the per-dataset lock keeps a second worker out, and the reaper (src/sync/reaper.ts) only
 * re-queues a job whose worker is gone.
 */
export function syncLeaseSeconds(totalBytes: number): number {
  const transfer = Math.ceil((2 * totalBytes) / (2 * 1024 * 1024));
  return Math.min(23 * 3600, Math.max(3600, transfer + 1800));
}

/**
 * Queues a sync of one dataset. Returns the job id, or null when a job for this dataset is
 * already queued (stately policy). With `db`, the job is inserted in that transaction.
 */
export async function enqueueSync(boss: PgBoss, data: SyncJobData, opts: { db?: SqlExecutor; expireInSeconds?: number } = {}): Promise<string | null> {
  const db = opts.db;
  return boss.send(QUEUE_SYNC, data as unknown as object, {
    singletonKey: data.datasetId,
    ...(opts.expireInSeconds === undefined ? {} : { expireInSeconds: opts.expireInSeconds }),
    ...(db === undefined ? {} : { db: { executeSql: (text: string, values: unknown[]) => db.query(text, values) } }),
  });
}

/**
 * Queues the syncs of one scanned page with ONE insert (pg-boss `insert`, same queue defaults and
 * stately policy as `send`, whose `ON CONFLICT DO NOTHING` drops a second queued job for a
 * dataset): one `send` per dataset made a 100,000-dataset first scan wait on 100,000 round trips
 * (bench/run.mjs). Runs in the caller's transaction (`db`); returns how many jobs were added,
 * counted as the change in queued jobs for these datasets, since `insert` reports no ids.
 */
export async function enqueueSyncBatch(boss: PgBoss, jobs: { data: SyncJobData; expireInSeconds?: number }[], opts: { db: SqlExecutor; schema?: string }): Promise<number> {
  if (jobs.length === 0) return 0;
  const db = opts.db;
  const keys = jobs.map((j) => j.data.datasetId);
  const schema = (opts.schema ?? 'pgboss').replace(/"/g, '""');
  const queued = async (): Promise<number> => {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${schema}".job WHERE name = $1 AND state = 'created' AND singleton_key = ANY($2::text[])`, [QUEUE_SYNC, keys]);
    return (rows[0] as { n: number } | undefined)?.n ?? 0;
  };
  const before = await queued();
  await boss.insert(
    jobs.map((j) => ({
      name: QUEUE_SYNC,
      data: j.data,
      singletonKey: j.data.datasetId,
      ...(j.expireInSeconds === undefined ? {} : { expireInSeconds: j.expireInSeconds }),
    })),
    { db: { executeSql: (text: string, values: unknown[]) => db.query(text, values) } },
  );
  return (await queued()) - before;
}
