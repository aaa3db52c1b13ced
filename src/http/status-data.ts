/**
 * Gathers what /api/status, /api/datasets/:id and the status pages show, once, so that the JSON
 * and the HTML never disagree. Error texts pass through redactText: a sync's error message is
 * written by code that tries to keep secrets out, and this is the second line of defence before
 * anything reaches a (possibly public) page.
 */
import { createTask } from 'node-cron';
import { z } from 'zod';
import { redactText } from '../log.js';
import { describeFailure } from '../notify/render.js';
import type { DatasetHistory, LinkedDatasetRow, ScanRunRow, StatusQueries, SyncSummaryRow } from '../db/status-queries.js';

export const SYNC_QUEUE = 'sync-dataset';

export type DatasetStatusKind = 'ok' | 'queued' | 'syncing' | 'failed' | 'inactive' | 'pending';

export interface DatasetStatus {
  kind: DatasetStatusKind;
  label: string;
  detail: string | null;
}

export interface Failure extends SyncSummaryRow {
  summary: string;
  advice: string;
}

export interface DatasetListItem extends LinkedDatasetRow {
  status: DatasetStatus;
}

export interface Overview {
  now: Date;
  scans: ScanRunRow[];
  lastScan: ScanRunRow | null;
  nextScanAt: Date | null;
  queue: Record<string, number>;
  syncsLast24h: Record<string, number>;
  openSyncs: SyncSummaryRow[];
  failures: Failure[];
  recentVersions: SyncSummaryRow[];
  datasets: DatasetListItem[];
  datasetLimit: number;
  query: string;
}

const FINISHED = new Set(['done', 'unchanged', 'skipped', 'failed']);
const DATASET_LIMIT = 500;

/**
 * Next run of a cron expression, from node-cron's own matcher (so it agrees with the scheduler).
 * The task is created stopped and destroyed at once; null when the expression is invalid.
 */
export function nextCronRun(expression: string, timezone?: string): Date | null {
  try {
    const task = createTask(expression, () => undefined, timezone === undefined ? {} : { timezone });
    try {
      return task.getNextRuns(1)[0] ?? null;
    } finally {
      void task.destroy();
    }
  } catch {
    return null;
  }
}

/** Expected time between two runs of a cron expression (null when invalid). */
export function cronInterval(expression: string, timezone?: string): number | null {
  try {
    const task = createTask(expression, () => undefined, timezone === undefined ? {} : { timezone });
    try {
      const [a, b] = task.getNextRuns(2);
      return a && b ? b.getTime() - a.getTime() : null;
    } finally {
      void task.destroy();
    }
  } catch {
    return null;
  }
}

/**
 * The longest gap between consecutive fire times among the next `runs` (ms), or null for an
 * invalid expression. A schedule such as `0 9 * * 1-5` fires daily but leaves 72 h over a
 * weekend: an alert based on the next two fire times alone would fire every Monday morning.
 */
export function longestCronGap(expression: string, timezone?: string, runs = 60): number | null {
  try {
    const task = createTask(expression, () => undefined, timezone === undefined ? {} : { timezone });
    try {
      const times = task.getNextRuns(runs).map((d) => d.getTime());
      let longest = 0;
      for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i]! - times[i - 1]!);
      return longest > 0 ? longest : null;
    } finally {
      void task.destroy();
    }
  } catch {
    return null;
  }
}

export function datasetStatus(row: Pick<LinkedDatasetRow, 'datasetId' | 'linkState' | 'inactiveReason' | 'lastSync'>, queued: ReadonlySet<string>): DatasetStatus {
  if (row.linkState === 'inactive') return { kind: 'inactive', label: 'inactive', detail: row.inactiveReason };
  const last = row.lastSync;
  if (last && !FINISHED.has(last.state)) return { kind: 'syncing', label: 'syncing', detail: last.state.replaceAll('_', ' ') };
  if (queued.has(row.datasetId)) return { kind: 'queued', label: 'queued', detail: null };
  if (last?.state === 'failed') return { kind: 'failed', label: 'failed', detail: last.errorCode };
  if (!last) return { kind: 'pending', label: 'linked', detail: 'no sync yet' };
  return { kind: 'ok', label: 'up to date', detail: null };
}

function toRecord(rows: { key: string; count: number }[]): Record<string, number> {
  return Object.fromEntries(rows.map((r) => [r.key, r.count]));
}

function scrubSync<T extends { errorMessage: string | null }>(row: T, secrets: readonly string[]): T {
  return row.errorMessage === null ? row : { ...row, errorMessage: redactText(row.errorMessage, secrets) };
}

export async function loadOverview(
  status: StatusQueries,
  options: { query: string; scanCron: string; scanTimezone?: string; secrets: readonly string[] },
): Promise<Overview> {
  const [scans, queueRows, outcomes, openSyncs, failures, recentVersions, datasets, queued] = await Promise.all([
    status.lastScans(5),
    status.queueDepth(SYNC_QUEUE),
    status.syncOutcomesSince(24),
    status.openSyncs(50),
    status.failuresNeedingAttention(50),
    status.recentVersions(20),
    status.linkedDatasets({ query: options.query, limit: DATASET_LIMIT }),
    status.queuedDatasetIds(SYNC_QUEUE),
  ]);
  const lastScan = scans.find((s) => s.kind === 'scan') ?? scans[0] ?? null;
  return {
    now: new Date(),
    scans,
    lastScan,
    nextScanAt: nextCronRun(options.scanCron, options.scanTimezone),
    queue: toRecord(queueRows),
    syncsLast24h: toRecord(outcomes),
    openSyncs: openSyncs.map((s) => scrubSync(s, options.secrets)),
    failures: failures.map((f) => {
      const text = describeFailure(f.errorCode ?? 'INTERNAL', { datasetName: f.name ?? f.datasetId });
      return { ...scrubSync(f, options.secrets), summary: text.summary, advice: text.advice };
    }),
    recentVersions,
    datasets: datasets.map((d) => ({
      ...d,
      lastSync: d.lastSync && d.lastSync.errorMessage !== null ? { ...d.lastSync, errorMessage: redactText(d.lastSync.errorMessage, options.secrets) } : d.lastSync,
      status: datasetStatus(d, queued),
    })),
    datasetLimit: DATASET_LIMIT,
    query: options.query,
  };
}

// --- one dataset -----------------------------------------------------------------------------

// The stored plan is our own JSON, but written by other versions of the code: parse only what is
// shown and never fail the page over it.
const planSchema = z.object({
  files: z
    .array(z.object({ filename: z.string(), action: z.string(), size: z.number().nullable().optional() }))
    .catch([]),
  delete: z.array(z.object({ filename: z.string() })).catch([]),
  license: z.string().nullable().optional().catch(undefined),
});

/** Which licence a sync gives (or gave) the record, and why; absent in plans of older versions. */
function licenseFor(plan: unknown): string | null {
  const parsed = planSchema.safeParse(plan ?? {});
  return parsed.success ? (parsed.data.license ?? null) : null;
}

export interface FileChange {
  filename: string;
  action: 'add' | 'replace' | 'delete';
  size: number | null;
}

export interface VersionEntry {
  syncId: number;
  kind: string | null;
  doi: string | null;
  versionLabel: string | null;
  at: Date;
  /** Files uploaded or removed by this version (what was recorded, else what was planned). */
  changes: FileChange[];
  /** The licence and why (CKAN's, the rule's, the owner's override). */
  license: string | null;
}

export interface SyncAttempt {
  id: number;
  trigger: string;
  state: string;
  kind: string | null;
  doi: string | null;
  attempts: number;
  startedAt: Date;
  finishedAt: Date | null;
  error: { code: string; message: string | null; summary: string; advice: string } | null;
  steps: { step: string; at: Date; detail: unknown }[];
  changes: FileChange[];
  license: string | null;
}

export interface DatasetView {
  datasetId: string;
  dataset: DatasetHistory['dataset'];
  link: DatasetHistory['link'];
  status: DatasetStatus;
  versions: VersionEntry[];
  syncs: SyncAttempt[];
  mails: DatasetHistory['mails'];
}

/** Step details are free-form JSON (URLs, messages): redacted as text, dropped if that breaks them. */
function scrubJson(value: unknown, secrets: readonly string[]): unknown {
  if (value === null || value === undefined) return null;
  try {
    return JSON.parse(redactText(JSON.stringify(value), secrets)) as unknown;
  } catch {
    return null;
  }
}

function changesFor(syncId: number, plan: unknown, history: DatasetHistory): FileChange[] {
  const recorded = history.files.filter((f) => f.syncId === syncId && f.action !== 'keep');
  if (recorded.length > 0) {
    return recorded.map((f) => ({ filename: f.filename, action: f.action as FileChange['action'], size: f.size }));
  }
  const parsed = planSchema.safeParse(plan ?? {});
  if (!parsed.success) return [];
  const changes: FileChange[] = [];
  for (const f of parsed.data.files) {
    if (f.action === 'add' || f.action === 'replace') changes.push({ filename: f.filename, action: f.action, size: f.size ?? null });
  }
  for (const f of parsed.data.delete) changes.push({ filename: f.filename, action: 'delete', size: null });
  return changes;
}

export async function loadDatasetView(
  status: StatusQueries,
  idOrName: string,
  options: { secrets: readonly string[] },
): Promise<DatasetView | undefined> {
  const [history, queued] = await Promise.all([status.datasetHistory(idOrName, { syncLimit: 100 }), status.queuedDatasetIds(SYNC_QUEUE)]);
  if (!history) return undefined;
  const latest = history.syncs[0];
  const state = datasetStatus(
    {
      datasetId: history.datasetId,
      linkState: history.link?.state ?? 'active',
      inactiveReason: history.link?.inactiveReason ?? null,
      lastSync: latest ? { id: latest.id, state: latest.state, errorCode: latest.errorCode, errorMessage: null, startedAt: latest.startedAt } : null,
    },
    queued,
  );
  const name = history.dataset?.name ?? history.datasetId;
  const versions: VersionEntry[] = history.syncs
    // A DOI means the version exists on Zenodo, even if a later step (write-back) failed.
    .filter((s) => s.doi !== null)
    .map((s) => ({
      syncId: s.id,
      kind: s.kind,
      doi: s.doi,
      versionLabel: history.link && s.doi === history.link.latestDoi ? history.link.latestVersionLabel : null,
      at: s.finishedAt ?? s.updatedAt,
      changes: changesFor(s.id, s.plan, history),
      license: licenseFor(s.plan),
    }));
  const syncs: SyncAttempt[] = history.syncs.map((s) => {
    const text = s.errorCode === null ? null : describeFailure(s.errorCode, { datasetName: name });
    return {
      id: s.id,
      trigger: s.trigger,
      state: s.state,
      kind: s.kind,
      doi: s.doi,
      attempts: s.attempts,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      error:
        s.errorCode === null || text === null
          ? null
          : { code: s.errorCode, message: s.errorMessage === null ? null : redactText(s.errorMessage, options.secrets), summary: text.summary, advice: text.advice },
      steps: history.steps.filter((step) => step.syncId === s.id).map((step) => ({ step: step.step, at: step.at, detail: scrubJson(step.detail, options.secrets) })),
      changes: changesFor(s.id, s.plan, history),
      license: licenseFor(s.plan),
    };
  });
  return {
    datasetId: history.datasetId,
    dataset: history.dataset,
    link: history.link,
    status: state,
    versions,
    syncs,
    mails: history.mails.map((m) => (m.lastError === null ? m : { ...m, lastError: redactText(m.lastError, options.secrets) })),
  };
}
