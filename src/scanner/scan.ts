/**
 * The incremental scan and the periodic reconciliation (DESIGN.md "Data flow" 2).
 *
 * Scan: page `package_search` with the rules' fq plus `metadata_modified:[lo TO *]`, sorted
 * `metadata_modified asc, id asc`, from the stored watermark minus an overlap. Per page, in ONE
 * transaction: what was seen (fingerprints) of selected datasets, `sync-dataset` jobs for those
 * whose fingerprints differ from what was SEEN, and the watermark. A crash between pages loses
 * nothing (the next run restarts at the last committed page) and queues nothing twice (the
 * fingerprints of a committed page already match, and pg-boss's stately policy drops a second
 * queued job for the same dataset).
 *
 * Paging is keyset-like rather than by a growing `start` (reference ckan-api.md §3.4 point 1): an
 * edit landing mid-scan moves that dataset to the end of the sort order and shifts every later row
 * one place left, so a plain offset would skip the row at the next page boundary. Each page
 * therefore restarts at the last timestamp processed (`lo` = its Solr millisecond form), skipping
 * by offset only the rows already processed AT that timestamp (minus one row of margin), and
 * deduplicating by id. The edited dataset is met again at the end (or by the next scan).
 *
 * Reconcile: list what the rules select now, and deactivate (never delete on Zenodo) the links of
 * datasets that left — untagged, deleted, made private. Bulk private/public flips do not bump
 * `metadata_modified` (§3.4 point 4) and deletions vanish from the index (point 5), so only a full
 * listing sees them. A dataset missing from the listing is confirmed with `package_show` before
 * its link is touched: offset paging over a set that changes during the listing can skip a row.
 *
 * Only one scan or reconciliation runs at a time across processes (Postgres advisory lock).
 */
import { withTransaction, type Database } from '../db/database.js';
import { LOCK_SCAN, tryLock } from '../db/locks.js';
import {
  finishScanRun,
  getScanState,
  listSelectedDatasetIds,
  loadSeen,
  markDatasetLeft,
  reactivateLink,
  setReconciled,
  setWatermark,
  startScanRun,
  upsertDatasetsSeen,
  type DatasetSeenRow,
  type ScanRunStats,
} from '../db/scan-queries.js';
import { isAppError, toAppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Config } from '../config/types.js';
import { enqueueSyncBatch, syncLeaseSeconds, type Boss, type SyncJobData } from '../queue/boss.js';
import { selectDataset } from '../rules/select.js';
import { ownExtras } from '../zenodo/metadata.js';
import { compileFq } from '../rules/fq.js';
import type { Rule, Rules } from '../rules/types.js';
import type { CkanClient } from './ckan-client.js';
import { toUtcIso, type CkanDataset, type MalformedDataset, type SearchPage } from './ckan-types.js';
import { diffResources, fingerprintDataset, isEmptyDiff } from './fingerprint.js';

export interface ScanDeps {
  db: Pick<Database, 'pool'>;
  /** Not needed for a dry run. */
  boss?: Boss;
  ckan: CkanClient;
  rules: Rules;
  config: Pick<Config, 'ckan'> & { sync: Pick<Config['sync'], 'linkExtra' | 'metadataExtra'> };
  log: Logger;
  dryRun?: boolean;
  /** Test seam: runs after each committed page (0-based), while the next page is being fetched. */
  afterPage?: (page: number) => Promise<void> | void;
}

export interface ScanDatasetEntry {
  datasetId: string;
  name: string;
  rule: string;
  /** `sync` = a job was (or, in a dry run, would be) queued. */
  action: 'sync' | 'unchanged';
  resources: { added: string[]; changed: string[]; removed: string[] };
  metadataChanged: boolean;
}

export interface ScanReport {
  status: 'done' | 'skipped';
  /** Why the scan was skipped. */
  reason?: string;
  source: string;
  dryRun: boolean;
  requests: number;
  pages: number;
  seen: number;
  selected: number;
  enqueued: number;
  /** Datasets that were selected before and no longer are (link deactivated if any). */
  left: number;
  malformed: MalformedDataset[];
  watermark: string | null;
  /** Selected datasets: always in a dry run; in a real scan only those queued. */
  datasets: ScanDatasetEntry[];
}

export interface ReconcileReport {
  status: 'done' | 'skipped';
  reason?: string;
  source: string;
  dryRun: boolean;
  requests: number;
  /** Datasets the rules select now. */
  selected: number;
  left: { datasetId: string; reason: string }[];
  linksDeactivated: number;
}

const SKIPPED = 'another scan is running';

/** CKAN's naive-UTC API timestamp → Solr form: truncated to milliseconds, with `Z` (§0, §3.4). */
export function solrTimestamp(apiTimestamp: string): string {
  return new Date(Date.parse(toUtcIso(apiTimestamp.replace(/(\.\d{3})\d+/, '$1')))).toISOString();
}

function rangeFq(rulesFq: string | undefined, lo: string): string {
  const range = `metadata_modified:[${lo} TO *]`;
  return rulesFq === undefined ? range : `(${rulesFq}) AND ${range}`;
}

function selectRule(rules: Rules, dataset: CkanDataset): Rule | undefined {
  const selection = selectDataset(rules, dataset);
  return selection.selected ? selection.rule : undefined;
}

function leftReason(dataset: CkanDataset, rules: Rules): string {
  const selection = selectDataset(rules, dataset);
  return selection.selected ? 'no rule selects the dataset any more (untagged or changed)' : selection.reason;
}

function totalBytes(dataset: CkanDataset): number {
  return dataset.resources.reduce((sum, r) => sum + (r.size ?? 0), 0);
}

export async function runScan(deps: ScanDeps): Promise<ScanReport> {
  const { ckan, rules, config, log } = deps;
  const dryRun = deps.dryRun ?? false;
  const source = ckan.baseUrl;
  const report: ScanReport = { status: 'done', source, dryRun, requests: 0, pages: 0, seen: 0, selected: 0, enqueued: 0, left: 0, malformed: [], watermark: null, datasets: [] };
  if (!dryRun && deps.boss === undefined) throw toAppError(new Error('runScan needs the queue unless dryRun is set'));
  const pool = deps.db.pool;
  const lock = await tryLock(pool, LOCK_SCAN, source);
  if (lock === undefined) {
    log.info({ source }, 'scan skipped: another scan is running');
    return { ...report, status: 'skipped', reason: SKIPPED };
  }
  const requestsBefore = ckan.requestCount();
  let runId: number | undefined;
  try {
    if (!dryRun) runId = await startScanRun(pool, source, 'scan');
    const state = await getScanState(pool, source);
    report.watermark = state?.watermark ?? null;
    const rulesFq = compileFq(rules);
    const rows = Math.min(1000, Math.max(1, config.ckan.pageSize));
    // Cursor: the Solr timestamp pages restart from, and the ids already processed at it.
    let cursorTs =
      state?.watermark == null ? '*' : new Date(Date.parse(solrTimestamp(state.watermark)) - config.ckan.scanOverlapMs).toISOString();
    let atCursor = new Set<string>();
    let extraSkip = 0;
    const processed = new Map<string, string>(); // dataset id → metadata_modified handled in this run

    // The next page is requested as soon as this one's cursor is known, and downloaded while this
    // page is written: a scan then takes about as long as the slower of CKAN and PostgreSQL, not
    // both added up. Nothing of a page is used before the previous one has committed.
    const search = (start: number): Promise<SearchPage> => {
      const pending = ckan.packageSearch({ fq: rangeFq(rulesFq, cursorTs), sort: 'metadata_modified asc, id asc', rows, start, includePrivate: true });
      pending.catch(() => undefined); // awaited below; a failure while the page before is written must not be "unhandled"
      return pending;
    };
    let next: Promise<SearchPage> | undefined = search(0);
    for (let page = 0; next !== undefined; page++) {
      const result = await next;
      next = undefined;
      report.pages++;
      report.malformed.push(...result.malformed);

      // Rows new to this cursor, in CKAN order.
      const fresh = result.datasets.filter((d) => !(solrTimestamp(d.metadata_modified) === cursorTs && atCursor.has(d.id)));
      const toHandle = fresh.filter((d) => processed.get(d.id) !== d.metadata_modified);
      report.seen += toHandle.length;
      const last = fresh.at(-1);
      const watermark = last === undefined || dryRun ? undefined : { source, value: last.metadata_modified, id: last.id };

      if (last !== undefined) {
        const lastTs = solrTimestamp(last.metadata_modified);
        if (lastTs !== cursorTs) {
          cursorTs = lastTs;
          atCursor = new Set();
        }
        for (const d of fresh) if (solrTimestamp(d.metadata_modified) === cursorTs) atCursor.add(d.id);
        extraSkip = 0;
      } else if (result.returned === rows) {
        // A full page with nothing new (only rows already processed, or malformed ones): move on.
        extraSkip += result.returned;
      }
      if (result.returned === rows) next = search(Math.max(0, atCursor.size - 1) + extraSkip);

      // The scan lock died with its connection (a database restart): another scan may be running
      // now, and two writing the same watermark would be one too many. Stop; the next one resumes.
      lock.assertHeld();
      const entries = await handlePage(deps, toHandle, dryRun, watermark);
      for (const e of entries.datasets) if (dryRun || e.action === 'sync') report.datasets.push(e);
      report.selected += entries.selected;
      report.enqueued += entries.enqueued;
      report.left += entries.left;
      for (const d of toHandle) processed.set(d.id, d.metadata_modified);
      if (last !== undefined) report.watermark = last.metadata_modified;
      await deps.afterPage?.(page);
    }
    report.requests = ckan.requestCount() - requestsBefore;
    if (runId !== undefined) await finishScanRun(pool, runId, stats(report));
    log.info({ source, requests: report.requests, seen: report.seen, selected: report.selected, enqueued: report.enqueued, malformed: report.malformed.length, dryRun }, 'scan finished');
    return report;
  } catch (error) {
    report.requests = ckan.requestCount() - requestsBefore;
    const appError = toAppError(error);
    if (runId !== undefined) await finishScanRun(pool, runId, stats(report), `${appError.code}: ${appError.message}`).catch(() => undefined);
    throw appError;
  } finally {
    await lock.release();
  }
}

function stats(report: ScanReport): ScanRunStats {
  return { requests: report.requests, seen: report.seen, selected: report.selected, enqueued: report.enqueued, malformed: report.malformed };
}

/** One page, one transaction: what was seen, the jobs and the watermark commit together. */
async function handlePage(
  deps: ScanDeps,
  datasets: CkanDataset[],
  dryRun: boolean,
  watermark: { source: string; value: string; id: string } | undefined,
): Promise<{ datasets: ScanDatasetEntry[]; selected: number; enqueued: number; left: number }> {
  const { rules, log } = deps;
  const out = { datasets: [] as ScanDatasetEntry[], selected: 0, enqueued: 0, left: 0 };
  if (datasets.length === 0 && watermark === undefined) return out;
  // A page listing one dataset twice (hostile or a broken index) must not upsert it twice.
  datasets = [...new Map(datasets.map((d) => [d.id, d])).values()];
  const matched = datasets.map((dataset) => ({ dataset, rule: selectRule(rules, dataset) }));
  out.selected = matched.filter((m) => m.rule !== undefined).length;

  const work = async (q: Parameters<typeof loadSeen>[0]): Promise<typeof out> => {
    const result = { ...out, datasets: [] as ScanDatasetEntry[], enqueued: 0, left: 0 };
    const seen = await loadSeen(q, datasets.map((d) => d.id));
    const toStore: DatasetSeenRow[] = [];
    const toQueue: { data: SyncJobData; lease: number }[] = [];
    for (const { dataset, rule } of matched) {
      const prev = seen.get(dataset.id);
      if (rule === undefined) {
        if (prev !== undefined && prev.rule !== null) {
          result.left++;
          if (!dryRun) {
            const reason = leftReason(dataset, rules);
            const deactivated = await markDatasetLeft(q, dataset.id, reason, { gone: false });
            log.info({ datasetId: dataset.id, reason, linkDeactivated: deactivated }, 'dataset no longer selected');
          }
        }
        continue;
      }
      const fp = fingerprintDataset(dataset, rule, { ckanUrl: deps.ckan.baseUrl, ownExtras: ownExtras(deps.config.sync.linkExtra), overrideExtra: deps.config.sync.metadataExtra });
      const wasSelected = prev !== undefined && prev.rule !== null && !prev.gone;
      const diff = diffResources(prev?.resources ?? {}, fp.resources);
      const metadataChanged = prev?.metadataFingerprint !== fp.metadata;
      const unchanged = wasSelected && prev.rule === rule.name && !metadataChanged && isEmptyDiff(diff);
      // A metadata-only change under `metadata_changes: ignore` is recorded but syncs nothing.
      const ignored = wasSelected && isEmptyDiff(diff) && rule.metadata_changes === 'ignore';
      const entry: ScanDatasetEntry = { datasetId: dataset.id, name: dataset.name, rule: rule.name, action: unchanged || ignored ? 'unchanged' : 'sync', resources: diff, metadataChanged };
      result.datasets.push(entry);
      if (unchanged || dryRun) continue;
      toStore.push({
        datasetId: dataset.id,
        name: dataset.name,
        title: dataset.title,
        organization: dataset.organization?.name ?? null,
        rule: rule.name,
        private: dataset.private,
        metadataModified: dataset.metadata_modified,
        metadataFingerprint: fp.metadata,
        resources: Object.entries(fp.resources).map(([resourceId, fingerprint]) => ({ resourceId, fingerprint })),
      });
      if (prev !== undefined && !wasSelected) await reactivateLink(q, dataset.id);
      if (ignored) continue;
      toQueue.push({
        data: { datasetId: dataset.id, datasetName: dataset.name, trigger: 'scan', resources: diff, metadataChanged, fingerprints: { metadata: fp.metadata, resources: fp.resources } },
        lease: syncLeaseSeconds(totalBytes(dataset)),
      });
    }
    // What was seen first, then the jobs: both in this transaction, so a worker never sees a job
    // whose fingerprints are not committed.
    await upsertDatasetsSeen(q, toStore);
    result.enqueued += await enqueueSyncBatch(deps.boss as Boss, toQueue.map((job) => ({ data: job.data, expireInSeconds: job.lease })), { db: q });
    if (watermark !== undefined) await setWatermark(q, watermark.source, watermark.value, watermark.id);
    return result;
  };

  if (dryRun) return work(deps.db.pool);
  return withTransaction(deps.db.pool, work);
}

export async function runReconcile(deps: Omit<ScanDeps, 'boss' | 'afterPage'>): Promise<ReconcileReport> {
  const { ckan, rules, config, log } = deps;
  const dryRun = deps.dryRun ?? false;
  const source = ckan.baseUrl;
  const report: ReconcileReport = { status: 'done', source, dryRun, requests: 0, selected: 0, left: [], linksDeactivated: 0 };
  const pool = deps.db.pool;
  const lock = await tryLock(pool, LOCK_SCAN, source);
  if (lock === undefined) return { ...report, status: 'skipped', reason: SKIPPED };
  const requestsBefore = ckan.requestCount();
  let runId: number | undefined;
  const malformed: MalformedDataset[] = [];
  try {
    if (!dryRun) runId = await startScanRun(pool, source, 'reconcile');
    const fq = compileFq(rules);
    const rows = Math.min(1000, Math.max(1, config.ckan.pageSize));
    const present = new Set<string>();
    const unreadable = new Set<string>();
    let seenCount = 0;
    for (let start = 0; ; start += rows) {
      const page = await ckan.packageSearch({ fq, sort: 'id asc', rows, start, includePrivate: true });
      seenCount += page.datasets.length;
      malformed.push(...page.malformed);
      for (const m of page.malformed) if (m.id !== undefined) unreadable.add(m.id);
      for (const d of page.datasets) if (selectRule(rules, d) !== undefined) present.add(d.id);
      if (page.returned < rows) break;
    }
    report.selected = present.size;
    const candidates = (await listSelectedDatasetIds(pool)).filter((id) => !present.has(id) && !unreadable.has(id));
    for (const id of candidates) {
      let reason: string;
      let gone = false;
      try {
        const dataset = await ckan.packageShow(id);
        if (selectRule(rules, dataset) !== undefined && dataset.state !== 'deleted') continue; // skipped by a shifting listing
        reason = leftReason(dataset, rules);
        gone = dataset.state === 'deleted';
      } catch (error) {
        if (isAppError(error, 'CKAN_NOT_FOUND')) reason = 'the dataset was deleted (purged) in CKAN';
        else if (isAppError(error, 'CKAN_AUTH')) reason = 'the dataset was deleted or made private in CKAN (the token can no longer read it)';
        else throw error;
        gone = true;
      }
      report.left.push({ datasetId: id, reason });
      if (!dryRun) {
        lock.assertHeld();
        const deactivated = await withTransaction(pool, (client) => markDatasetLeft(client, id, reason, { gone }));
        if (deactivated) report.linksDeactivated++;
        log.info({ datasetId: id, reason, linkDeactivated: deactivated }, 'dataset left the archive selection');
      }
    }
    lock.assertHeld();
    if (!dryRun) await setReconciled(pool, source);
    report.requests = ckan.requestCount() - requestsBefore;
    if (runId !== undefined) {
      await finishScanRun(pool, runId, { requests: report.requests, seen: seenCount, selected: report.selected, enqueued: 0, malformed });
    }
    log.info({ source, selected: report.selected, left: report.left.length, linksDeactivated: report.linksDeactivated, dryRun }, 'reconciliation finished');
    return report;
  } catch (error) {
    const appError = toAppError(error);
    if (runId !== undefined) {
      await finishScanRun(pool, runId, { requests: ckan.requestCount() - requestsBefore, seen: 0, selected: report.selected, enqueued: 0, malformed }, `${appError.code}: ${appError.message}`).catch(() => undefined);
    }
    throw appError;
  } finally {
    await lock.release();
  }
}
