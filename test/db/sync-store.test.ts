/**
 * The sync worker's store (src/db/sync-queries.ts) against a real database: what a resumed, retried or crashed sync
 * finds again, and what it must never do twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgCode } from '../../src/db/database.js';
import { createSyncStore } from '../../src/db/sync-queries.js';
import { isAppError } from '../../src/errors.js';
import type { PublishedResult, StoredPlan, SyncStore, ZDeposition } from '../../src/sync/ports.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let d: TestDatabase;
let store: SyncStore;
beforeAll(async () => {
  d = await createTestDatabase();
  store = createSyncStore(d.pool);
});
afterAll(async () => {
  await d.drop();
});

function plan(kind: StoredPlan['kind'] = 'new_version'): StoredPlan {
  return {
    kind,
    files: [],
    delete: [],
    skipped: [],
    metadataChanged: false,
    metadataFingerprint: 'meta-1',
    uploadBytes: 0,
    metadata: { title: 'T' },
    conceptRecid: '100',
    baseRecordId: 101,
    previousFiles: [],
    ruleName: 'tagged',
    dataset: { id: 'x', name: 'x', title: 'X', url: 'http://ckan/dataset/x' },
  };
}

function deposition(id: number): ZDeposition {
  return {
    id,
    conceptRecid: '100',
    doi: `10.5281/zenodo.${id}`,
    conceptDoi: '10.5281/zenodo.100',
    submitted: true,
    state: 'done',
    bucketUrl: null,
    htmlUrl: null,
    files: [],
    metadata: { version: '2024-05' },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('sync store', () => {
  it('resumes an open sync with everything recorded so far', async () => {
    const run = await store.createSync('ds-resume', 'scan', plan());
    expect(run).toMatchObject({ datasetId: 'ds-resume', state: 'planned', kind: 'new_version', draftId: null, attempts: 0 });
    await store.advance(run.id, 'draft_open', { draftId: 555 }, { depositionId: 555 });
    await store.recordUpload(run.id, { resourceId: 'r1', filename: 'a.csv', action: 'add', size: 3, md5: '900150983cd24fb0d6963f7d28e17f72' });
    const resumed = await store.openSync('ds-resume');
    expect(resumed).toMatchObject({ id: run.id, state: 'draft_open', draftId: 555 });
    expect(resumed?.plan.metadataFingerprint).toBe('meta-1');
    expect(await store.uploadedFiles(run.id)).toEqual(new Map([['a.csv', { md5: '900150983cd24fb0d6963f7d28e17f72', size: 3 }]]));
    const steps = await d.pool.query<{ step: string }>('SELECT step FROM sync_steps WHERE sync_id = $1 ORDER BY id', [run.id]);
    expect(steps.rows.map((r) => r.step)).toEqual(['planned', 'draft_open']);
  });

  it('refuses a second open sync for a dataset', async () => {
    const first = await store.createSync('ds-twice', 'scan', plan());
    const error = await rejection(store.createSync('ds-twice', 'manual', plan()));
    expect(isAppError(error, 'SYNC_BUSY')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
    expect((await store.openSync('ds-twice'))?.id).toBe(first.id);
  });

  it('records a publication once: link, archived files and mails, even when recorded twice', async () => {
    const run = await store.createSync('ds-pub', 'scan', plan());
    await store.advance(run.id, 'draft_open', { draftId: 201 });
    await store.advance(run.id, 'files_synced');
    await store.advance(run.id, 'metadata_set');
    await d.pool.query("INSERT INTO datasets (dataset_id, name) VALUES ('ds-pub', 'pub')");
    await d.pool.query("INSERT INTO dataset_resources (dataset_id, resource_id, fingerprint, position) VALUES ('ds-pub', 'r1', 'f1', 0), ('ds-pub', 'r2', 'f2', 1)");
    const result: PublishedResult = {
      syncId: run.id,
      datasetId: 'ds-pub',
      deposition: deposition(201),
      files: [
        { resourceId: 'r1', filename: 'a.csv', size: 3, md5: '900150983cd24fb0d6963f7d28e17f72', fingerprint: 'f1' },
        { resourceId: null, filename: 'readme.txt', size: 0, md5: 'd41d8cd98f00b204e9800998ecf8427e', fingerprint: null },
      ],
      metadataFingerprint: 'meta-1',
      filenames: new Map([['r1', 'a.csv'], ['r2', 'b.csv']]),
      mails: [
        { recipient: 'owner@example.org', kind: 'new_version', payload: { doi: '10.5281/zenodo.201' } },
        { recipient: 'admin@example.org', kind: 'new_version', payload: {} },
      ],
    };
    await store.recordPublished(result);
    await store.recordPublished(result); // a crash after commit, before the worker moved on
    expect(await store.getLink('ds-pub')).toEqual({
      datasetId: 'ds-pub',
      conceptRecid: '100',
      conceptDoi: '10.5281/zenodo.100',
      latestRecordId: 201,
      latestDoi: '10.5281/zenodo.201',
      archivedMetadataFingerprint: 'meta-1',
      state: 'active',
    });
    expect((await store.archivedFiles('ds-pub')).map((f) => f.filename)).toEqual(['a.csv', 'readme.txt']);
    expect(await store.storedFilenames('ds-pub')).toEqual(new Map([['r1', 'a.csv'], ['r2', 'b.csv']]));
    const mails = await d.pool.query<{ recipient: string }>('SELECT recipient FROM mail_outbox WHERE sync_id = $1 ORDER BY recipient', [run.id]);
    expect(mails.rows.map((r) => r.recipient)).toEqual(['admin@example.org', 'owner@example.org']);
    expect(await store.openSync('ds-pub')).toMatchObject({ state: 'published', recordId: 201, doi: '10.5281/zenodo.201' });

    await store.advance(run.id, 'written_back');
    await store.finish(run.id, 'done');
    expect(await store.openSync('ds-pub')).toBeUndefined();
  });

  it('fails a sync with its mails, and records failures that happened before any sync', async () => {
    const run = await store.createSync('ds-fail', 'scan', plan());
    expect(await store.recordAttempt(run.id, { code: 'ZENODO_UNAVAILABLE', message: '502' })).toBe(1);
    expect(await store.recordAttempt(run.id, { code: 'ZENODO_UNAVAILABLE', message: '502' })).toBe(2);
    const mail = { recipient: 'owner@example.org', kind: 'failure', payload: {} };
    await store.fail(run.id, 'ds-fail', { code: 'ZENODO_FORBIDDEN', message: 'not yours' }, [mail]);
    expect(await store.openSync('ds-fail')).toBeUndefined();

    await store.fail(undefined, 'ds-unmapped', { code: 'DATASET_UNMAPPED', message: 'link it' }, [mail]);
    const rows = await d.pool.query<{ dataset_id: string; state: string; error_code: string; mails: number }>(
      `SELECT s.dataset_id, s.state, s.error_code, (SELECT count(*)::int FROM mail_outbox m WHERE m.sync_id = s.id) AS mails
       FROM sync_runs s WHERE dataset_id IN ('ds-fail', 'ds-unmapped') ORDER BY dataset_id`,
    );
    expect(rows.rows).toEqual([
      { dataset_id: 'ds-fail', state: 'failed', error_code: 'ZENODO_FORBIDDEN', mails: 1 },
      { dataset_id: 'ds-unmapped', state: 'failed', error_code: 'DATASET_UNMAPPED', mails: 1 },
    ]);
  });

  it('refuses to bind one Zenodo concept to two datasets, and deactivates links with a reason', async () => {
    const link = { conceptRecid: '900', conceptDoi: '10.5281/zenodo.900', latestRecordId: 901, latestDoi: '10.5281/zenodo.901' };
    await store.saveLink({ datasetId: 'ds-a', ...link });
    const error = await rejection(store.saveLink({ datasetId: 'ds-b', ...link }));
    expect(pgCode(error) === '23505' || isAppError(error, 'LINK_CONFLICT')).toBe(true);
    expect(await store.getLink('ds-b')).toBeUndefined();
    await store.markInactive('ds-a', 'untagged');
    expect((await store.getLink('ds-a'))?.state).toBe('inactive');
    await store.saveLink({ datasetId: 'ds-a', ...link });
    expect((await store.getLink('ds-a'))?.state).toBe('active');
  });

  it('knows when a first deposition may exist on Zenodo without its id recorded here', async () => {
    // Only then does a sync search the account's depositions for it (src/sync/worker.ts openDraft).
    expect(await store.mayHaveUnrecordedDeposition('ds-first')).toBe(false);
    const run = await store.createSync('ds-first', 'scan', plan('first_version'));
    expect(await store.mayHaveUnrecordedDeposition('ds-first')).toBe(false);
    await store.noteCreatingDeposition(run.id);
    // The process could have died after Zenodo created the draft and before its id was stored.
    expect(await store.mayHaveUnrecordedDeposition('ds-first')).toBe(true);
    expect(await store.mayHaveUnrecordedDeposition('ds-other')).toBe(false);
    await store.advance(run.id, 'draft_open', { draftId: 501 });
    expect(await store.mayHaveUnrecordedDeposition('ds-first')).toBe(false);
    // The recorded draft was discarded on Zenodo and the sync creates another one.
    await store.noteCreatingDeposition(run.id);
    expect(await store.mayHaveUnrecordedDeposition('ds-first')).toBe(true);
    await store.advance(run.id, 'draft_open', { draftId: 502 });
    expect(await store.mayHaveUnrecordedDeposition('ds-first')).toBe(false);
  });
});
