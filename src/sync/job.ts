/**
 * The `sync-dataset` job handler: one dataset at a time per process, and at most one process per
 * dataset. The queue's stately policy keeps one job queued and one active per dataset, but a
 * lease that expires mid-upload would let a second worker start (DESIGN.md "Long uploads"); the
 * per-dataset advisory lock, which dies with the process holding it, closes that gap: the second
 * worker backs off and retries later, when the first has recorded its result.
 *
 * The lock also dies with its connection, when PostgreSQL restarts mid-sync. Another worker may
 * then take the dataset, so a sync whose lock is gone records nothing more and changes nothing
 * more on Zenodo: every write of the store and every Zenodo call that changes a deposition first
 * checks the lock. The sync then fails as DB_UNAVAILABLE and is run again here, under a fresh lock,
 * from its last recorded step, once the database answers again.
 */
import { AppError, isAppError, toAppError } from '../errors.js';
import { tryLock, LOCK_SYNC_DATASET, type HeldLock } from '../db/locks.js';
import type { Database } from '../db/database.js';
import type { SyncStore, ZenodoPort } from './ports.js';
import { syncDataset, type SyncDeps, type SyncJob, type SyncOutcome } from './worker.js';

export interface SyncRunner {
  run(job: SyncJob): Promise<SyncOutcome>;
}

export interface SyncRunnerOptions {
  /**
   * Waits between runs of a sync interrupted by a database outage, in ms; after the last one the
   * error goes to the queue, which retries with its own (minutes-long) backoff. Default about
   * half a minute in all, long enough for a PostgreSQL restart or failover.
   */
  outageBackoffMs?: readonly number[];
}

const OUTAGE_BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000, 15_000];

const STORE_WRITES = ['saveLink', 'createSync', 'advance', 'noteCreatingDeposition', 'recordUpload', 'recordPublished', 'finish', 'fail', 'markInactive'] as const satisfies readonly (keyof SyncStore)[];
const ZENODO_CHANGES = ['createDeposition', 'newVersion', 'deleteFile', 'upload', 'updateMetadata', 'publish', 'edit', 'discard'] as const satisfies readonly (keyof ZenodoPort)[];

/** `target` with `check()` run before each of `methods`. */
function guarded<T extends object>(target: T, methods: readonly (keyof T)[], check: () => void): T {
  const copy = { ...target };
  for (const name of methods) {
    const method = target[name] as unknown as (...args: unknown[]) => unknown;
    (copy as Record<keyof T, unknown>)[name] = (...args: unknown[]): unknown => {
      check();
      return method.apply(target, args);
    };
  }
  return copy;
}

function underLock(deps: SyncDeps, lock: HeldLock): SyncDeps {
  const check = (): void => lock.assertHeld();
  return { ...deps, store: guarded(deps.store, STORE_WRITES, check), zenodo: guarded(deps.zenodo, ZENODO_CHANGES, check) };
}

export function createSyncRunner(pool: Database['pool'], deps: SyncDeps, onOutcome?: (outcome: SyncOutcome) => void, options: SyncRunnerOptions = {}): SyncRunner {
  const backoff = options.outageBackoffMs ?? OUTAGE_BACKOFF_MS;
  const once = async (job: SyncJob): Promise<SyncOutcome> => {
    const lock = await tryLock(pool, LOCK_SYNC_DATASET, job.datasetId);
    if (!lock) {
      throw new AppError('SYNC_BUSY', `dataset ${job.datasetId} is being synced by another worker; will try again`, { retryable: true });
    }
    try {
      const outcome = await syncDataset(underLock(deps, lock), job);
      onOutcome?.(outcome);
      return outcome;
    } finally {
      await lock.release();
    }
  };
  return {
    async run(job) {
      for (let outage = 0; ; outage++) {
        try {
          return await once(job);
        } catch (caught) {
          const error = toAppError(caught);
          const wait = backoff[outage];
          if (!isAppError(error, 'DB_UNAVAILABLE') || !error.retryable || wait === undefined) throw error;
          deps.log.warn({ datasetId: job.datasetId, retryInMs: wait, err: error }, 'database unavailable during a sync; resuming from the last recorded step when it is back');
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
    },
  };
}
