/**
 * The `sync-dataset` job handler: one dataset at a time per process, and at most one process per
 * dataset. The queue's stately policy keeps one job queued and one active per dataset, but a
 * lease that expires mid-upload would let a second worker start (DESIGN.md "Long uploads"); the
 * per-dataset advisory lock, which dies with the process holding it, closes that gap: the second
 * worker backs off and retries later, when the first has recorded its result.
 */
import { AppError } from '../errors.js';
import { tryLock, LOCK_SYNC_DATASET } from '../db/locks.js';
import type { Database } from '../db/database.js';
import { syncDataset, type SyncDeps, type SyncJob, type SyncOutcome } from './worker.js';

export interface SyncRunner {
  run(job: SyncJob): Promise<SyncOutcome>;
}

export function createSyncRunner(pool: Database['pool'], deps: SyncDeps, onOutcome?: (outcome: SyncOutcome) => void): SyncRunner {
  return {
    async run(job) {
      const lock = await tryLock(pool, LOCK_SYNC_DATASET, job.datasetId);
      if (!lock) {
        throw new AppError('SYNC_BUSY', `dataset ${job.datasetId} is being synced by another worker; will try again`, { retryable: true });
      }
      try {
        const outcome = await syncDataset(deps, job);
        onOutcome?.(outcome);
        return outcome;
      } finally {
        await lock.release();
      }
    },
  };
}
