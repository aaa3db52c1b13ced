/**
 * Read-only SQL behind the HTTP status server (src/http): /healthz, /metrics, /api/* and the
 * status pages. Nothing here writes. pg-boss's own tables (schema `pgboss`, owned by pg-boss) are
 * only read, and only after checking that they exist: a database that pg-boss has not started on
 * yet (a fresh install, `migrate` only) must still answer /metrics and the status page.
 */
import type { Queryable } from './database.js';

/** Whatever string-ish JSON the sync worker stored; parsed leniently by the HTTP layer. */
export type Json = unknown;

export interface ScanRunRow {
  id: number;
  source: string;
  kind: 'scan' | 'reconcile';
  status: 'running' | 'done' | 'failed';
  startedAt: Date;
  finishedAt: Date | null;
  datasetsSeen: number;
  datasetsSelected: number;
  jobsEnqueued: number;
  error: string | null;
}

export interface SyncSummaryRow {
  id: number;
  datasetId: string;
  name: string | null;
  title: string | null;
  trigger: string;
  state: string;
  kind: string | null;
  doi: string | null;
  conceptDoi: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  attempts: number;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export interface LinkedDatasetRow {
  datasetId: string;
  name: string | null;
  title: string | null;
  organization: string | null;
  rule: string | null;
  conceptDoi: string | null;
  latestDoi: string | null;
  latestVersionLabel: string | null;
  /** When the latest version was recorded (its sync's finish, else the link's last update). */
  latestAt: Date | null;
  linkState: 'active' | 'inactive';
  inactiveReason: string | null;
  /** The most recent sync of the dataset, if any. */
  lastSync: { id: number; state: string; errorCode: string | null; errorMessage: string | null; startedAt: Date } | null;
}

export interface CountRow {
  key: string;
  count: number;
}

export interface DatasetRow {
  datasetId: string;
  name: string;
  title: string | null;
  organization: string | null;
  rule: string | null;
  private: boolean;
  seenAt: Date;
  goneAt: Date | null;
}

export interface LinkRow {
  datasetId: string;
  conceptRecid: string | null;
  conceptDoi: string | null;
  latestRecordId: number | null;
  latestDoi: string | null;
  latestVersionLabel: string | null;
  state: 'active' | 'inactive';
  inactiveReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SyncStepRow {
  syncId: number;
  step: string;
  detail: Json;
  at: Date;
}

export interface SyncFileRow {
  syncId: number;
  filename: string;
  action: 'add' | 'replace' | 'delete' | 'keep';
  size: number | null;
  md5: string | null;
  doneAt: Date;
}

export interface SyncDetailRow extends SyncSummaryRow {
  recordId: number | null;
  draftId: number | null;
  plan: Json;
}

export interface MailRow {
  id: number;
  syncId: number | null;
  recipient: string;
  kind: string;
  status: string;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

export interface DatasetHistory {
  datasetId: string;
  dataset: DatasetRow | null;
  link: LinkRow | null;
  /** Newest first. */
  syncs: SyncDetailRow[];
  steps: SyncStepRow[];
  files: SyncFileRow[];
  mails: MailRow[];
}

export interface StatusQueries {
  /** A cheap round trip; rejects when the database cannot be reached. */
  ping(): Promise<void>;
  lastScans(limit: number): Promise<ScanRunRow[]>;
  /** Syncs not yet finished, oldest first. */
  openSyncs(limit: number): Promise<SyncSummaryRow[]>;
  /** Datasets whose most recent sync failed (nothing has succeeded since), newest first. */
  failuresNeedingAttention(limit: number): Promise<SyncSummaryRow[]>;
  /** Syncs that published a version (a DOI), newest first. */
  recentVersions(limit: number): Promise<SyncSummaryRow[]>;
  /** Finished syncs of the last `hours` hours by final state (done / unchanged / failed). */
  syncOutcomesSince(hours: number): Promise<CountRow[]>;
  /** Linked datasets, optionally filtered by title or name (case-insensitive substring). */
  linkedDatasets(options: { query?: string; limit: number }): Promise<LinkedDatasetRow[]>;
  /** Dataset ids with a `sync-dataset` job waiting in pg-boss (created or retry). */
  queuedDatasetIds(queue: string): Promise<Set<string>>;
  /** The dataset by id, else by name (most recently seen); undefined when nothing is known of it. */
  datasetHistory(idOrName: string, options: { syncLimit: number }): Promise<DatasetHistory | undefined>;
  // --- figures for /metrics and /healthz
  /** Finished scans and reconciliations by kind and outcome (done, failed); running ones are not counted. */
  scanTotals(): Promise<{ kind: string; status: string; count: number }[]>;
  /** Scans and reconciliations running now, by kind. */
  runningScans(): Promise<CountRow[]>;
  /** When the last successful scan (kind `scan`, status `done`) finished; null when none has. */
  lastSuccessfulScanAt(): Promise<Date | null>;
  /** The earliest `next_attempt_at` of mails still to send (pending or sending); null when none. */
  oldestDueMailAt(): Promise<Date | null>;
  syncTotals(): Promise<CountRow[]>;
  openSyncTotals(): Promise<CountRow[]>;
  uploadedBytes(): Promise<number>;
  /** pg-boss job counts by state for one queue; empty when pg-boss has not created its schema. */
  queueDepth(queue: string): Promise<CountRow[]>;
  outboxByStatus(): Promise<CountRow[]>;
  linksByState(): Promise<CountRow[]>;
}

/**
 * Longest title, name, organization or rule (in characters) these queries return; longer ones
 * end in "…". Titles come from CKAN and are hostile: one of 100,000 characters, read by 3,000
 * concurrent /api/status requests, held 1.5 GB. CKAN itself allows names of 100 characters.
 */
export const MAX_SHOWN_TEXT = 500;
/** Error messages are ours, but may quote what a remote server said. */
export const MAX_SHOWN_ERROR = 2000;

/**
 * A text column cut in the database, so the whole value never reaches this process. Only
 * `left()` touches the value: it decompresses just the prefix it needs, where `length()` of a
 * 100,000-character title decompressed all of it (60 ms for 200 such rows, per request).
 */
function clipped(column: string, max: number = MAX_SHOWN_TEXT): string {
  return `CASE WHEN length(left(${column}, ${max + 1})) > ${max} THEN left(${column}, ${max - 1}) || '…' ELSE left(${column}, ${max}) END`;
}

const SYNC_SUMMARY = `
  s.id, s.dataset_id, ${clipped('d.name')} AS name, ${clipped('d.title')} AS title, s.trigger, s.state, s.kind, s.doi, s.concept_doi, s.error_code,
  ${clipped('s.error_message', MAX_SHOWN_ERROR)} AS error_message, s.attempts, s.started_at, s.updated_at, s.finished_at`;

interface SyncSummaryDb {
  id: number;
  dataset_id: string;
  name: string | null;
  title: string | null;
  trigger: string;
  state: string;
  kind: string | null;
  doi: string | null;
  concept_doi: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

function toSyncSummary(r: SyncSummaryDb): SyncSummaryRow {
  return {
    id: Number(r.id),
    datasetId: r.dataset_id,
    name: r.name,
    title: r.title,
    trigger: r.trigger,
    state: r.state,
    kind: r.kind,
    doi: r.doi,
    conceptDoi: r.concept_doi,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    attempts: r.attempts,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

/** `%` and `_` in a search box are literal text, not patterns. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

async function counts(q: Queryable, sql: string, values: unknown[] = []): Promise<CountRow[]> {
  const result = await q.query<{ key: string; count: string | number }>(sql, values);
  return result.rows.map((r) => ({ key: r.key, count: Number(r.count) }));
}

async function pgBossJobTableExists(q: Queryable): Promise<boolean> {
  const result = await q.query<{ exists: boolean }>("SELECT to_regclass('pgboss.job') IS NOT NULL AS exists");
  return result.rows[0]?.exists === true;
}

export function createStatusQueries(q: Queryable): StatusQueries {
  return {
    async ping() {
      await q.query('SELECT 1');
    },

    async lastScans(limit) {
      const result = await q.query<{
        id: number;
        source: string;
        kind: 'scan' | 'reconcile';
        status: 'running' | 'done' | 'failed';
        started_at: Date;
        finished_at: Date | null;
        datasets_seen: number;
        datasets_selected: number;
        jobs_enqueued: number;
        error: string | null;
      }>(
        `SELECT id, source, kind, status, started_at, finished_at, datasets_seen, datasets_selected, jobs_enqueued, error
           FROM scan_runs ORDER BY started_at DESC, id DESC LIMIT $1`,
        [limit],
      );
      return result.rows.map((r) => ({
        id: Number(r.id),
        source: r.source,
        kind: r.kind,
        status: r.status,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        datasetsSeen: r.datasets_seen,
        datasetsSelected: r.datasets_selected,
        jobsEnqueued: r.jobs_enqueued,
        error: r.error,
      }));
    },

    async openSyncs(limit) {
      const result = await q.query<SyncSummaryDb>(
        `SELECT ${SYNC_SUMMARY} FROM sync_runs s LEFT JOIN datasets d USING (dataset_id)
          WHERE s.finished_at IS NULL ORDER BY s.started_at, s.id LIMIT $1`,
        [limit],
      );
      return result.rows.map(toSyncSummary);
    },

    async failuresNeedingAttention(limit) {
      const result = await q.query<SyncSummaryDb>(
        `SELECT * FROM (
           SELECT DISTINCT ON (s.dataset_id) ${SYNC_SUMMARY}
             FROM sync_runs s LEFT JOIN datasets d USING (dataset_id)
            ORDER BY s.dataset_id, s.started_at DESC, s.id DESC
         ) latest
         WHERE latest.state = 'failed'
         ORDER BY latest.finished_at DESC NULLS LAST, latest.id DESC LIMIT $1`,
        [limit],
      );
      return result.rows.map(toSyncSummary);
    },

    async recentVersions(limit) {
      const result = await q.query<SyncSummaryDb>(
        `SELECT ${SYNC_SUMMARY} FROM sync_runs s LEFT JOIN datasets d USING (dataset_id)
          WHERE s.doi IS NOT NULL ORDER BY coalesce(s.finished_at, s.updated_at) DESC, s.id DESC LIMIT $1`,
        [limit],
      );
      return result.rows.map(toSyncSummary);
    },

    syncOutcomesSince(hours) {
      return counts(
        q,
        `SELECT state AS key, count(*) AS count FROM sync_runs
          WHERE finished_at IS NOT NULL AND finished_at >= now() - make_interval(hours => $1)
          GROUP BY state ORDER BY state`,
        [hours],
      );
    },

    async linkedDatasets({ query, limit }) {
      const filter = query !== undefined && query.trim() !== '';
      const result = await q.query<{
        dataset_id: string;
        name: string | null;
        title: string | null;
        organization: string | null;
        rule: string | null;
        concept_doi: string | null;
        latest_doi: string | null;
        latest_version_label: string | null;
        latest_at: Date | null;
        state: 'active' | 'inactive';
        inactive_reason: string | null;
        sync_id: number | null;
        sync_state: string | null;
        sync_error_code: string | null;
        sync_error_message: string | null;
        sync_started_at: Date | null;
      }>(
        `SELECT l.dataset_id, ${clipped('d.name')} AS name, ${clipped('d.title')} AS title, ${clipped('d.organization')} AS organization,
                ${clipped('d.rule')} AS rule, l.concept_doi, l.latest_doi,
                l.latest_version_label, coalesce(v.at, l.updated_at) AS latest_at, l.state, ${clipped('l.inactive_reason')} AS inactive_reason,
                last.id AS sync_id, last.state AS sync_state, last.error_code AS sync_error_code,
                ${clipped('last.error_message', MAX_SHOWN_ERROR)} AS sync_error_message, last.started_at AS sync_started_at
           FROM links l
           LEFT JOIN datasets d USING (dataset_id)
           LEFT JOIN LATERAL (
             SELECT coalesce(s.finished_at, s.updated_at) AS at FROM sync_runs s
              WHERE s.dataset_id = l.dataset_id AND s.doi = l.latest_doi
              ORDER BY s.started_at DESC LIMIT 1
           ) v ON true
           LEFT JOIN LATERAL (
             SELECT s.id, s.state, s.error_code, s.error_message, s.started_at FROM sync_runs s
              WHERE s.dataset_id = l.dataset_id ORDER BY s.started_at DESC, s.id DESC LIMIT 1
           ) last ON true
          WHERE NOT $1::boolean OR d.title ILIKE $2 OR d.name ILIKE $2 OR l.dataset_id = $3
          -- Sorted on the first 200 characters: lower() of whole hostile titles (100,000
          -- characters each) made every request lowercase megabytes.
          ORDER BY lower(left(coalesce(d.title, d.name, l.dataset_id), 200)), l.dataset_id
          LIMIT $4`,
        [filter, likePattern(query ?? ''), query ?? '', limit],
      );
      return result.rows.map((r) => ({
        datasetId: r.dataset_id,
        name: r.name,
        title: r.title,
        organization: r.organization,
        rule: r.rule,
        conceptDoi: r.concept_doi,
        latestDoi: r.latest_doi,
        latestVersionLabel: r.latest_version_label,
        latestAt: r.latest_at,
        linkState: r.state,
        inactiveReason: r.inactive_reason,
        lastSync:
          r.sync_id === null || r.sync_state === null || r.sync_started_at === null
            ? null
            : { id: Number(r.sync_id), state: r.sync_state, errorCode: r.sync_error_code, errorMessage: r.sync_error_message, startedAt: r.sync_started_at },
      }));
    },

    async queuedDatasetIds(queue) {
      if (!(await pgBossJobTableExists(q))) return new Set();
      const result = await q.query<{ key: string }>(
        `SELECT DISTINCT singleton_key AS key FROM pgboss.job
          WHERE name = $1 AND state IN ('created', 'retry') AND singleton_key IS NOT NULL`,
        [queue],
      );
      return new Set(result.rows.map((r) => r.key));
    },

    async datasetHistory(idOrName, { syncLimit }) {
      // An id wins over a name: CKAN names can be re-used after a rename, ids cannot.
      const resolved = await q.query<{ dataset_id: string }>(
        `SELECT dataset_id FROM (
           SELECT dataset_id, 0 AS pref, now() AS at FROM datasets WHERE dataset_id = $1
           UNION ALL SELECT dataset_id, 0, now() FROM links WHERE dataset_id = $1
           UNION ALL (SELECT dataset_id, 0, now() FROM sync_runs WHERE dataset_id = $1 LIMIT 1)
           UNION ALL SELECT dataset_id, 1, seen_at FROM datasets WHERE name = $1
           -- Datasets synced by hand (\`sync <name>\`) before any scan saw them: the name is in the plan.
           UNION ALL (SELECT dataset_id, 2, started_at FROM sync_runs WHERE plan->'dataset'->>'name' = $1 ORDER BY id DESC LIMIT 1)
         ) c ORDER BY pref, at DESC LIMIT 1`,
        [idOrName],
      );
      const datasetId = resolved.rows[0]?.dataset_id;
      if (datasetId === undefined) return undefined;

      const [dataset, link, syncs, mails] = await Promise.all([
        q.query<{
          dataset_id: string;
          name: string;
          title: string | null;
          organization: string | null;
          rule: string | null;
          private: boolean;
          seen_at: Date;
          gone_at: Date | null;
        }>(
          `SELECT dataset_id, ${clipped('name')} AS name, ${clipped('title')} AS title, ${clipped('organization')} AS organization, ${clipped('rule')} AS rule,
                  private, seen_at, gone_at FROM datasets WHERE dataset_id = $1`,
          [datasetId],
        ),
        q.query<{
          dataset_id: string;
          concept_recid: string | null;
          concept_doi: string | null;
          latest_record_id: number | null;
          latest_doi: string | null;
          latest_version_label: string | null;
          state: 'active' | 'inactive';
          inactive_reason: string | null;
          created_at: Date;
          updated_at: Date;
        }>(
          `SELECT dataset_id, concept_recid, concept_doi, latest_record_id, latest_doi, latest_version_label, state,
                  inactive_reason, created_at, updated_at FROM links WHERE dataset_id = $1`,
          [datasetId],
        ),
        q.query<SyncSummaryDb & { record_id: number | null; draft_id: number | null; plan: Json }>(
          // Only the plan's file lists and its licence note: the rest holds the dataset's title and more, unbounded.
          `SELECT ${SYNC_SUMMARY}, s.record_id, s.draft_id,
                  jsonb_build_object('files', s.plan->'files', 'delete', s.plan->'delete', 'license', left(s.plan->>'license', 500)) AS plan
             FROM sync_runs s LEFT JOIN datasets d USING (dataset_id)
            WHERE s.dataset_id = $1 ORDER BY s.started_at DESC, s.id DESC LIMIT $2`,
          [datasetId, syncLimit],
        ),
        q.query<{
          id: number;
          sync_id: number | null;
          recipient: string;
          kind: string;
          status: string;
          attempts: number;
          last_error: string | null;
          created_at: Date;
          sent_at: Date | null;
        }>(
          `SELECT id, sync_id, recipient, kind, status, attempts, ${clipped('last_error', MAX_SHOWN_ERROR)} AS last_error, created_at, sent_at FROM mail_outbox
            WHERE dataset_id = $1 OR sync_id IN (SELECT id FROM sync_runs WHERE dataset_id = $1)
            ORDER BY created_at DESC, id DESC LIMIT 200`,
          [datasetId],
        ),
      ]);
      const syncIds = syncs.rows.map((r) => Number(r.id));
      const [steps, files] = await Promise.all([
        q.query<{ sync_id: number; step: string; detail: Json; at: Date }>(
          'SELECT sync_id, step, detail, at FROM sync_steps WHERE sync_id = ANY($1::bigint[]) ORDER BY sync_id DESC, id',
          [syncIds],
        ),
        q.query<{ sync_id: number; filename: string; action: SyncFileRow['action']; size: number | null; md5: string | null; done_at: Date }>(
          'SELECT sync_id, filename, action, size, md5, done_at FROM sync_files WHERE sync_id = ANY($1::bigint[]) ORDER BY sync_id DESC, filename',
          [syncIds],
        ),
      ]);

      const d = dataset.rows[0];
      const l = link.rows[0];
      return {
        datasetId,
        dataset:
          d === undefined
            ? null
            : { datasetId: d.dataset_id, name: d.name, title: d.title, organization: d.organization, rule: d.rule, private: d.private, seenAt: d.seen_at, goneAt: d.gone_at },
        link:
          l === undefined
            ? null
            : {
                datasetId: l.dataset_id,
                conceptRecid: l.concept_recid,
                conceptDoi: l.concept_doi,
                latestRecordId: l.latest_record_id === null ? null : Number(l.latest_record_id),
                latestDoi: l.latest_doi,
                latestVersionLabel: l.latest_version_label,
                state: l.state,
                inactiveReason: l.inactive_reason,
                createdAt: l.created_at,
                updatedAt: l.updated_at,
              },
        syncs: syncs.rows.map((r) => ({
          ...toSyncSummary(r),
          recordId: r.record_id === null ? null : Number(r.record_id),
          draftId: r.draft_id === null ? null : Number(r.draft_id),
          plan: r.plan,
        })),
        steps: steps.rows.map((r) => ({ syncId: Number(r.sync_id), step: r.step, detail: r.detail, at: r.at })),
        files: files.rows.map((r) => ({
          syncId: Number(r.sync_id),
          filename: r.filename,
          action: r.action,
          size: r.size === null ? null : Number(r.size),
          md5: r.md5,
          doneAt: r.done_at,
        })),
        mails: mails.rows.map((r) => ({
          id: Number(r.id),
          syncId: r.sync_id === null ? null : Number(r.sync_id),
          recipient: r.recipient,
          kind: r.kind,
          status: r.status,
          attempts: r.attempts,
          lastError: r.last_error,
          createdAt: r.created_at,
          sentAt: r.sent_at,
        })),
      };
    },

    async scanTotals() {
      const result = await q.query<{ kind: string; status: string; count: number }>(
        // A running scan becomes done or failed: counting it as an outcome made the counter go down.
        // Scans deleted by retention are tallied in pruned_scan_runs, so the total never drops.
        `SELECT kind, status, sum(n)::bigint AS count FROM (
           SELECT kind, status, count(*) AS n FROM scan_runs WHERE status <> 'running' GROUP BY kind, status
           UNION ALL SELECT kind, status, count AS n FROM pruned_scan_runs
         ) t GROUP BY kind, status ORDER BY kind, status`,
      );
      return result.rows.map((r) => ({ kind: r.kind, status: r.status, count: Number(r.count) }));
    },

    runningScans() {
      return counts(q, "SELECT kind AS key, count(*) AS count FROM scan_runs WHERE status = 'running' GROUP BY kind ORDER BY kind");
    },

    async lastSuccessfulScanAt() {
      const result = await q.query<{ at: Date | null }>("SELECT max(finished_at) AS at FROM scan_runs WHERE kind = 'scan' AND status = 'done'");
      return result.rows[0]?.at ?? null;
    },

    async oldestDueMailAt() {
      const result = await q.query<{ at: Date | null }>("SELECT min(next_attempt_at) AS at FROM mail_outbox WHERE status IN ('pending', 'sending')");
      return result.rows[0]?.at ?? null;
    },

    syncTotals() {
      return counts(q, 'SELECT state AS key, count(*) AS count FROM sync_runs WHERE finished_at IS NOT NULL GROUP BY state ORDER BY state');
    },

    openSyncTotals() {
      return counts(q, 'SELECT state AS key, count(*) AS count FROM sync_runs WHERE finished_at IS NULL GROUP BY state ORDER BY state');
    },

    async uploadedBytes() {
      const result = await q.query<{ bytes: number }>(
        "SELECT coalesce(sum(size), 0)::float8 AS bytes FROM sync_files WHERE action IN ('add', 'replace')",
      );
      return Number(result.rows[0]?.bytes ?? 0);
    },

    async queueDepth(queue) {
      if (!(await pgBossJobTableExists(q))) return [];
      return counts(q, 'SELECT state::text AS key, count(*) AS count FROM pgboss.job WHERE name = $1 GROUP BY state ORDER BY 1', [queue]);
    },

    outboxByStatus() {
      return counts(q, 'SELECT status AS key, count(*) AS count FROM mail_outbox GROUP BY status ORDER BY status');
    },

    linksByState() {
      return counts(q, 'SELECT state AS key, count(*) AS count FROM links GROUP BY state ORDER BY state');
    },
  };
}
