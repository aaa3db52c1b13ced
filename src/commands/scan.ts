import type { DestinationStream } from 'pino';
import { loadSettings } from '../config/settings.js';
import { formatProblem } from '../config/types.js';
import { checkSchema, openDatabase } from '../db/index.js';
import { AppError } from '../errors.js';
import { createLogger } from '../log.js';
import { configSecrets } from './runtime.js';
import { startQueue } from '../queue/boss.js';
import { loadRules } from '../rules/load.js';
import { createCkanClient } from '../scanner/ckan-client.js';
import { runScan, type ScanReport } from '../scanner/scan.js';
import { print, type Command } from './command.js';

function formatReport(report: ScanReport): string {
  if (report.status === 'skipped') return `scan skipped: ${report.reason ?? ''}`;
  const lines: string[] = [];
  for (const d of report.datasets) {
    const r = d.resources;
    const parts = [
      r.added.length ? `new: ${r.added.join(', ')}` : '',
      r.changed.length ? `changed: ${r.changed.join(', ')}` : '',
      r.removed.length ? `removed: ${r.removed.join(', ')}` : '',
      d.metadataChanged ? 'metadata changed' : '',
    ].filter((p) => p !== '');
    lines.push(`${d.action === 'sync' ? 'sync     ' : 'unchanged'} ${d.name} (${d.datasetId}) rule=${d.rule}${parts.length ? `  ${parts.join('; ')}` : ''}`);
  }
  for (const m of report.malformed) lines.push(`malformed ${m.id ?? '(no id)'}: ${m.reason}`);
  const verb = report.dryRun ? 'would queue' : 'queued';
  lines.push(
    `${report.dryRun ? 'dry run: ' : ''}${report.seen} datasets read in ${report.requests} requests, ${report.selected} selected, ${verb} ${report.dryRun ? report.datasets.filter((d) => d.action === 'sync').length : report.enqueued} syncs, ${report.malformed.length} malformed, ${report.left} no longer selected`,
  );
  return lines.join('\n');
}

export const scanCommand: Command = {
  name: 'scan',
  summary: 'scan CKAN once for new or changed datasets and queue their syncs',
  usage: `
Usage: ckan-zenodo-sync scan --once [--dry-run] [--json] [--settings FILE] [--rules FILE]

Reads the datasets changed since the last scan (package_search from the stored watermark minus
[ckan] scan_overlap_seconds), matches them against rules.yaml and queues a sync for each selected
dataset whose resources or metadata changed since the scanner last saw it. Only one scan runs at a
time across all processes; a second one reports "skipped".

Options:
      --once            run one scan now and exit (the daemon schedules scans itself)
  -n, --dry-run         write and queue nothing; print, for each selected dataset, the rule that
                        matched and its new, changed and removed resources
      --json            print the report as one JSON document
  -s, --settings FILE   settings.ini to read (default: ./settings.ini when present)
  -r, --rules FILE      rules.yaml to read (default: ./rules.yaml)

Exit status: 0 done, 3 skipped because another scan is running, 1 on errors.
`,
  options: {
    once: { type: 'boolean' },
    'dry-run': { type: 'boolean', short: 'n' },
    json: { type: 'boolean' },
    settings: { type: 'string', short: 's' },
    rules: { type: 'string', short: 'r' },
  },
  async run({ values, io }) {
    if (values.once !== true) throw new AppError('USAGE', 'scan needs --once (the daemon, `run`, schedules scans by itself)');
    const dryRun = values['dry-run'] === true;
    const settings = await loadSettings({ path: typeof values.settings === 'string' ? values.settings : undefined, env: io.env });
    const loaded = await loadRules(typeof values.rules === 'string' ? values.rules : 'rules.yaml');
    const problems = [...settings.problems, ...loaded.problems];
    if (problems.length > 0 || settings.config === undefined || loaded.rules === undefined) {
      throw new AppError('CONFIG_INVALID', `the configuration has ${problems.length} problem(s):\n${problems.map(formatProblem).join('\n')}`);
    }
    const config = settings.config;
    const rules = loaded.rules;
    const verbose = config.log.level === 'debug' || config.log.level === 'trace';
    const secrets = configSecrets(config);
    const log = createLogger({ level: verbose ? config.log.level : 'warn', secrets, pretty: false, destination: io.stderr as unknown as DestinationStream });
    const db = await openDatabase(config.database, log, { poolSize: 3 });
    const ckan = createCkanClient({ baseUrl: config.ckan.url, apiToken: config.ckan.apiToken, log, timeoutMs: config.ckan.timeoutMs });
    try {
      // Only migrate, run and worker change the schema: a one-shot command of a newer release must
      // not upgrade it under a running daemon.
      await checkSchema(db);
      let report: ScanReport;
      if (dryRun) {
        report = await runScan({ db, ckan, rules, config, log, dryRun: true });
      } else {
        const queue = await startQueue({ connectionString: db.connectionString, log });
        try {
          report = await runScan({ db, boss: queue.boss, ckan, rules, config, log });
        } finally {
          await queue.stop();
        }
      }
      print(io.stdout, values.json === true ? JSON.stringify(report, null, 2) : formatReport(report));
      return report.status === 'skipped' ? 3 : 0;
    } finally {
      await ckan.close();
      await db.close();
    }
  },
};
