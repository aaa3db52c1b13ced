/**
 * The sync worker's persistence (the `SyncStore` port of src/sync/ports.ts) over the tables of
 * sql/0001_initial.sql. Every method that records a step commits before it returns, and the
 * ones the state machine relies on for "exactly one version per change" (recordPublished, fail)
 * write everything they touch in one transaction.
 */
import type pg from 'pg';
import { AppError, isAppError } from '../errors.js';
import type { ArchivedFile } from '../sync/plan.js';
import type { Link, OutboxRow, PublishedResult, StoredPlan, SyncRun, SyncState, SyncStore } from '../sync/ports.js';
import { pgCode, toDbError, withTransaction, type Queryable } from './database.js';

interface SyncRow {
  id: number;
  dataset_id: string;
  state: SyncState;
  kind: SyncRun['kind'] | null;
  plan: StoredPlan | null;
  draft_id: number | null;
  record_id: number | null;
  doi: string | null;
  concept_doi: string | null;
  attempts: number;
}

const SYNC_COLUMNS = 'id, dataset_id, state, kind, plan, draft_id, record_id, doi, concept_doi, attempts';
const TERMINAL = "('done', 'unchanged', 'failed')";

function toRun(row: SyncRow): SyncRun {
  if (row.kind === null || row.plan === null) {
    // Only failed-before-planning rows lack a plan, and those are never handed out as open.
    throw new AppError('INTERNAL', `sync ${row.id} has no plan`);
  }
  return {
    id: row.id,
    datasetId: row.dataset_id,
    state: row.state,
    kind: row.kind,
    plan: row.plan,
    draftId: row.draft_id,
    recordId: row.record_id,
    doi: row.doi,
    conceptDoi: row.concept_doi,
    attempts: row.attempts,
  };
}

/** Runs a statement, turning driver errors into AppErrors (connection loss is retryable). */
async function query<R extends pg.QueryResultRow>(db: Queryable, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(text, values);
  } catch (error) {
    // Serialization failures and deadlocks stay raw so that withTransaction can re-run the work.
    const code = pgCode(error);
    if (code === '40001' || code === '40P01') throw error;
    throw mapError(error);
  }
}

function mapError(error: unknown): AppError {
  if (isAppError(error)) return error;
  const code = pgCode(error);
  if (code === '23514' && error instanceof Error && /sync \d+/.test(error.message)) {
    // The transition guard: a worker acting on a sync that moved on without it (lease expired).
    return new AppError('INTERNAL', error.message, { cause: error });
  }
  return toDbError(error, 'database error');
}

async function insertStep(db: Queryable, syncId: number, step: string, detail: Record<string, unknown> | undefined): Promise<void> {
  await query(db, 'INSERT INTO sync_steps (sync_id, step, detail) VALUES ($1, $2, $3)', [syncId, step, detail === undefined ? null : JSON.stringify(detail)]);
}

async function insertMails(db: Queryable, syncId: number | null, datasetId: string, mails: readonly OutboxRow[]): Promise<void> {
  for (const mail of mails) {
    // A step recorded twice (crash between Zenodo's answer and our commit) must not mail twice.
    await query(
      db,
      `INSERT INTO mail_outbox (sync_id, dataset_id, recipient, kind, payload) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (sync_id, lower(recipient), kind) DO NOTHING`,
      [syncId, datasetId, mail.recipient, mail.kind, JSON.stringify(mail.payload)],
    );
  }
}

function conceptConflict(error: unknown, conceptRecid: string | null): AppError | undefined {
  if (pgCode(error) === '23505' && (error as { constraint?: string }).constraint === 'links_concept_recid_key') {
    return new AppError('LINK_CONFLICT', `Zenodo concept ${conceptRecid ?? '?'} is already linked to another CKAN dataset`, { cause: error, details: { conceptRecid } });
  }
  return undefined;
}

async function upsertLink(db: Queryable, link: Pick<Link, 'datasetId' | 'conceptRecid' | 'conceptDoi' | 'latestRecordId' | 'latestDoi'>, extra: { versionLabel?: string | null; metadataFingerprint?: string } = {}): Promise<void> {
  try {
    await db.query(
      `INSERT INTO links (dataset_id, concept_recid, concept_doi, latest_record_id, latest_doi, latest_version_label, archived_metadata_fingerprint)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (dataset_id) DO UPDATE SET
         concept_recid = EXCLUDED.concept_recid,
         concept_doi = EXCLUDED.concept_doi,
         latest_record_id = EXCLUDED.latest_record_id,
         latest_doi = EXCLUDED.latest_doi,
         latest_version_label = COALESCE(EXCLUDED.latest_version_label, links.latest_version_label),
         archived_metadata_fingerprint = COALESCE(EXCLUDED.archived_metadata_fingerprint, links.archived_metadata_fingerprint),
         state = 'active',
         inactive_reason = NULL,
         updated_at = now()`,
      [link.datasetId, link.conceptRecid, link.conceptDoi, link.latestRecordId, link.latestDoi, extra.versionLabel ?? null, extra.metadataFingerprint ?? null],
    );
  } catch (error) {
    throw conceptConflict(error, link.conceptRecid) ?? mapError(error);
  }
}

export function createSyncStore(pool: pg.Pool): SyncStore {
  return {
    async getLink(datasetId) {
      const r = await query<{
        dataset_id: string;
        concept_recid: string | null;
        concept_doi: string | null;
        latest_record_id: number | null;
        latest_doi: string | null;
        archived_metadata_fingerprint: string | null;
        state: 'active' | 'inactive';
      }>(pool, 'SELECT dataset_id, concept_recid, concept_doi, latest_record_id, latest_doi, archived_metadata_fingerprint, state FROM links WHERE dataset_id = $1', [datasetId]);
      const row = r.rows[0];
      if (!row) return undefined;
      return {
        datasetId: row.dataset_id,
        conceptRecid: row.concept_recid,
        conceptDoi: row.concept_doi,
        latestRecordId: row.latest_record_id,
        latestDoi: row.latest_doi,
        archivedMetadataFingerprint: row.archived_metadata_fingerprint,
        state: row.state,
      };
    },

    async saveLink(link) {
      await upsertLink(pool, link);
    },

    async archivedFiles(datasetId) {
      const r = await query<{ resource_id: string | null; filename: string; size: number; md5: string; fingerprint: string | null }>(
        pool,
        'SELECT resource_id, filename, size, md5, fingerprint FROM archived_files WHERE dataset_id = $1 ORDER BY filename',
        [datasetId],
      );
      return r.rows.map((row): ArchivedFile => ({ resourceId: row.resource_id, filename: row.filename, size: row.size, md5: row.md5, fingerprint: row.fingerprint }));
    },

    async storedFilenames(datasetId) {
      // The archived version's names win over names merely assigned to resources seen since.
      const r = await query<{ resource_id: string; filename: string }>(
        pool,
        `SELECT resource_id, zenodo_filename AS filename, 1 AS rank FROM dataset_resources WHERE dataset_id = $1 AND zenodo_filename IS NOT NULL
         UNION ALL
         SELECT resource_id, filename, 2 AS rank FROM archived_files WHERE dataset_id = $1 AND resource_id IS NOT NULL
         ORDER BY rank`,
        [datasetId],
      );
      return new Map(r.rows.map((row) => [row.resource_id, row.filename]));
    },

    async openSync(datasetId) {
      const r = await query<SyncRow>(pool, `SELECT ${SYNC_COLUMNS} FROM sync_runs WHERE dataset_id = $1 AND state NOT IN ${TERMINAL}`, [datasetId]);
      const row = r.rows[0];
      return row ? toRun(row) : undefined;
    },

    async createSync(datasetId, trigger, plan) {
      return withTransaction(pool, async (client) => {
        let row: SyncRow | undefined;
        try {
          const r = await client.query<SyncRow>(
            `INSERT INTO sync_runs (dataset_id, trigger, kind, plan) VALUES ($1, $2, $3, $4) RETURNING ${SYNC_COLUMNS}`,
            [datasetId, trigger, plan.kind, JSON.stringify(plan)],
          );
          row = r.rows[0];
        } catch (error) {
          if (pgCode(error) === '23505') {
            // Another worker opened a sync for this dataset first; the queue will run us again
            // after it, and we will then resume or re-plan.
            throw new AppError('DB_CONFLICT', `dataset ${datasetId} already has a sync in progress`, { retryable: true, cause: error });
          }
          throw mapError(error);
        }
        if (!row) throw new AppError('INTERNAL', 'INSERT … RETURNING returned no row');
        await insertStep(client, row.id, 'planned', { kind: plan.kind, trigger });
        return toRun(row);
      });
    },

    async advance(syncId, state, patch = {}, detail) {
      await withTransaction(pool, async (client) => {
        const r = await query(
          client,
          `UPDATE sync_runs SET state = $2,
             draft_id    = CASE WHEN $3 THEN $4::bigint ELSE draft_id END,
             record_id   = CASE WHEN $5 THEN $6::bigint ELSE record_id END,
             doi         = CASE WHEN $7 THEN $8::text ELSE doi END,
             concept_doi = CASE WHEN $9 THEN $10::text ELSE concept_doi END
           WHERE id = $1`,
          [
            syncId,
            state,
            'draftId' in patch,
            patch.draftId ?? null,
            'recordId' in patch,
            patch.recordId ?? null,
            'doi' in patch,
            patch.doi ?? null,
            'conceptDoi' in patch,
            patch.conceptDoi ?? null,
          ],
        );
        if (r.rowCount !== 1) throw new AppError('INTERNAL', `sync ${syncId} does not exist`);
        await insertStep(client, syncId, state, detail ?? (Object.keys(patch).length > 0 ? { ...patch } : undefined));
      });
    },

    async uploadedFiles(syncId) {
      const r = await query<{ filename: string; md5: string; size: number }>(
        pool,
        'SELECT filename, md5, size FROM sync_files WHERE sync_id = $1 AND md5 IS NOT NULL AND size IS NOT NULL',
        [syncId],
      );
      return new Map(r.rows.map((row) => [row.filename, { md5: row.md5, size: row.size }]));
    },

    async recordUpload(syncId, file) {
      await query(
        pool,
        `INSERT INTO sync_files (sync_id, resource_id, filename, action, size, md5) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (sync_id, filename) DO UPDATE SET resource_id = EXCLUDED.resource_id, action = EXCLUDED.action,
           size = EXCLUDED.size, md5 = EXCLUDED.md5, done_at = now()`,
        [syncId, file.resourceId, file.filename, file.action, file.size, file.md5],
      );
    },

    async recordPublished(result: PublishedResult) {
      const { deposition } = result;
      await withTransaction(pool, async (client) => {
        const r = await query(client, "UPDATE sync_runs SET state = 'published', record_id = $2, doi = $3, concept_doi = $4 WHERE id = $1", [
          result.syncId,
          deposition.id,
          deposition.doi,
          deposition.conceptDoi,
        ]);
        if (r.rowCount !== 1) throw new AppError('INTERNAL', `sync ${result.syncId} does not exist`);
        const version = deposition.metadata.version;
        await upsertLink(
          client,
          { datasetId: result.datasetId, conceptRecid: deposition.conceptRecid, conceptDoi: deposition.conceptDoi, latestRecordId: deposition.id, latestDoi: deposition.doi },
          { versionLabel: typeof version === 'string' ? version : null, metadataFingerprint: result.metadataFingerprint },
        );
        // The archived file set is replaced as a whole: it is the published version's, nothing else.
        await query(client, 'DELETE FROM archived_files WHERE dataset_id = $1', [result.datasetId]);
        for (const f of result.files) {
          await query(client, 'INSERT INTO archived_files (dataset_id, resource_id, filename, size, md5, fingerprint, record_id) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
            result.datasetId,
            f.resourceId,
            f.filename,
            f.size,
            f.md5,
            f.fingerprint,
            deposition.id,
          ]);
        }
        // Names are cleared first so that two resources swapping names never collide mid-way.
        const ids = [...result.filenames.keys()];
        if (ids.length > 0) {
          await query(client, 'UPDATE dataset_resources SET zenodo_filename = NULL WHERE dataset_id = $1 AND resource_id = ANY($2::text[])', [result.datasetId, ids]);
          for (const [resourceId, filename] of result.filenames) {
            await query(client, 'UPDATE dataset_resources SET zenodo_filename = $3 WHERE dataset_id = $1 AND resource_id = $2', [result.datasetId, resourceId, filename]);
          }
        }
        await insertMails(client, result.syncId, result.datasetId, result.mails);
        await insertStep(client, result.syncId, 'published', { recordId: deposition.id, doi: deposition.doi, conceptDoi: deposition.conceptDoi });
      });
    },

    async recordAttempt(syncId, error) {
      const r = await query<{ attempts: number }>(
        pool,
        'UPDATE sync_runs SET attempts = attempts + 1, error_code = $2, error_message = $3 WHERE id = $1 RETURNING attempts',
        [syncId, error.code, error.message],
      );
      const row = r.rows[0];
      if (!row) throw new AppError('INTERNAL', `sync ${syncId} does not exist`);
      return row.attempts;
    },

    async finish(syncId, state, detail) {
      await withTransaction(pool, async (client) => {
        const r = await query(client, 'UPDATE sync_runs SET state = $2, finished_at = now() WHERE id = $1', [syncId, state]);
        if (r.rowCount !== 1) throw new AppError('INTERNAL', `sync ${syncId} does not exist`);
        await insertStep(client, syncId, state, detail);
      });
    },

    async fail(syncId, datasetId, error, mails) {
      await withTransaction(pool, async (client) => {
        let id = syncId;
        if (id === undefined) {
          // Failed before a sync existed (unmapped dataset, CKAN refused): still a row, so that
          // `status` shows it and its mails are deduplicated like any other.
          const r = await query<{ id: number }>(
            client,
            "INSERT INTO sync_runs (dataset_id, trigger, state, error_code, error_message, finished_at) VALUES ($1, 'sync', 'failed', $2, $3, now()) RETURNING id",
            [datasetId, error.code, error.message],
          );
          id = r.rows[0]?.id;
          if (id === undefined) throw new AppError('INTERNAL', 'INSERT … RETURNING returned no row');
        } else {
          const r = await query(client, `UPDATE sync_runs SET state = 'failed', error_code = $2, error_message = $3, finished_at = now() WHERE id = $1`, [
            id,
            error.code,
            error.message,
          ]);
          if (r.rowCount !== 1) throw new AppError('INTERNAL', `sync ${id} does not exist`);
        }
        await insertStep(client, id, 'failed', { code: error.code, message: error.message });
        await insertMails(client, id, datasetId, mails);
      });
    },

    async markInactive(datasetId, reason) {
      await query(pool, "UPDATE links SET state = 'inactive', inactive_reason = $2, updated_at = now() WHERE dataset_id = $1 AND (state <> 'inactive' OR inactive_reason IS DISTINCT FROM $2)", [
        datasetId,
        reason,
      ]);
    },
  };
}
