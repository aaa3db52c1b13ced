/**
 * The notify worker for the daemon: drains the outbox from pg-boss jobs on the `notify` queue.
 * A cron schedule (stored by pg-boss, so one schedule serves every process) drains at least once
 * a minute, which picks up retries whose backoff ran out; `wake()` queues a drain right away, for
 * the sync worker to call after it committed a published DOI or a failure. Several processes may
 * drain at once: rows are claimed with SKIP LOCKED (src/db/outbox-queries.ts).
 */
import { QUEUE_NOTIFY, type Boss } from '../queue/boss.js';
import { drainOutbox, type DrainOptions } from './outbox-worker.js';

export interface NotifyWorkerOptions extends DrainOptions {
  boss: Boss;
  /** Drain schedule; default every minute. */
  cron?: string;
  /** How often an idle worker polls the queue; default 2 s (pg-boss minimum 0.5). */
  pollingIntervalSeconds?: number;
}

export interface NotifyWorker {
  /** Queues a drain now (after a transaction that wrote outbox rows has committed). */
  wake(): Promise<void>;
  /** Stops taking notify jobs; waits for none (pg-boss's own stop drains in-flight handlers). Idempotent. */
  stop(): Promise<void>;
}

export async function createNotifyWorker(options: NotifyWorkerOptions): Promise<NotifyWorker> {
  const { boss, log } = options;
  await boss.schedule(QUEUE_NOTIFY, options.cron ?? '* * * * *', {}, { tz: 'UTC' });
  const workId = await boss.work(QUEUE_NOTIFY, { pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2, batchSize: 1 }, async () => {
    // A database error fails the job; pg-boss retries it with backoff, and the cron comes anyway.
    const result = await drainOutbox(options);
    if (result.sent + result.retried + result.failed > 0) log.info(result, 'outbox drained');
  });
  let stopped: Promise<void> | undefined;
  return {
    async wake(): Promise<void> {
      await boss.send(QUEUE_NOTIFY, {});
    },
    stop(): Promise<void> {
      return (stopped ??= boss.offWork({ id: workId }));
    },
  };
}
