/**
 * The composition root (STYLE.md 1): builds every component from the configuration, wires them
 * together and tears them down in reverse order, also when start-up fails half way.
 *
 * `run` = migrations + schedules (scan, reconcile) + sync and notify workers + HTTP server.
 * `worker` = the workers only, for more machines against the same PostgreSQL.
 */
import cron from 'node-cron';
import { readFileSync } from 'node:fs';
import type { Config } from './config/types.js';
import type { Rules } from './rules/types.js';
import type { Logger } from './log.js';
import { AppError, isAppError, toAppError } from './errors.js';
import { checkSchema, openDatabase, migrate, type Database } from './db/index.js';
import { createSyncStore } from './db/sync-queries.js';
import { pendingWork } from './db/locks.js';
import { planResumes } from './sync/resume.js';
import { startQueue, QUEUE_SYNC, enqueueSync, type Queue, type SyncJobData } from './queue/boss.js';
import { createCkanClient, type CkanClient } from './scanner/ckan-client.js';
import { runScan, runReconcile, type ScanReport, type ReconcileReport } from './scanner/scan.js';
import { resourceFingerprint } from './scanner/fingerprint.js';
import { selectDataset } from './rules/select.js';
import { createMailer } from './notify/mailer.js';
import { createNotifyWorker, type NotifyWorker } from './notify/notify-worker.js';
import { ownerDirectoryFromCkan } from './notify/recipients.js';
import { cleanSpool, createDownloadDispatcher, createSourceOpener, createSpoolBudget, preflightResource } from './sync/source.js';
import { createMailBuilder } from './sync/mails.js';
import { ckanPort } from './sync/ckan-port.js';
import { createSyncRunner, type SyncRunner } from './sync/job.js';
import { previewSync, type SyncDeps, type SyncOutcome, type SyncPreview } from './sync/worker.js';
import type { CkanDataset, CkanResource, Link } from './sync/ports.js';
import { linkDataset } from './sync/link.js';
import { startReaper } from './sync/reaper.js';
import { createZenodoClient, type ZenodoClient } from './zenodo/client.js';
import { mapDatasetToZenodo, metadataFingerprint, ownExtras } from './zenodo/metadata.js';
import { zenodoPort } from './sync/zenodo-port.js';
import { createMetrics, type Metrics } from './metrics.js';
import { startHttpServer } from './http/server.js';
import { createStatusQueries } from './db/status-queries.js';
import { createSessionQueries } from './db/session-queries.js';
import { prune } from './db/retention.js';

export type DaemonMode = 'run' | 'worker';

/** When `[retention] days` prunes the history tables (src/db/retention.ts). */
const PRUNE_CRON = '41 4 * * *';

/** How long stop() still waits for clients and the pool to close after the drain timeout passed. */
const CLOSE_GRACE_MS = 1000;

export interface DaemonOptions {
  config: Config;
  rules: Rules;
  log: Logger;
  mode: DaemonMode;
  /** false: no cron schedules (the demo and tests trigger scans themselves). Default true in `run`. */
  schedule?: boolean;
  /** false: no HTTP server. Default true in `run`. */
  http?: boolean;
  /** false: no sync workers (the one-shot `sync` command runs its sync itself). Default true. */
  workers?: boolean;
  /** Poll interval of idle sync workers; default 2 s. */
  pollingIntervalSeconds?: number;
  /** Called after each recorded sync step (progress output, crash points in tests). */
  onStep?: SyncDeps['onStep'];
  /** false: refuse a schema that is behind instead of upgrading it (one-shot commands). Default true. */
  migrate?: boolean;
}

export interface Daemon {
  db: Database;
  queue: Queue;
  metrics: Metrics;
  httpUrl: string | undefined;
  scanNow(): Promise<ScanReport>;
  reconcileNow(): Promise<ReconcileReport>;
  /** Queues a sync of one dataset (id or name) now; null job id when one is already queued. */
  triggerSync(idOrName: string, trigger?: SyncJobData['trigger']): Promise<{ queued: boolean; jobId: string | null; datasetId: string }>;
  /** What a sync would do, creating nothing (the `sync --dry-run` command). */
  previewSync(idOrName: string): Promise<SyncPreview>;
  /** Runs one sync in this process, outside the queue (the `sync` command). */
  syncNow(idOrName: string, trigger?: string): Promise<SyncOutcome>;
  /**
   * Links a dataset to an existing Zenodo concept (the `link` command). `notSelected` says why
   * the dataset will not be synced yet (linking before tagging is allowed: the first sync then
   * makes a new version of the linked record instead of a new record).
   */
  link(idOrName: string, reference: string, options?: { force?: boolean }): Promise<Link & { notSelected?: string }>;
  /** Resolves when no sync job is queued or active and the outbox has nothing due. */
  idle(timeoutMs?: number): Promise<void>;
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

export function userAgent(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `ckan-zenodo-sync/${pkg.version} (+https://github.com/ckan-zenodo-sync)`;
}

/** Runs `release` functions in reverse order of registration, logging (not throwing) failures. */
function releasers(log: Logger): { add(name: string, fn: () => Promise<void> | void): void; releaseAll(): Promise<void> } {
  const stack: { name: string; fn: () => Promise<void> | void }[] = [];
  return {
    add(name, fn) {
      stack.push({ name, fn });
    },
    async releaseAll() {
      while (stack.length > 0) {
        const { name, fn } = stack.pop()!;
        try {
          await fn();
        } catch (error) {
          log.error({ err: error, component: name }, 'error while stopping');
        }
      }
    },
  };
}

/**
 * pg-boss 10's `create_queue` is not safe against another process creating the same queue at the
 * same moment (two daemons started together on a fresh database): both insert the queue row and
 * attach a partition, and PostgreSQL aborts one of them with a deadlock (40P01). The loser's
 * transaction was rolled back and the winner's queue now exists, so starting again succeeds.
 */
async function startQueueRetryingDeadlocks(options: Parameters<typeof startQueue>[0]): Promise<Queue> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startQueue(options);
    } catch (error) {
      if (attempt >= 5 || (error as { code?: unknown }).code !== '40P01') throw error;
      options.log.warn({ attempt }, 'another process was creating the job queues at the same time: starting the queue again');
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { config, rules, log } = options;
  const release = releasers(log);
  // Work in flight in this process (sync jobs, resumed syncs, scans): stop() waits for it, up to
  // the drain timeout, before closing the clients and the pool it uses.
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    inFlight.add(work);
    work.then(
      () => inFlight.delete(work),
      () => inFlight.delete(work),
    );
    return work;
  };
  let drainMs = config.sync.drainTimeoutMs;
  let cutShort = (): void => undefined;
  const drainCutShort = new Promise<void>((resolve) => (cutShort = resolve));
  let stopping: Promise<void> | undefined;
  try {
    // Each running sync holds one connection for its dataset lock (src/db/locks.ts) and needs
    // more for its steps: a pool smaller than that stalls every worker at once.
    const db = await openDatabase(config.database, log, { poolSize: 2 * config.sync.concurrency + 6 });
    release.add('database', () => db.close());
    if (options.migrate === false) await checkSchema(db);
    else await migrate(db, log);

    const queue = await startQueueRetryingDeadlocks({ connectionString: db.connectionString, log, syncRetryLimit: config.sync.maxAttempts, max: Math.max(4, config.sync.concurrency + 2) });
    release.add('queue', () => queue.stop({ timeoutMs: config.sync.drainTimeoutMs, graceful: true }));

    const metrics = createMetrics();
    const agent = userAgent();
    const ckan: CkanClient = createCkanClient({ baseUrl: config.ckan.url, apiToken: config.ckan.apiToken, log, timeoutMs: config.ckan.timeoutMs, userAgent: agent });
    release.add('ckan client', () => ckan.close());
    if (!config.zenodo.token) {
      throw new AppError('CONFIG_INVALID', 'no Zenodo token: set [zenodo] token, ZENODO_TOKEN or [zenodo] token_file (a personal access token with deposit:write and deposit:actions)');
    }
    const zenodo: ZenodoClient = createZenodoClient({
      baseUrl: config.zenodo.url,
      token: config.zenodo.token,
      log,
      userAgent: agent,
      timeoutMs: config.zenodo.timeoutMs,
      onResponse: (status: number) => metrics.zenodoResponse(status),
    });
    release.add('zenodo client', () => zenodo.close());
    const policy = { allowedHosts: config.sync.allowedHosts, portalOrigin: new URL(config.ckan.url).origin };
    const downloads = createDownloadDispatcher(policy, config.ckan.timeoutMs);
    release.add('download dispatcher', () => downloads.close());
    await cleanSpool(config.sync.spoolDir, log);

    const secrets = [config.ckan.apiToken, config.zenodo.token, config.http.token].filter((s): s is string => typeof s === 'string');
    const mailer = createMailer({ smtpUrl: config.mail.smtpUrl, from: config.mail.from, log, maxConnections: config.mail.connections, allowPlaintextAuth: config.mail.allowPlaintextAuth });
    release.add('mailer', () => mailer.close());

    const syncDeps: SyncDeps = {
      store: createSyncStore(db.pool),
      zenodo: zenodoPort(zenodo, (bytes) => metrics.uploaded(bytes)),
      ckan: ckanPort(ckan),
      rules,
      mapMetadata: (dataset: CkanDataset, rule) => {
        const { metadata, warnings, problems, license } = mapDatasetToZenodo(dataset, rule, { ckanUrl: config.ckan.url, today: new Date(), ownExtras: ownExtras(config.sync.linkExtra), overrideExtra: config.sync.metadataExtra });
        return { metadata: { ...metadata }, fingerprint: metadataFingerprint(metadata), warnings, problems, license: license.explanation };
      },
      fingerprintResource: (r: CkanResource) => resourceFingerprint(r),
      preflight: (url) => preflightResource(url, { policy }),
      openSource: createSourceOpener({
        ckanUrl: config.ckan.url, ckanToken: config.ckan.apiToken, policy, spoolDir: config.sync.spoolDir, userAgent: agent, timeoutMs: config.ckan.timeoutMs, dispatcher: downloads,
        limits: { timeoutMs: config.sync.downloadTimeoutMs, minRate: config.sync.downloadMinRate, minRateWindowMs: config.sync.downloadMinRateWindowMs },
        spool: createSpoolBudget(config.sync.spoolMaxBytes),
      }),
      mails: createMailBuilder({
        ckanUrl: config.ckan.url,
        admin: config.mail.admin,
        linkExtra: config.sync.linkExtra,
        directory: ownerDirectoryFromCkan(ckan),
        secrets,
        log,
        recordUrl: (id, html) => html ?? `${config.zenodo.url.replace(/\/+$/, '')}/records/${id}`,
      }),
      ckanUrl: config.ckan.url,
      linkExtra: config.sync.linkExtra,
      writeBack: config.sync.writeBack,
      maxAttempts: config.sync.maxAttempts,
      log,
      onStep: options.onStep,
    };

    const notify: NotifyWorker = await createNotifyWorker({
      boss: queue.boss, db, mailer, log, templatesDir: config.mail.templatesDir, admin: config.mail.admin, parallel: config.mail.connections,
    });
    release.add('notify worker', () => notify.stop());
    const runner: SyncRunner = createSyncRunner(db.pool, syncDeps, (outcome) => {
      metrics.syncOutcome(outcome.state);
      // The outbox rows were committed with the outcome: send them now rather than at the next tick.
      if (outcome.state === 'done' || outcome.state === 'failed') void notify.wake().catch((error: unknown) => log.warn({ err: error }, 'could not wake the notifier'));
    });

    const pollingIntervalSeconds = options.pollingIntervalSeconds ?? 2;
    const workIds: string[] = [];
    for (let i = 0; i < (options.workers === false ? 0 : config.sync.concurrency); i++) {
      let workId = '';
      workId = await queue.boss.work<SyncJobData>(QUEUE_SYNC, { batchSize: 1, includeMetadata: true, pollingIntervalSeconds }, async ([job]) => {
        if (!job) return;
        try {
          const outcome = await track(runner.run({ datasetId: job.data.datasetId, trigger: job.data.trigger, attempt: job.retryCount + 1 }));
          return { state: outcome.state };
        } finally {
          // pg-boss 10 sleeps a whole polling interval after every job, even with more waiting;
          // a worker that just finished one looks for the next one at once instead.
          queue.boss.notifyWorker(workId);
        }
      });
      workIds.push(workId);
    }
    release.add('sync workers', async () => {
      for (const id of workIds) await queue.boss.offWork({ id });
    });
    // Released after the schedules and the HTTP server (nothing new starts) and before any
    // client or the pool is closed: closing them first would fail the very jobs the drain is
    // waiting for (a draft left open, published only at the next start).
    release.add('in-flight work', async () => {
      const deadline = Date.now() + drainMs;
      // Stops fetching jobs, waits for the running ones and, at the deadline, fails those still
      // running so that pg-boss retries them rather than leaving them `active` for a whole lease.
      const queueStopped = queue.stop({ timeoutMs: drainMs, graceful: true });
      while (inFlight.size > 0 && Date.now() < deadline) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, deadline - Date.now())))]);
        clearTimeout(timer);
      }
      await queueStopped;
      if (inFlight.size > 0) {
        log.warn({ inFlight: inFlight.size, drainTimeoutMs: drainMs }, 'drain timeout passed: in-flight work cut short; the next start resumes it from its last recorded step');
        cutShort();
      }
    });

    const scanDeps = { db, boss: queue.boss, ckan, rules, config, log };
    const scanNow = async (): Promise<ScanReport> => {
      const report = await track(runScan(scanDeps));
      metrics.scan(report);
      return report;
    };
    const reconcileNow = (): Promise<ReconcileReport> => track(runReconcile(scanDeps));

    // Syncs left open by a process that died (crash, SIGKILL, power loss) are finished now
    // rather than when their queue lease runs out; the per-dataset lock keeps this from racing
    // a live worker on another machine. A sync waiting out its retry backoff keeps waiting, and
    // a dataset whose job is still queued gets no second one (src/sync/resume.ts).
    const resumes = options.workers === false ? { enqueue: [], run: [] } : await planResumes(db.pool, QUEUE_SYNC);
    for (const datasetId of resumes.enqueue) {
      await enqueueSync(queue.boss, { datasetId, datasetName: datasetId, trigger: 'retry', resources: { added: [], changed: [], removed: [] }, metadataChanged: false, fingerprints: { metadata: null, resources: {} } });
    }
    for (const datasetId of resumes.run) {
      void track(runner.run({ datasetId, trigger: 'retry' })).catch((error: unknown) => log.warn({ err: toAppError(error), datasetId }, 'resuming an interrupted sync failed; the queue will retry it'));
    }
    // Jobs of workers that died (here or on another machine) go back to the queue as soon as
    // their dataset lock is free, instead of when their hours-long lease runs out.
    if (options.workers !== false) {
      const reaper = startReaper(db, queue.boss, log);
      release.add('reaper', () => reaper.stop());
    }

    const tasks: { stop(): void | Promise<void> }[] = [];
    if (options.mode === 'run' && options.schedule !== false) {
      const guard = (name: string, fn: () => Promise<unknown>) => async () => {
        try {
          await fn();
        } catch (error) {
          log.error({ err: toAppError(error) }, `${name} failed`);
        }
      };
      tasks.push(cron.schedule(config.schedule.scan, guard('scan', scanNow), { timezone: config.schedule.timezone, noOverlap: true, name: 'scan' }));
      tasks.push(cron.schedule(config.schedule.reconcile, guard('reconcile', reconcileNow), { timezone: config.schedule.timezone, noOverlap: true, name: 'reconcile' }));
      if (config.retention.days > 0) {
        const pruneOld = async (): Promise<void> => {
          const pruned = await prune(db.pool, { days: config.retention.days });
          log.info({ ...pruned, retentionDays: config.retention.days }, 'pruned old history');
        };
        // Daily, at a quiet minute away from the reconcile default (03:17).
        tasks.push(cron.schedule(PRUNE_CRON, guard('pruning old history', pruneOld), { timezone: config.schedule.timezone, noOverlap: true, name: 'prune' }));
      }
      release.add('schedules', async () => {
        for (const t of tasks) await t.stop();
      });
    }

    let httpUrl: string | undefined;
    if (options.mode === 'run' && options.http !== false) {
      const http = await startHttpServer({
        status: createStatusQueries(db.pool),
        sessions: createSessionQueries(db.pool),
        triggerSync: async (idOrName) => {
          const result = await triggerSync(idOrName, 'manual');
          return { queued: result.queued, ...(result.jobId ? { jobId: result.jobId } : {}) };
        },
        metrics: () => Promise.resolve(metrics.snapshot()),
        config: { listen: config.http.listen, token: config.http.token, publicStatus: config.http.publicStatus, trustProxy: config.http.trustProxy, ckanUrl: config.ckan.url, scanCron: config.schedule.scan, scanTimezone: config.schedule.timezone },
        log,
      });
      httpUrl = http.url;
      release.add('http server', () => http.close());
    }

    /** `sync`, `retry` and Archive now refuse a dataset the policy does not select, saying why. */
    function refuseUnselected(dataset: CkanDataset): void {
      const selection = selectDataset(rules, dataset);
      if (!selection.selected) throw new AppError('DATASET_NOT_SELECTED', `${dataset.name} is not archived: ${selection.reason}`);
    }

    async function triggerSync(idOrName: string, trigger: SyncJobData['trigger'] = 'manual'): Promise<{ queued: boolean; jobId: string | null; datasetId: string }> {
      const dataset = await ckan.packageShow(idOrName);
      // Refused here so that the person asking learns why at once; the worker checks again when
      // the job runs (the dataset may change in between).
      refuseUnselected(dataset);
      const jobId = await enqueueSync(queue.boss, {
        datasetId: dataset.id,
        datasetName: dataset.name,
        trigger,
        resources: { added: [], changed: [], removed: [] },
        metadataChanged: false,
        fingerprints: { metadata: null, resources: {} },
      });
      return { queued: jobId !== null, jobId, datasetId: dataset.id };
    }

    const daemon: Daemon = {
      db,
      queue,
      metrics,
      httpUrl,
      scanNow,
      reconcileNow,
      triggerSync,
      previewSync: (idOrName) => previewSync(syncDeps, idOrName),
      async syncNow(idOrName, trigger = 'manual') {
        const dataset = await syncDeps.ckan.packageShow(idOrName);
        if (dataset) refuseUnselected(dataset);
        const deadline = Date.now() + config.sync.drainTimeoutMs;
        for (;;) {
          try {
            return await runner.run({ datasetId: dataset?.id ?? idOrName, trigger });
          } catch (error) {
            // Another process is syncing this dataset right now: wait for it rather than fail.
            if (!isAppError(error, 'SYNC_BUSY') || Date.now() > deadline) throw error;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      },
      async link(idOrName, reference, linkOptions) {
        const link = await linkDataset(syncDeps, idOrName, reference, linkOptions);
        const dataset = await syncDeps.ckan.packageShow(link.datasetId);
        const selection = dataset ? selectDataset(rules, dataset) : undefined;
        return selection?.selected ? link : { ...link, notSelected: selection?.reason ?? 'the dataset is not visible to the API token' };
      },
      async idle(timeoutMs = 120_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          if ((await pendingWork(db.pool, QUEUE_SYNC)) === 0) return;
          if (Date.now() > deadline) throw new AppError('INTERNAL', `still busy after ${timeoutMs} ms`);
          await notify.wake();
          await new Promise((r) => setTimeout(r, 250));
        }
      },
      async stop(stopOptions = {}) {
        if (stopOptions.timeoutMs !== undefined) drainMs = stopOptions.timeoutMs;
        stopping ??= release.releaseAll();
        // Work cut short by the drain timeout still holds an upload or a pooled connection, and
        // closing the Zenodo client or the pool waits for exactly those: give the closing a
        // moment, then return so that the caller can exit (the next start resumes the work).
        await Promise.race([stopping, drainCutShort.then(() => new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref()))]);
      },
    };
    return daemon;
  } catch (error) {
    await release.releaseAll();
    throw error;
  }
}
