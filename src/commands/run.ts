import { startDaemon, type DaemonMode } from '../daemon.js';
import type { Command, CommandContext } from './command.js';
import { loadRuntime, settingsOptions, settingsUsage } from './runtime.js';

/**
 * Runs until SIGTERM/SIGINT: the first signal stops scheduling and lets in-flight jobs finish up
 * to `[sync] drain_timeout_seconds`; a second signal exits at once. A job cut short by either is
 * resumed on the next start from its last recorded step.
 */
async function runDaemon(ctx: CommandContext, mode: DaemonMode): Promise<number> {
  const { config, rules, log } = await loadRuntime(ctx);
  const daemon = await startDaemon({ config, rules, log, mode });
  log.info({ mode, http: daemon.httpUrl, concurrency: config.sync.concurrency }, 'ckan-zenodo-sync started');
  if (mode === 'run') {
    // A scan at start-up instead of waiting for the first cron tick.
    void daemon.scanNow().catch((error: unknown) => log.error({ err: error }, 'scan failed'));
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal, drainTimeoutMs: config.sync.drainTimeoutMs }, 'stopping: finishing in-flight jobs');
      const force = setTimeout(() => {
        log.error('still not stopped well after the drain timeout: exiting');
        process.exit(1);
      }, config.sync.drainTimeoutMs + 10_000);
      force.unref();
      daemon
        .stop()
        .then(() => {
          log.info('stopped');
          log.flush();
          // Work cut short by the drain timeout may still hold a socket (a stalled upload) that
          // would keep the process alive until the peer gives up; nothing else is left to do.
          setTimeout(() => process.exit(0), 500).unref();
          resolve(0);
        })
        .catch((error: unknown) => {
          log.error({ err: error }, 'error while stopping');
          resolve(1);
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run the daemon: scheduled scans, sync and mail workers, HTTP status server',
  usage: `Usage: ckan-zenodo-sync run [options]

Applies pending migrations, then scans CKAN on [schedule] scan, reconciles on [schedule] reconcile,
syncs changed datasets ([sync] concurrency at a time), sends mail, and serves HTTP on [http] listen.
SIGTERM or SIGINT drains in-flight jobs (up to [sync] drain_timeout_seconds); a second signal exits.

Options:
${settingsUsage}`,
  options: { ...settingsOptions },
  run: (ctx) => runDaemon(ctx, 'run'),
};

export const workerCommand: Command = {
  name: 'worker',
  summary: 'run sync and mail workers only (add machines against the same PostgreSQL)',
  usage: `Usage: ckan-zenodo-sync worker [options]

Runs [sync] concurrency sync workers and the mail worker, without schedules or HTTP. Start as many
as you like against one PostgreSQL: jobs are shared out by the queue, one dataset at a time.

Options:
${settingsUsage}`,
  options: { ...settingsOptions },
  run: (ctx) => runDaemon(ctx, 'worker'),
};

