/**
 * `npm run demo`: the real daemon against local emulators, with no configuration and no servers
 * to install. Embedded PostgreSQL, the CKAN emulator seeded with sample datasets, the Zenodo
 * emulator and an SMTP capture server; then: first scan → first versions → mails; an edit of a
 * resource and of a title in CKAN → next scan → a new version and a metadata-only edit → mails.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Rules } from '../rules/types.js';
import { startDaemon, type Daemon } from '../daemon.js';
import { samplesDir, startCkanEmulator, type CkanEmulator } from '../emulators/ckan/server.js';
import { startZenodoEmulator } from '../emulators/zenodo/server.js';
import { startSmtpCapture, summarizeMessage } from '../emulators/smtp.js';
import { lastSyncId, linkedDatasetIds, syncsAfter, type SyncReportRow } from '../db/sync-queries.js';
import type { Logger } from '../log.js';

const CKAN_TOKEN = 'demo-ckan-token';
const ZENODO_TOKEN = 'demo-zenodo-token';
export const HTTP_TOKEN = 'demo-http-token-3e8b1f6a0c4d7925';

export interface DemoOptions {
  rules: Rules;
  log: Logger;
  out: (line: string) => void;
  /** Keep serving the status page after the account, until the returned promise's stop. */
  serve: boolean;
  /** Resolves when the operator asks to stop (Ctrl-C) in --serve mode. */
  untilStopped?: Promise<void>;
  /** Port of the status page with `serve` (default 8080; 0 = any free port). */
  port?: number;
  /** Called with the status page's URL once it serves (tests drive a browser from there). */
  onServing?: (url: string) => void;
  /** More CKAN datasets to seed (tests add hostile ones). */
  extraDatasets?: object[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function describeSync(sync: SyncReportRow, titles: Map<string, string>): string[] {
  const title = titles.get(sync.datasetId) ?? sync.plan?.dataset.title ?? sync.datasetId;
  const lines = [`  ${title}`];
  if (sync.plan) lines.push(`    rule matched:  ${sync.plan.ruleName}`);
  if (sync.state === 'failed') {
    lines.push(`    FAILED [${sync.errorCode ?? '?'}]: ${sync.errorMessage ?? ''}`);
  } else if (sync.state === 'unchanged' || sync.kind === 'nothing') {
    lines.push('    what changed:  nothing (already archived)');
  } else if (sync.plan) {
    const p = sync.plan;
    const added = p.files.filter((f) => f.action === 'add').map((f) => f.filename);
    const replaced = p.files.filter((f) => f.action === 'replace').map((f) => f.filename);
    const removed = p.delete.filter((d) => !p.files.some((f) => f.filename === d.filename)).map((d) => d.filename);
    const what =
      sync.kind === 'metadata_edit'
        ? 'metadata only (same DOI, record updated)'
        : [added.length ? `added ${added.join(', ')}` : '', replaced.length ? `replaced ${replaced.join(', ')}` : '', removed.length ? `removed ${removed.join(', ')}` : '']
            .filter(Boolean)
            .join('; ');
    lines.push(`    what changed:  ${sync.kind === 'first_version' ? 'first archive: ' : sync.kind === 'new_version' ? 'new version: ' : ''}${what}`);
    if (p.skipped.length > 0) lines.push(`    not archived:  ${p.skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}`);
  }
  if (sync.doi) lines.push(`    version DOI:   ${sync.doi}`);
  if (sync.conceptDoi) lines.push(`    concept DOI:   ${sync.conceptDoi}  (cite this for all versions)`);
  lines.push(`    mailed:        ${sync.recipients.length > 0 ? sync.recipients.join(', ') : '-'}`);
  return lines;
}

async function phase(daemon: Daemon, name: string, out: (line: string) => void, ckan: CkanEmulator): Promise<void> {
  const before = await lastSyncId(daemon.db.pool);
  const report = await daemon.scanNow();
  out(`\n${name}: scanned ${report.seen} datasets, ${report.selected} selected by the rules, ${report.enqueued} queued for sync`);
  await daemon.idle(60_000);
  const titles = new Map(ckan.datasets().map((d) => [String(d.id), String(d.title ?? d.name)]));
  const syncs = await syncsAfter(daemon.db.pool, before);
  for (const sync of syncs) for (const line of describeSync(sync, titles)) out(line);
  if (syncs.length === 0) out('  (nothing to do)');
  const synced = new Set(syncs.map((s) => s.datasetId));
  for (const id of await linkedDatasetIds(daemon.db.pool)) synced.add(id);
  for (const d of ckan.datasets()) {
    if (synced.has(String(d.id))) continue;
    const tagged = (d.tags as { name: string }[] | undefined)?.some((t) => t.name === 'zenodo');
    out(`  ${String(d.title ?? d.name)}: not archived (${d.private === true ? 'private dataset: Zenodo records are public' : tagged ? 'not selected' : 'no rule matches it: not tagged "zenodo"'})`);
  }
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const { out, log } = options;
  const work = await mkdtemp(join(tmpdir(), 'ckan-zenodo-sync-demo-'));
  // Run as root, the embedded PostgreSQL drops to the "postgres" user, which must reach its folder.
  await chmod(work, 0o755);
  const stops: (() => Promise<void>)[] = [() => rm(work, { recursive: true, force: true })];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log.warn({ err: error }, 'demo cleanup failed'));
  };
  try {
    const ckan = await startCkanEmulator({ seedDir: samplesDir(), tokens: { [CKAN_TOKEN]: { user: 'archiver', sysadmin: true } }, log });
    stops.push(() => ckan.close());
    // Zenodo's rate limit is off here so the demo takes seconds; the client paces itself on zenodo.org.
    const zenodo = await startZenodoEmulator({ tokens: [ZENODO_TOKEN], rateLimit: false, sandbox: true });
    stops.push(() => zenodo.close());
    for (const dataset of options.extraDatasets ?? []) ckan.addDataset(dataset);
    const smtp = await startSmtpCapture({});
    stops.push(() => smtp.stop());
    out(`CKAN emulator    ${ckan.url}  (${ckan.datasets().length} sample datasets)`);
    out(`Zenodo emulator  ${zenodo.url}  (sandbox DOIs, 10.5072/…)`);
    out(`SMTP capture     ${smtp.url}`);
    out('PostgreSQL       embedded, starting (first start initialises a cluster)…');

    const config: Config = {
      settingsPath: undefined,
      ckan: { url: ckan.url, apiToken: CKAN_TOKEN, pageSize: 100, scanOverlapMs: 300_000, timeoutMs: 30_000 },
      zenodo: { url: zenodo.url, token: ZENODO_TOKEN, timeoutMs: 30_000 },
      database: { url: undefined, dataDir: join(work, 'pg'), embeddedPort: await freePort() },
      schedule: { scan: '*/15 * * * *', reconcile: '17 3 * * *', timezone: 'UTC' },
      sync: { concurrency: 4, writeBack: true, spoolDir: join(work, 'spool'), allowedHosts: ['127.0.0.1'], linkExtra: 'zenodo_doi', metadataExtra: 'zenodo_metadata', maxAttempts: 5, drainTimeoutMs: 20_000, downloadTimeoutMs: 86_400_000, downloadMinRate: 10_000, downloadMinRateWindowMs: 60_000, spoolMaxBytes: 20 * 10 ** 9 },
      mail: { smtpUrl: smtp.url, from: 'Data archive <archive@portal.example>', admin: 'archive-admin@portal.example', templatesDir: undefined, connections: 4, allowPlaintextAuth: false },
      http: { listen: `127.0.0.1:${options.serve ? (options.port ?? 8080) : 0}`, token: HTTP_TOKEN, publicStatus: true, trustProxy: false },
      retention: { days: 90 },
      log: { level: 'warn' },
    };
    const daemon = await startDaemon({ config, rules: options.rules, log, mode: 'run', schedule: false, pollingIntervalSeconds: 0.5 });
    stops.push(() => daemon.stop());

    // This sandbox reaches no other host, so resources that link to other sites are served by
    // the emulated portal itself (as uploads); on a real portal they are downloaded from their
    // site, through the SSRF guard.
    for (const d of ckan.datasets()) {
      const resources = (d.resources as Record<string, unknown>[] | undefined) ?? [];
      if (!resources.some((r) => r.url_type !== 'upload' && r.url_type !== 'datastore')) continue;
      ckan.updateDataset(String(d.id), { resources: resources.map((r) => (r.url_type === 'upload' || r.url_type === 'datastore' ? r : { ...r, url_type: 'upload' })) });
    }

    await phase(daemon, 'First scan', out, ckan);
    const firstMails = smtp.messages.length;
    out(`\nMails sent (${firstMails}):`);
    for (const m of smtp.messages) out(`  ${summarizeMessage(m)}`);

    // An owner re-uploads a file of one dataset and renames another dataset.
    const archived = ckan.datasets().filter((d) => (d.tags as { name: string }[] | undefined)?.some((t) => t.name === 'zenodo') && !d.private);
    const fileEdit = archived[0];
    const titleEdit = archived[1];
    if (fileEdit && titleEdit) {
      const resource = (fileEdit.resources as { id: string; name: string }[])[0]!;
      ckan.setResourceContent(resource.id, Buffer.from(`station,date,value\nA,2026-11-22,${Date.now() % 1000}\n`));
      ckan.updateDataset(String(titleEdit.id), { title: `${String(titleEdit.title)} (revised)` });
      out(`\nIn CKAN: "${String(fileEdit.title)}" gets a new ${resource.name}; "${String(titleEdit.title)}" gets a new title.`);
    }
    await phase(daemon, 'Second scan', out, ckan);
    out(`\nMails sent (${smtp.messages.length - firstMails}):`);
    for (const m of smtp.messages.slice(firstMails)) out(`  ${summarizeMessage(m)}`);

    if (options.serve && daemon.httpUrl) {
      out(`\nStatus page: ${daemon.httpUrl}/  (Archive now token: ${HTTP_TOKEN})`);
      out('Serving until Ctrl-C.');
      options.onServing?.(daemon.httpUrl);
      await options.untilStopped;
    }
    out('\nDemo finished: everything above ran the real daemon code against local emulators.');
  } finally {
    await stopAll();
  }
}
