import { startDaemon } from '../daemon.js';
import type { SyncPreview } from '../sync/worker.js';
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

const KIND_WORDS: Record<string, string> = {
  first_version: 'a first version (a new Zenodo record with a new concept DOI)',
  new_version: 'a new version of the linked Zenodo record',
  metadata_edit: "an edit of the latest version's metadata (same DOI)",
  nothing: 'nothing: the archived version is up to date',
};

function formatSize(size: number | null): string {
  return size === null ? 'size unknown' : `${size} bytes`;
}

/** The dry run in words, then the exact metadata JSON that would be sent. */
function printPreview(out: NodeJS.WritableStream, p: SyncPreview): void {
  print(out, 'dry run: nothing is created on Zenodo, written to the database or sent by mail');
  if (p.dataset) print(out, `dataset: ${p.dataset.name} (${p.dataset.id})${p.rule ? `, rule "${p.rule}"` : ''}`);
  if (p.stop) {
    print(out, `would NOT publish [${p.stop.code}]: ${p.stop.message}`);
    for (const f of p.stop.fieldErrors ?? []) print(out, `  ${f.field}: ${f.message}`);
  } else if (p.kind) {
    print(out, `would publish: ${KIND_WORDS[p.kind] ?? p.kind}${p.conceptRecid ? ` (concept ${p.conceptRecid})` : ''}`);
  }
  if (p.license) print(out, `licence: ${p.license}`);
  if (p.files && p.files.length > 0) {
    print(out, 'files:');
    for (const f of p.files) print(out, `  ${f.action.padEnd(8)} ${f.filename}  (${formatSize(f.size)})  from ${f.source}`);
  }
  for (const name of p.remove ?? []) print(out, `  remove   ${name}`);
  if (p.skipped && p.skipped.length > 0) {
    print(out, 'not archived:');
    for (const s of p.skipped) print(out, `  ${s.name}: ${s.reason}`);
  }
  if (p.warnings.length > 0) {
    print(out, 'warnings:');
    for (const w of p.warnings) print(out, `  - ${w}`);
  }
  if (p.metadata) {
    print(out, p.stop ? 'metadata (not sent):' : 'metadata sent to Zenodo:');
    print(out, JSON.stringify(p.metadata, null, 2));
  }
}

async function syncOne(ctx: CommandContext, trigger: 'manual' | 'retry'): Promise<number> {
  const [dataset] = ctx.positionals;
  if (!dataset || ctx.positionals.length > 1) throw new AppError('USAGE', 'give exactly one dataset id or name');
  const { config, rules, log } = await loadRuntime(ctx, { logLevel: 'warn' });
  if (ctx.values['dry-run'] === true) {
    const daemon = await startDaemon({ config, rules, log, mode: 'worker', workers: false, schedule: false, http: false, migrate: false });
    try {
      const preview = await daemon.previewSync(dataset);
      if (ctx.values.json === true) print(ctx.io.stdout, JSON.stringify(preview, null, 2));
      else printPreview(ctx.io.stdout, preview);
      return preview.stop ? 1 : 0;
    } finally {
      await daemon.stop();
    }
  }
  const daemon = await startDaemon({
    config,
    rules,
    log,
    mode: 'worker',
    workers: false,
    schedule: false,
    http: false,
    migrate: false,
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
  -n, --dry-run        create and send nothing: print whether the dataset would be published,
                       the licence and why, the files with their sizes, the resources left out,
                       the warnings, and the exact metadata JSON Zenodo would receive (exit 1
                       when it would not be published)
      --json           with --dry-run: the same as one JSON document
${settingsUsage}`,
  options: { ...settingsOptions, 'dry-run': { type: 'boolean', short: 'n' }, json: { type: 'boolean' } },
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
