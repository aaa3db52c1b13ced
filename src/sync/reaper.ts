/**
 * Gives the queue back the sync jobs of processes that died. pg-boss only notices a dead worker
 * when the job's lease expires, and leases are hours long so that a 50 GB upload is never handed
 * to a second worker (DESIGN.md "Long uploads"). The per-dataset advisory lock tells the truth
 * sooner: it dies with the process that held it. An active job whose dataset lock is free has no
 * worker, so it is failed back into the queue (pg-boss retries it) and resumes from its last
 * recorded step.
 */
import type { Database } from '../db/database.js';
import { activeSyncJobs, tryLock, LOCK_SYNC_DATASET } from '../db/locks.js';
import type { Logger } from '../log.js';
import { QUEUE_SYNC, type Boss } from '../queue/boss.js';

/** A job younger than this may belong to a worker that has fetched it but not yet locked. */
const GRACE_SECONDS = 30;

export async function reapOrphanedSyncJobs(db: Pick<Database, 'pool'>, boss: Boss, log: Logger): Promise<number> {
  let reaped = 0;
  for (const job of await activeSyncJobs(db.pool, QUEUE_SYNC, GRACE_SECONDS)) {
    const lock = await tryLock(db.pool, LOCK_SYNC_DATASET, job.datasetId);
    if (!lock) continue; // a live worker holds it
    try {
      await boss.fail(QUEUE_SYNC, job.id, { reason: 'the worker running this job stopped; resuming from the last recorded step' });
      reaped++;
      log.warn({ datasetId: job.datasetId, jobId: job.id }, 'sync job of a stopped worker handed back to the queue');
    } finally {
      await lock.release();
    }
  }
  return reaped;
}

/** Reaps now and then every `intervalMs`; `stop` is idempotent. */
export function startReaper(db: Pick<Database, 'pool'>, boss: Boss, log: Logger, intervalMs = 60_000): { stop(): void } {
  const tick = (): void => {
    reapOrphanedSyncJobs(db, boss, log).catch((error: unknown) => log.warn({ err: error }, 'could not check for orphaned sync jobs'));
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
