import type { DestinationStream } from 'pino';
import { checkSchema, openDatabase } from '../db/index.js';
import { createStatusQueries, type SyncSummaryRow } from '../db/status-queries.js';
import { AppError } from '../errors.js';
import { createLogger, redactText } from '../log.js';
import { configSecrets } from './runtime.js';
import { loadConfig } from '../config/settings.js';
import { print, type Command } from './command.js';

const when = (d: Date | null | undefined): string => (d ? d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

function syncLine(s: SyncSummaryRow): string {
  const what = s.state === 'failed' ? `FAILED [${s.errorCode ?? '?'}] ${redactText(s.errorMessage ?? '')}` : `${s.state}${s.kind ? ` (${s.kind})` : ''}`;
  return `  #${s.id} ${when(s.startedAt)} ${s.name ?? s.datasetId}: ${what}${s.doi ? `  version ${s.doi}` : ''}${s.conceptDoi ? `  concept ${s.conceptDoi}` : ''}`;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show scans, linked datasets, open and failed syncs (or one dataset in detail)',
  usage: `Usage: ckan-zenodo-sync status [<dataset id or name>] [--settings FILE] [--json]

Without a dataset: the last scans, open syncs, failures that need attention and recent versions.
With a dataset: its Zenodo link (concept and latest DOI) and its syncs with their steps and errors.
Reads the database only; works next to a running daemon. Refuses a database whose schema is
behind this release (run "ckan-zenodo-sync migrate" first) instead of upgrading it.

Options:
  --json                print one JSON document
  -s, --settings FILE   settings file (default: ./settings.ini when it exists)`,
  options: { settings: { type: 'string', short: 's' }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run(ctx) {
    if (ctx.positionals.length > 1) throw new AppError('USAGE', 'give at most one dataset');
    const config = await loadConfig({ path: typeof ctx.values.settings === 'string' ? ctx.values.settings : undefined, env: ctx.io.env });
    const log = createLogger({ level: 'warn', secrets: configSecrets(config), pretty: false, destination: ctx.io.stderr as unknown as DestinationStream });
    const db = await openDatabase(config.database, log, { poolSize: 2 });
    try {
      // Reads only: a newer release must not upgrade the schema under a running daemon.
      await checkSchema(db);
      const status = createStatusQueries(db.pool);
      const out = (line: string): void => print(ctx.io.stdout, line);
      const [dataset] = ctx.positionals;
      if (dataset !== undefined) {
        const history = await status.datasetHistory(dataset, { syncLimit: 20 });
        if (!history) throw new AppError('CKAN_NOT_FOUND', `nothing is known of dataset "${dataset}" (not scanned, linked or synced yet)`);
        if (ctx.values.json === true) return (out(JSON.stringify(history, null, 2)), 0);
        out(`${history.dataset?.title ?? history.dataset?.name ?? dataset} (${history.datasetId})`);
        if (history.dataset) out(`  rule: ${history.dataset.rule ?? 'none (no rule selects it)'}, last seen ${when(history.dataset.seenAt)}`);
        const link = history.link;
        if (link) {
          out(`  concept DOI: ${link.conceptDoi ?? '-'}   latest version: ${link.latestDoi ?? '-'}${link.latestVersionLabel ? ` (${link.latestVersionLabel})` : ''}`);
          if (link.state === 'inactive') out(`  link inactive: ${link.inactiveReason ?? ''}`);
        } else out('  not linked to Zenodo yet');
        out('syncs:');
        for (const s of history.syncs) {
          out(syncLine(s));
          for (const step of history.steps.filter((st) => st.syncId === s.id)) out(`      ${when(step.at)} ${step.step}`);
        }
        if (history.mails.length > 0) out('mails:');
        for (const m of history.mails) out(`  ${m.kind} to ${m.recipient}: ${m.status}${m.sentAt ? ` ${when(m.sentAt)}` : ''}${m.lastError ? ` (${redactText(m.lastError)})` : ''}`);
        return 0;
      }
      const [scans, open, failures, versions] = await Promise.all([status.lastScans(3), status.openSyncs(20), status.failuresNeedingAttention(20), status.recentVersions(10)]);
      if (ctx.values.json === true) return (out(JSON.stringify({ scans, open, failures, versions }, null, 2)), 0);
      out('last scans:');
      for (const s of scans) out(`  ${when(s.startedAt)} ${s.kind} ${s.status}: ${s.datasetsSeen} seen, ${s.datasetsSelected} selected, ${s.jobsEnqueued} queued${s.error ? ` (${redactText(s.error)})` : ''}`);
      if (scans.length === 0) out('  none yet');
      out(`open syncs (${open.length}):`);
      for (const s of open) out(syncLine(s));
      out(`failures needing attention (${failures.length}):`);
      for (const s of failures) out(syncLine(s));
      out('recent versions:');
      for (const s of versions) out(syncLine(s));
      return 0;
    } finally {
      await db.close();
    }
  },
};
