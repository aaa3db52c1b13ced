/**
 * SQL behind the sync state machine (src/sync/worker.ts, through its SyncStore port). Every
 * method commits before it returns: the worker moves to the next step only once the previous
 * one is durable. The transition rules themselves are enforced by sql/0001 (one open sync per
 * dataset, forward-only states), so a confused caller gets an error instead of a double publish.
 */
import type pg from 'pg';
import { pgCode, withTransaction } from './database.js';
import { AppError } from '../errors.js';
import { insertOutbox } from './outbox-queries.js';
import type { ArchivedFile } from '../sync/plan.js';
import type { Link, OutboxRow, PublishedResult, StoredPlan, SyncRun, SyncState, SyncStore } from '../sync/ports.js';

interface SyncRow {
  id: string;
  dataset_id: string;
  state: SyncState;
  kind: SyncRun['kind'];
  plan: StoredPlan;
  draft_id: string | null;
  record_id: string | null;
  doi: string | null;
  concept_doi: string | null;
  attempts: number;
}

const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

function toRun(row: SyncRow): SyncRun {
  return {
    id: Number(row.id),
    datasetId: row.dataset_id,
    state: row.state,
    kind: row.kind,
    plan: row.plan,
    draftId: num(row.draft_id),
    recordId: num(row.record_id),
    doi: row.doi,
    conceptDoi: row.concept_doi,
    attempts: row.attempts,
  };
}

async function insertMails(client: pg.PoolClient, syncId: number | null, datasetId: string, mails: readonly OutboxRow[]): Promise<void> {
  await insertOutbox(client, mails.map((m) => ({ syncId, datasetId, recipient: m.recipient, kind: m.kind, payload: m.payload })));
}

/** The sync_steps row written before a first deposition is created (see SyncStore). */
const CREATING_DEPOSITION = 'creating_deposition';

export function createSyncStore(pool: pg.Pool): SyncStore {
  return {
    async getLink(datasetId) {
      const { rows } = await pool.query<{ dataset_id: string; concept_recid: string | null; concept_doi: string | null; latest_record_id: string | null; latest_doi: string | null; archived_metadata_fingerprint: string | null; state: Link['state'] }>(
        'SELECT dataset_id, concept_recid, concept_doi, latest_record_id, latest_doi, archived_metadata_fingerprint, state FROM links WHERE dataset_id = $1',
        [datasetId],
      );
      const row = rows[0];
      if (!row) return undefined;
      return {
        datasetId: row.dataset_id,
        conceptRecid: row.concept_recid,
        conceptDoi: row.concept_doi,
        latestRecordId: num(row.latest_record_id),
        latestDoi: row.latest_doi,
        archivedMetadataFingerprint: row.archived_metadata_fingerprint,
        state: row.state,
      };
    },

    async saveLink(link) {
      await pool
        .query(
        `INSERT INTO links (dataset_id, concept_recid, concept_doi, latest_record_id, latest_doi)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (dataset_id) DO UPDATE SET concept_recid = EXCLUDED.concept_recid, concept_doi = EXCLUDED.concept_doi,
           latest_record_id = EXCLUDED.latest_record_id, latest_doi = EXCLUDED.latest_doi,
           state = 'active', inactive_reason = NULL, updated_at = now()`,
          [link.datasetId, link.conceptRecid, link.conceptDoi, link.latestRecordId, link.latestDoi],
        )
        .catch((error: unknown) => {
          // A concept belongs to one dataset, or two datasets would publish over each other.
          if (pgCode(error) === '23505') throw new AppError('LINK_CONFLICT', `Zenodo concept ${link.conceptRecid ?? ''} is already linked to another dataset`, { cause: error });
          throw error;
        });
    },

    async archivedFiles(datasetId) {
      const { rows } = await pool.query<{ resource_id: string | null; filename: string; size: string; md5: string; fingerprint: string | null }>(
        'SELECT resource_id, filename, size, md5, fingerprint FROM archived_files WHERE dataset_id = $1 ORDER BY filename',
        [datasetId],
      );
      return rows.map((r): ArchivedFile => ({ resourceId: r.resource_id, filename: r.filename, size: Number(r.size), md5: r.md5, fingerprint: r.fingerprint }));
    },

    async storedFilenames(datasetId) {
      // Names used by the archive win over names the scanner recorded, which it only copies.
      const { rows } = await pool.query<{ resource_id: string; filename: string }>(
        `SELECT resource_id, filename FROM archived_files WHERE dataset_id = $1 AND resource_id IS NOT NULL
         UNION ALL
         SELECT resource_id, zenodo_filename FROM dataset_resources r WHERE dataset_id = $1 AND zenodo_filename IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM archived_files a WHERE a.dataset_id = r.dataset_id AND a.resource_id = r.resource_id)`,
        [datasetId],
      );
      return new Map(rows.map((r) => [r.resource_id, r.filename]));
    },

    async openSync(datasetId) {
      const { rows } = await pool.query<SyncRow>(
        `SELECT id, dataset_id, state, kind, plan, draft_id, record_id, doi, concept_doi, attempts FROM sync_runs
         WHERE dataset_id = $1 AND state NOT IN ('done', 'unchanged', 'skipped', 'failed')`,
        [datasetId],
      );
      return rows[0] ? toRun(rows[0]) : undefined;
    },

    async createSync(datasetId, trigger, plan) {
      return withTransaction(pool, async (client) => {
        const { rows } = await client
          .query<SyncRow>(
            `INSERT INTO sync_runs (dataset_id, trigger, kind, plan) VALUES ($1, $2, $3, $4::jsonb)
             RETURNING id, dataset_id, state, kind, plan, draft_id, record_id, doi, concept_doi, attempts`,
            [datasetId, trigger, plan.kind, JSON.stringify(plan)],
          )
          .catch((error: unknown) => {
            // One open sync per dataset (partial unique index): another process got there first.
            if (pgCode(error) === '23505') throw new AppError('SYNC_BUSY', `dataset ${datasetId} already has an open sync`, { retryable: true, cause: error });
            throw error;
          });
        const run = toRun(rows[0]!);
        await client.query(`INSERT INTO sync_steps (sync_id, step, detail) VALUES ($1, 'planned', $2::jsonb)`, [
          run.id,
          JSON.stringify({ kind: plan.kind, files: plan.files.map((f) => ({ filename: f.filename, action: f.action, size: f.size })), delete: plan.delete, skipped: plan.skipped }),
        ]);
        return run;
      });
    },

    async advance(syncId, state, patch = {}, detail) {
      await withTransaction(pool, async (client) => {
        await client.query(
          `UPDATE sync_runs SET state = $2,
             draft_id = COALESCE($3, draft_id), record_id = COALESCE($4, record_id),
             doi = COALESCE($5, doi), concept_doi = COALESCE($6, concept_doi)
           WHERE id = $1`,
          [syncId, state, patch.draftId ?? null, patch.recordId ?? null, patch.doi ?? null, patch.conceptDoi ?? null],
        );
        await client.query('INSERT INTO sync_steps (sync_id, step, detail) VALUES ($1, $2, $3::jsonb)', [syncId, state, detail ? JSON.stringify(detail) : null]);
      });
    },

    async noteCreatingDeposition(syncId) {
      await pool.query(`INSERT INTO sync_steps (sync_id, step) VALUES ($1, '${CREATING_DEPOSITION}')`, [syncId]);
    },

    async mayHaveUnrecordedDeposition(datasetId) {
      // Per sync of the dataset: is its latest creation note newer than its latest recorded draft?
      const { rows } = await pool.query<{ found: boolean }>(
        `SELECT EXISTS (
           SELECT 1 FROM sync_runs r
           WHERE r.dataset_id = $1
             AND (SELECT s.step FROM sync_steps s WHERE s.sync_id = r.id AND s.step IN ('${CREATING_DEPOSITION}', 'draft_open')
                  ORDER BY s.id DESC LIMIT 1) = '${CREATING_DEPOSITION}'
         ) AS found`,
        [datasetId],
      );
      return rows[0]?.found === true;
    },

    async isOwnDraft(depositionId) {
      // Also the drafts a sync recorded and later replaced (reopened after a discard): the steps keep them.
      const { rows } = await pool.query<{ found: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM sync_runs WHERE draft_id = $1)
             OR EXISTS (SELECT 1 FROM sync_steps WHERE step = 'draft_open' AND detail->>'depositionId' = $1::text) AS found`,
        [depositionId],
      );
      return rows[0]?.found === true;
    },

    async earlierFirstDrafts(datasetId) {
      // Drafts recorded by first-version syncs of the dataset that ended without publishing
      // (failed or skipped), newest first; at most a few: each costs a GET when looked at.
      const { rows } = await pool.query<{ draft_id: string }>(
        `SELECT DISTINCT ON (draft_id) draft_id FROM sync_runs
         WHERE dataset_id = $1 AND kind = 'first_version' AND state IN ('failed', 'skipped') AND draft_id IS NOT NULL
         ORDER BY draft_id DESC LIMIT 5`,
        [datasetId],
      );
      return rows.map((r) => Number(r.draft_id));
    },

    async uploadedFiles(syncId) {
      const { rows } = await pool.query<{ filename: string; md5: string | null; size: string | null }>(
        'SELECT filename, md5, size FROM sync_files WHERE sync_id = $1 AND md5 IS NOT NULL',
        [syncId],
      );
      return new Map(rows.map((r) => [r.filename, { md5: r.md5 ?? '', size: Number(r.size ?? 0) }]));
    },

    async emptyFiles(syncId) {
      const { rows } = await pool.query<{ filename: string }>("SELECT filename FROM sync_files WHERE sync_id = $1 AND action = 'empty'", [syncId]);
      return new Set(rows.map((r) => r.filename));
    },

    async recordEmpty(syncId, file) {
      await pool.query(
        `INSERT INTO sync_files (sync_id, resource_id, filename, action, size, md5) VALUES ($1, $2, $3, 'empty', 0, NULL)
         ON CONFLICT (sync_id, filename) DO UPDATE SET action = 'empty', size = 0, md5 = NULL, done_at = now()`,
        [syncId, file.resourceId, file.filename],
      );
    },

    async recordUpload(syncId, file) {
      await pool.query(
        `INSERT INTO sync_files (sync_id, resource_id, filename, action, size, md5) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (sync_id, filename) DO UPDATE SET size = EXCLUDED.size, md5 = EXCLUDED.md5, done_at = now()`,
        [syncId, file.resourceId, file.filename, file.action, file.size, file.md5],
      );
    },

    async recordPublished(result: PublishedResult) {
      const d = result.deposition;
      await withTransaction(pool, async (client) => {
        await client.query(
          `UPDATE sync_runs SET state = 'published', record_id = $2, doi = $3, concept_doi = $4, draft_id = COALESCE(draft_id, $2) WHERE id = $1`,
          [result.syncId, d.id, d.doi, d.conceptDoi],
        );
        await client.query(`INSERT INTO sync_steps (sync_id, step, detail) VALUES ($1, 'published', $2::jsonb)`, [result.syncId, JSON.stringify({ recordId: d.id, doi: d.doi })]);
        const version = typeof d.metadata.version === 'string' ? d.metadata.version : null;
        await client.query(
          `INSERT INTO links (dataset_id, concept_recid, concept_doi, latest_record_id, latest_doi, latest_version_label, archived_metadata_fingerprint)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (dataset_id) DO UPDATE SET concept_recid = EXCLUDED.concept_recid, concept_doi = EXCLUDED.concept_doi,
             latest_record_id = EXCLUDED.latest_record_id, latest_doi = EXCLUDED.latest_doi, latest_version_label = EXCLUDED.latest_version_label,
             archived_metadata_fingerprint = EXCLUDED.archived_metadata_fingerprint, state = 'active', inactive_reason = NULL, updated_at = now()`,
          [result.datasetId, d.conceptRecid, d.conceptDoi, d.id, d.doi, version, result.metadataFingerprint],
        );
        await client.query('DELETE FROM archived_files WHERE dataset_id = $1', [result.datasetId]);
        for (const f of result.files) {
          await client.query(
            'INSERT INTO archived_files (dataset_id, resource_id, filename, size, md5, fingerprint, record_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
            [result.datasetId, f.resourceId, f.filename, f.size, f.md5, f.fingerprint, d.id],
          );
        }
        // Cleared first: two resources that swap names would otherwise trip the unique index.
        await client.query('UPDATE dataset_resources SET zenodo_filename = NULL WHERE dataset_id = $1', [result.datasetId]);
        for (const [resourceId, filename] of result.filenames) {
          await client.query('UPDATE dataset_resources SET zenodo_filename = $3 WHERE dataset_id = $1 AND resource_id = $2', [result.datasetId, resourceId, filename]);
        }
        await insertMails(client, result.syncId, result.datasetId, result.mails);
      });
    },

    async recordAttempt(syncId, error) {
      const { rows } = await pool.query<{ attempts: number }>(
        `UPDATE sync_runs SET attempts = attempts + 1, error_code = $2, error_message = $3 WHERE id = $1 RETURNING attempts`,
        [syncId, error.code, error.message],
      );
      await pool.query(`INSERT INTO sync_steps (sync_id, step, detail) VALUES ($1, 'retry', $2::jsonb)`, [syncId, JSON.stringify(error)]);
      return rows[0]?.attempts ?? 1;
    },

    async finish(syncId, state, detail) {
      await withTransaction(pool, async (client) => {
        await client.query(`UPDATE sync_runs SET state = $2, finished_at = now(), error_code = NULL, error_message = NULL WHERE id = $1`, [syncId, state]);
        await client.query('INSERT INTO sync_steps (sync_id, step, detail) VALUES ($1, $2, $3::jsonb)', [syncId, state, detail ? JSON.stringify(detail) : null]);
      });
    },

    async fail(syncId, datasetId, error, mails) {
      await withTransaction(pool, async (client) => {
        let id = syncId;
        if (id === undefined) {
          const { rows } = await client.query<{ id: string }>(
            `INSERT INTO sync_runs (dataset_id, trigger, state, error_code, error_message, finished_at) VALUES ($1, 'scan', 'failed', $2, $3, now()) RETURNING id`,
            [datasetId, error.code, error.message],
          );
          id = Number(rows[0]!.id);
        } else {
          await client.query(`UPDATE sync_runs SET state = 'failed', error_code = $2, error_message = $3, finished_at = now() WHERE id = $1`, [id, error.code, error.message]);
        }
        await client.query(`INSERT INTO sync_steps (sync_id, step, detail) VALUES ($1, 'failed', $2::jsonb)`, [id, JSON.stringify(error)]);
        await insertMails(client, id, datasetId, mails);
      });
    },

    async markInactive(datasetId, reason) {
      await pool.query(`UPDATE links SET state = 'inactive', inactive_reason = $2, updated_at = now() WHERE dataset_id = $1`, [datasetId, reason]);
    },
  };
}

export interface SyncReportRow {
  id: number;
  datasetId: string;
  state: SyncState;
  kind: string | null;
  plan: StoredPlan | null;
  doi: string | null;
  conceptDoi: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  recipients: string[];
}

/** Syncs with an id above `afterId`, oldest first, with who was mailed about each (the demo's account). */
export async function syncsAfter(pool: pg.Pool, afterId: number): Promise<SyncReportRow[]> {
  const { rows } = await pool.query<{ id: string; dataset_id: string; state: SyncState; kind: string | null; plan: StoredPlan | null; doi: string | null; concept_doi: string | null; error_code: string | null; error_message: string | null; recipients: string[] | null }>(
    `SELECT s.id, s.dataset_id, s.state, s.kind, s.plan, s.doi, s.concept_doi, s.error_code, s.error_message,
            (SELECT array_agg(m.recipient ORDER BY m.id) FROM mail_outbox m WHERE m.sync_id = s.id) AS recipients
       FROM sync_runs s WHERE s.id > $1 ORDER BY s.id`,
    [afterId],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    datasetId: r.dataset_id,
    state: r.state,
    kind: r.kind,
    plan: r.plan,
    doi: r.doi,
    conceptDoi: r.concept_doi,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    recipients: r.recipients ?? [],
  }));
}

export async function lastSyncId(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ id: string | null }>('SELECT max(id) AS id FROM sync_runs');
  return Number(rows[0]?.id ?? 0);
}

export async function linkedDatasetIds(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ dataset_id: string }>('SELECT dataset_id FROM links ORDER BY dataset_id');
  return rows.map((r) => r.dataset_id);
}
