/**
 * Rows that represent a small archive: scans, linked datasets (one with a hostile title), a
 * version history with file changes and steps, a failed sync and sent mails. Written with plain
 * SQL, the way the scanner and sync worker leave them.
 */
import type { TestDatabase } from '../support/db.js';

export const HOSTILE_TITLE = '<script>alert(1)</script> & "quotes" \'single\'';

export const SEED = {
  ocean: { id: 'd-ocean', name: 'ocean-temps', title: 'Ocean temperatures 2020–2024', conceptDoi: '10.5281/zenodo.1000', latestDoi: '10.5281/zenodo.1003', firstDoi: '10.5281/zenodo.1001' },
  hostile: { id: 'd-xss', name: 'xss-dataset', title: HOSTILE_TITLE, conceptDoi: '10.5281/zenodo.2000', latestDoi: '10.5281/zenodo.2001' },
  failing: { id: 'd-failing', name: 'failing-data', title: 'Failing dataset', conceptDoi: '10.5281/zenodo.3000', latestDoi: '10.5281/zenodo.3001' },
  gone: { id: 'd-gone', name: 'gone-data', title: 'Untagged dataset', conceptDoi: '10.5281/zenodo.4000', latestDoi: '10.5281/zenodo.4001' },
} as const;

interface SyncSeed {
  datasetId: string;
  state: 'done' | 'failed';
  kind: 'first_version' | 'new_version';
  doi: string | null;
  conceptDoi: string;
  recordId: number | null;
  startedMinutesAgo: number;
  files: { filename: string; action: 'add' | 'replace' | 'delete'; size: number | null }[];
  error?: { code: string; message: string };
  steps: string[];
}

async function insertSync(db: TestDatabase, s: SyncSeed): Promise<number> {
  const plan = {
    kind: s.kind,
    files: s.files.filter((f) => f.action !== 'delete').map((f) => ({ resourceId: `r-${f.filename}`, filename: f.filename, action: f.action, size: f.size })),
    delete: s.files.filter((f) => f.action === 'delete').map((f) => ({ filename: f.filename, resourceId: null })),
    skipped: [],
    metadataChanged: false,
    metadataFingerprint: 'fp',
    uploadBytes: 0,
  };
  const result = await db.pool.query<{ id: number }>(
    `INSERT INTO sync_runs (dataset_id, trigger, state, kind, plan, record_id, doi, concept_doi, error_code, error_message, attempts, started_at, updated_at, finished_at)
     VALUES ($1, 'scan', $2, $3, $4, $5, $6, $7, $8, $9, 1, now() - make_interval(mins => $10), now() - make_interval(mins => $10 - 1), now() - make_interval(mins => $10 - 1))
     RETURNING id`,
    [s.datasetId, s.state, s.kind, JSON.stringify(plan), s.recordId, s.doi, s.conceptDoi, s.error?.code ?? null, s.error?.message ?? null, s.startedMinutesAgo],
  );
  const id = Number(result.rows[0]?.id);
  for (const [i, step] of s.steps.entries()) {
    await db.pool.query(`INSERT INTO sync_steps (sync_id, step, detail, at) VALUES ($1, $2, $3, now() - make_interval(mins => $4) + make_interval(secs => $5))`, [
      id,
      step,
      JSON.stringify(step === 'failed' ? { code: s.error?.code } : { n: i }),
      s.startedMinutesAgo,
      i,
    ]);
  }
  if (s.state !== 'failed') {
    for (const f of s.files) {
      await db.pool.query(`INSERT INTO sync_files (sync_id, filename, action, size, md5) VALUES ($1, $2, $3, $4, $5)`, [
        id,
        f.filename,
        f.action,
        f.size,
        f.action === 'delete' ? null : '0123456789abcdef0123456789abcdef',
      ]);
    }
  }
  return id;
}

async function insertDataset(db: TestDatabase, d: { id: string; name: string; title: string }, rule: string | null): Promise<void> {
  await db.pool.query(`INSERT INTO datasets (dataset_id, name, title, organization, rule) VALUES ($1, $2, $3, 'marine-institute', $4)`, [d.id, d.name, d.title, rule]);
}

async function insertLink(db: TestDatabase, d: { id: string; conceptDoi: string; latestDoi: string }, label: string, inactiveReason?: string): Promise<void> {
  await db.pool.query(
    `INSERT INTO links (dataset_id, concept_recid, concept_doi, latest_record_id, latest_doi, latest_version_label, state, inactive_reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      d.id,
      d.conceptDoi.split('.').pop(),
      d.conceptDoi,
      Number(d.latestDoi.split('.').pop()),
      d.latestDoi,
      label,
      inactiveReason === undefined ? 'active' : 'inactive',
      inactiveReason ?? null,
    ],
  );
}

const ALL_STEPS = ['planned', 'draft_open', 'files_synced', 'metadata_set', 'published', 'done'];

export async function seedArchive(db: TestDatabase): Promise<void> {
  await db.pool.query(
    `INSERT INTO scan_runs (source, kind, status, started_at, finished_at, datasets_seen, datasets_selected, jobs_enqueued)
     VALUES ('ckan', 'reconcile', 'done', now() - interval '3 hours', now() - interval '3 hours' + interval '40 seconds', 500, 4, 0),
            ('ckan', 'scan', 'done', now() - interval '10 minutes', now() - interval '10 minutes' + interval '75 seconds', 120, 4, 2)`,
  );
  const { ocean, hostile, failing, gone } = SEED;
  await insertDataset(db, ocean, 'tagged');
  await insertDataset(db, hostile, 'tagged');
  await insertDataset(db, failing, 'marine-org');
  await insertDataset(db, gone, null);
  await insertLink(db, ocean, '2024.2');
  await insertLink(db, hostile, '1');
  await insertLink(db, failing, '1');
  await insertLink(db, gone, '1', 'untagged in CKAN');

  await insertSync(db, {
    datasetId: ocean.id,
    state: 'done',
    kind: 'first_version',
    doi: ocean.firstDoi,
    conceptDoi: ocean.conceptDoi,
    recordId: 1001,
    startedMinutesAgo: 3 * 24 * 60,
    files: [
      { filename: 'temperatures.csv', action: 'add', size: 1_200_000 },
      { filename: 'old-grid.nc', action: 'add', size: 52_000_000 },
    ],
    steps: ALL_STEPS,
  });
  const latest = await insertSync(db, {
    datasetId: ocean.id,
    state: 'done',
    kind: 'new_version',
    doi: ocean.latestDoi,
    conceptDoi: ocean.conceptDoi,
    recordId: 1003,
    startedMinutesAgo: 60,
    files: [
      { filename: 'temperatures.csv', action: 'replace', size: 1_450_000 },
      { filename: 'readme.txt', action: 'add', size: 2_048 },
      { filename: 'old-grid.nc', action: 'delete', size: null },
    ],
    steps: ALL_STEPS,
  });
  await db.pool.query(
    `INSERT INTO mail_outbox (sync_id, dataset_id, recipient, kind, status, attempts, sent_at) VALUES ($1, $2, 'owner@example.org', 'new_version', 'sent', 1, now() - interval '55 minutes')`,
    [latest, ocean.id],
  );
  await insertSync(db, {
    datasetId: hostile.id,
    state: 'done',
    kind: 'first_version',
    doi: hostile.latestDoi,
    conceptDoi: hostile.conceptDoi,
    recordId: 2001,
    startedMinutesAgo: 120,
    files: [{ filename: '<img src=x onerror=alert(2)>.csv', action: 'add', size: 10 }],
    steps: ALL_STEPS,
  });
  await insertSync(db, {
    datasetId: failing.id,
    state: 'done',
    kind: 'first_version',
    doi: failing.latestDoi,
    conceptDoi: failing.conceptDoi,
    recordId: 3001,
    startedMinutesAgo: 2 * 24 * 60,
    files: [{ filename: 'data.csv', action: 'add', size: 99 }],
    steps: ALL_STEPS,
  });
  const failed = await insertSync(db, {
    datasetId: failing.id,
    state: 'failed',
    kind: 'new_version',
    doi: null,
    conceptDoi: failing.conceptDoi,
    recordId: null,
    startedMinutesAgo: 30,
    files: [{ filename: 'data.csv', action: 'replace', size: 120 }],
    error: { code: 'ZENODO_FORBIDDEN', message: 'Zenodo answered 403 on newversion of deposition 3001' },
    steps: ['planned', 'failed'],
  });
  await db.pool.query(
    `INSERT INTO mail_outbox (sync_id, dataset_id, recipient, kind, status, attempts, last_error) VALUES ($1, $2, 'owner@example.org', 'failure', 'pending', 2, 'SMTP unavailable')`,
    [failed, failing.id],
  );
  await insertSync(db, {
    datasetId: gone.id,
    state: 'done',
    kind: 'first_version',
    doi: gone.latestDoi,
    conceptDoi: gone.conceptDoi,
    recordId: 4001,
    startedMinutesAgo: 10 * 24 * 60,
    files: [{ filename: 'x.csv', action: 'add', size: 5 }],
    steps: ALL_STEPS,
  });
}
