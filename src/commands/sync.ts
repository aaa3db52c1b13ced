import { startDaemon } from '../daemon.js';
import { AppError } from '../errors.js';
import { print, type Command, type CommandContext } from './command.js';
import { loadRuntime, settingsOptions, settingsUsage } from './runtime.js';

const STEP_WORDS: Record<string, string> = {
  planned: 'planned',
  draft_open: 'Zenodo draft open',
  files_synced: 'files uploaded and verified',
  metadata_set: 'metadata set',
  published: 'published',
  written_back: 'DOIs written back to CKAN (when enabled)',
};

async function syncOne(ctx: CommandContext, trigger: 'manual' | 'retry'): Promise<number> {
  const [dataset] = ctx.positionals;
  if (!dataset || ctx.positionals.length > 1) throw new AppError('USAGE', 'give exactly one dataset id or name');
  const { config, rules, log } = await loadRuntime(ctx, { logLevel: 'warn' });
  const daemon = await startDaemon({
    config,
    rules,
    log,
    mode: 'worker',
    workers: false,
    schedule: false,
    http: false,
    onStep: (state, run) => {
      const extra = state === 'planned' ? ` (${run.kind}: ${run.plan.files.filter((f) => f.action !== 'keep').length} file(s) to upload, ${run.plan.delete.length} to remove)` : state === 'published' ? ` ${run.doi ?? ''}` : '';
      print(ctx.io.stdout, `sync ${run.id}: ${STEP_WORDS[state] ?? state}${extra}`);
    },
  });
  try {
    const outcome = await daemon.syncNow(dataset, trigger);
    switch (outcome.state) {
      case 'done':
        print(ctx.io.stdout, `done: version DOI ${outcome.doi ?? '-'}, concept DOI ${outcome.conceptDoi ?? '-'}`);
        break;
      case 'unchanged':
        print(ctx.io.stdout, 'unchanged: the archived version already matches CKAN; nothing was published');
        break;
      case 'skipped':
        print(ctx.io.stdout, `skipped: ${outcome.reason}`);
        break;
      case 'failed':
        print(ctx.io.stderr, `failed [${outcome.code}]: ${outcome.message}`);
        break;
    }
    await daemon.idle(30_000).catch(() => undefined); // let the mails go out
    return outcome.state === 'failed' ? 1 : 0;
  } finally {
    await daemon.stop();
  }
}

export const syncCommand: Command = {
  name: 'sync',
  summary: 'sync one dataset now, in the foreground, printing each step',
  usage: `Usage: ckan-zenodo-sync sync <dataset id or name> [options]

Brings the dataset's Zenodo archive up to date now: a new version when files changed, a
metadata-only edit or nothing otherwise. An interrupted sync of the dataset is resumed.

Options:
${settingsUsage}`,
  options: { ...settingsOptions },
  allowPositionals: true,
  run: (ctx) => syncOne(ctx, 'manual'),
};

export const retryCommand: Command = {
  name: 'retry',
  summary: 'sync a dataset whose last sync failed again',
  usage: `Usage: ckan-zenodo-sync retry <dataset id or name> [options]

Starts a new sync of a dataset after fixing the cause of a failure (for example after sharing the
Zenodo record with the archive account). A pending Zenodo draft left by the failed sync is reused.

Options:
${settingsUsage}`,
  options: { ...settingsOptions },
  allowPositionals: true,
  run: (ctx) => syncOne(ctx, 'retry'),
};
