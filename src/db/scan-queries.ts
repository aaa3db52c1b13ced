/**
 * SQL of the scanner: the watermark, what was SEEN of each dataset, scan_runs, the advisory lock
 * that keeps scans one at a time across processes, and the reconciliation's deactivations.
 * (sql/0001_initial.sql documents the tables.)
 */
import type { Queryable } from './database.js';

/** PostgreSQL text cannot hold NUL; CKAN strings are hostile input and may. */
function clean(value: string): string;
function clean(value: string | null): string | null;
function clean(value: string | null): string | null {
  return value === null ? null : value.replaceAll('\u0000', '');
}

function cleanJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? v.replaceAll('\u0000', '') : v)).replaceAll('\\u0000', '');
}

export interface ScanState {
  watermark: string | null;
  watermarkId: string | null;
  reconciledAt: Date | null;
}

export async function getScanState(q: Queryable, source: string): Promise<ScanState | undefined> {
  const { rows } = await q.query<{ watermark: string | null; watermark_id: string | null; reconciled_at: Date | null }>(
    'SELECT watermark, watermark_id, reconciled_at FROM scan_state WHERE source = $1',
    [source],
  );
  const row = rows[0];
  return row === undefined ? undefined : { watermark: row.watermark, watermarkId: row.watermark_id, reconciledAt: row.reconciled_at };
}

export async function setWatermark(q: Queryable, source: string, watermark: string, watermarkId: string): Promise<void> {
  await q.query(
    `INSERT INTO scan_state (source, watermark, watermark_id, updated_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (source) DO UPDATE SET watermark = EXCLUDED.watermark, watermark_id = EXCLUDED.watermark_id, updated_at = now()`,
    [source, clean(watermark), clean(watermarkId)],
  );
}

export async function setReconciled(q: Queryable, source: string): Promise<void> {
  await q.query(
    `INSERT INTO scan_state (source, reconciled_at) VALUES ($1, now())
     ON CONFLICT (source) DO UPDATE SET reconciled_at = now(), updated_at = now()`,
    [source],
  );
}

export interface SeenDataset {
  datasetId: string;
  rule: string | null;
  metadataFingerprint: string | null;
  gone: boolean;
  resources: Record<string, string>;
}

/** What was seen of these datasets (those never stored are absent from the map). */
export async function loadSeen(q: Queryable, datasetIds: readonly string[]): Promise<Map<string, SeenDataset>> {
  const seen = new Map<string, SeenDataset>();
  if (datasetIds.length === 0) return seen;
  const ids = datasetIds.map((id) => clean(id));
  const datasets = await q.query<{ dataset_id: string; rule: string | null; metadata_fingerprint: string | null; gone: boolean }>(
    'SELECT dataset_id, rule, metadata_fingerprint, gone_at IS NOT NULL AS gone FROM datasets WHERE dataset_id = ANY($1::text[])',
    [ids],
  );
  for (const row of datasets.rows) {
    seen.set(row.dataset_id, { datasetId: row.dataset_id, rule: row.rule, metadataFingerprint: row.metadata_fingerprint, gone: row.gone, resources: Object.create(null) as Record<string, string> });
  }
  if (seen.size === 0) return seen;
  const resources = await q.query<{ dataset_id: string; resource_id: string; fingerprint: string }>(
    'SELECT dataset_id, resource_id, fingerprint FROM dataset_resources WHERE dataset_id = ANY($1::text[])',
    [[...seen.keys()]],
  );
  for (const row of resources.rows) {
    const entry = seen.get(row.dataset_id);
    if (entry) entry.resources[row.resource_id] = row.fingerprint;
  }
  return seen;
}

export interface DatasetSeenRow {
  datasetId: string;
  name: string;
  title: string | null;
  organization: string | null;
  rule: string;
  private: boolean;
  metadataModified: string;
  metadataFingerprint: string;
  /** In CKAN order; `position` is the index. */
  resources: { resourceId: string; fingerprint: string }[];
}

/**
 * Records what the scanner saw of a page's datasets in three statements whatever their number;
 * keeps the `zenodo_filename` of resources that are still there.
 */
export async function upsertDatasetsSeen(q: Queryable, rows: readonly DatasetSeenRow[]): Promise<void> {
  if (rows.length === 0) return;
  // Column arrays through unnest: a page is one statement, and no JSON document is built.
  const ids = rows.map((r) => clean(r.datasetId));
  await q.query(
    `INSERT INTO datasets (dataset_id, name, title, organization, rule, private, metadata_modified, metadata_fingerprint, seen_at, gone_at)
     SELECT x.dataset_id, x.name, x.title, x.organization, x.rule, x.private, x.metadata_modified, x.metadata_fingerprint, now(), NULL
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::text[], $8::text[])
       AS x(dataset_id, name, title, organization, rule, private, metadata_modified, metadata_fingerprint)
     ON CONFLICT (dataset_id) DO UPDATE SET name = EXCLUDED.name, title = EXCLUDED.title, organization = EXCLUDED.organization,
       rule = EXCLUDED.rule, private = EXCLUDED.private, metadata_modified = EXCLUDED.metadata_modified,
       metadata_fingerprint = EXCLUDED.metadata_fingerprint, seen_at = now(), gone_at = NULL`,
    [
      ids,
      rows.map((r) => clean(r.name)),
      rows.map((r) => clean(r.title)),
      rows.map((r) => clean(r.organization)),
      rows.map((r) => clean(r.rule)),
      rows.map((r) => r.private),
      rows.map((r) => clean(r.metadataModified)),
      rows.map((r) => r.metadataFingerprint),
    ],
  );
  const resDataset: string[] = [];
  const resId: string[] = [];
  const resFp: string[] = [];
  const resPos: number[] = [];
  for (const row of rows) {
    row.resources.forEach((r, position) => {
      resDataset.push(clean(row.datasetId));
      resId.push(clean(r.resourceId));
      resFp.push(r.fingerprint);
      resPos.push(position);
    });
  }
  await q.query(
    `DELETE FROM dataset_resources d WHERE d.dataset_id = ANY($1::text[])
       AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS k(ds, rid) WHERE k.ds = d.dataset_id AND k.rid = d.resource_id)`,
    [ids, resDataset, resId],
  );
  if (resId.length === 0) return;
  // A hostile dataset listing one resource id twice would make ON CONFLICT hit the same row twice.
  await q.query(
    `INSERT INTO dataset_resources (dataset_id, resource_id, fingerprint, position, seen_at)
     SELECT DISTINCT ON (r.ds, r.id) r.ds, r.id, r.fp, r.pos, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS r(ds, id, fp, pos)
     ORDER BY r.ds, r.id, r.pos
     ON CONFLICT (dataset_id, resource_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, position = EXCLUDED.position, seen_at = now()`,
    [resDataset, resId, resFp, resPos],
  );
}

/**
 * The dataset is no longer selected (untagged, deleted, made private): its row stays with
 * `rule = NULL` (and `gone_at` when CKAN no longer returns it) and its link becomes inactive.
 * Nothing is deleted on Zenodo. Returns whether a link was deactivated.
 */
export async function markDatasetLeft(q: Queryable, datasetId: string, reason: string, options: { gone: boolean }): Promise<boolean> {
  const id = clean(datasetId);
  await q.query(`UPDATE datasets SET rule = NULL, gone_at = CASE WHEN $2 THEN COALESCE(gone_at, now()) ELSE NULL END WHERE dataset_id = $1`, [id, options.gone]);
  const { rowCount } = await q.query(
    `UPDATE links SET state = 'inactive', inactive_reason = $2, updated_at = now() WHERE dataset_id = $1 AND state = 'active'`,
    [id, reason],
  );
  return (rowCount ?? 0) > 0;
}

/** A dataset selected again reactivates a link that a previous scan or reconciliation deactivated. */
export async function reactivateLink(q: Queryable, datasetId: string): Promise<void> {
  await q.query(`UPDATE links SET state = 'active', inactive_reason = NULL, updated_at = now() WHERE dataset_id = $1 AND state = 'inactive'`, [clean(datasetId)]);
}

/** Ids of datasets the last scans considered selected (the set reconciliation checks). */
export async function listSelectedDatasetIds(q: Queryable): Promise<string[]> {
  const { rows } = await q.query<{ dataset_id: string }>('SELECT dataset_id FROM datasets WHERE rule IS NOT NULL ORDER BY dataset_id');
  return rows.map((r) => r.dataset_id);
}

export interface ScanRunStats {
  requests: number;
  seen: number;
  selected: number;
  enqueued: number;
  malformed: { id?: string; reason: string }[];
}

export async function startScanRun(q: Queryable, source: string, kind: 'scan' | 'reconcile'): Promise<number> {
  const { rows } = await q.query<{ id: number }>('INSERT INTO scan_runs (source, kind) VALUES ($1, $2) RETURNING id', [source, kind]);
  return (rows[0] as { id: number }).id;
}

export async function finishScanRun(q: Queryable, id: number, stats: ScanRunStats, error?: string): Promise<void> {
  await q.query(
    `UPDATE scan_runs SET status = $2, finished_at = now(), requests = $3, datasets_seen = $4, datasets_selected = $5,
       jobs_enqueued = $6, malformed = $7::jsonb, error = $8 WHERE id = $1`,
    [
      id,
      error === undefined ? 'done' : 'failed',
      stats.requests,
      stats.seen,
      stats.selected,
      stats.enqueued,
      cleanJson(stats.malformed.slice(0, 1000).map((m) => ({ id: m.id, problem: m.reason }))),
      error === undefined ? null : clean(error),
    ],
  );
}
