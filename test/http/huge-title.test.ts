/**
 * A dataset whose title, name and error message are 100,000 characters long (CKAN accepts such
 * a title): the status API and pages send them cut to a bounded length, and the whole value never
 * leaves the database (3,000 concurrent /api/status over such data once held 1.5 GB).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSessionQueries } from '../../src/db/session-queries.js';
import { createStatusQueries, MAX_SHOWN_ERROR, MAX_SHOWN_TEXT } from '../../src/db/status-queries.js';
import { startHttpServer, type HttpServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { seedArchive } from './seed.js';

const TITLE = `Huge ${'very long title '.repeat(7000)}`.slice(0, 100_000);
const NAME = `huge-${'n'.repeat(99_995)}`;
const ERROR = `Zenodo said: ${'title is too long; '.repeat(6000)}`.slice(0, 100_000);

let db: TestDatabase;
let server: HttpServer;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedArchive(db);
  await db.pool.query(`INSERT INTO datasets (dataset_id, name, title, organization, rule) VALUES ('d-huge', $1, $2, $3, 'tagged')`, [NAME, TITLE, TITLE]);
  await db.pool.query(
    `INSERT INTO links (dataset_id, concept_recid, concept_doi, latest_record_id, latest_doi, latest_version_label, state)
     VALUES ('d-huge', '9000', '10.5281/zenodo.9000', 9001, '10.5281/zenodo.9001', $1, 'active')`,
    ['v1'],
  );
  const plan = { kind: 'new_version', dataset: { id: 'd-huge', name: NAME, title: TITLE, notes: TITLE }, files: [], delete: [] };
  for (const doi of ['10.5281/zenodo.9001', null]) {
    await db.pool.query(
      `INSERT INTO sync_runs (dataset_id, trigger, state, kind, plan, record_id, doi, concept_doi, error_code, error_message, attempts, started_at, updated_at, finished_at)
       VALUES ('d-huge', 'scan', $1, 'new_version', $2, $3, $4, '10.5281/zenodo.9000', $5, $6, 1, now(), now(), now())`,
      [doi === null ? 'failed' : 'done', JSON.stringify(plan), doi === null ? null : 9001, doi, doi === null ? 'ZENODO_VALIDATION' : null, doi === null ? ERROR : null],
    );
  }
  server = await startHttpServer({
    status: createStatusQueries(db.pool),
    sessions: createSessionQueries(db.pool),
    triggerSync: () => Promise.resolve({ queued: true }),
    metrics: () => Promise.resolve({ scans: {}, lastScan: undefined, syncs: {}, zenodoResponses: {}, zenodoRateLimited: 0, bytesUploaded: 0 }),
    config: { listen: '127.0.0.1:0', token: undefined, publicStatus: true, ckanUrl: 'https://ckan.example.org', scanCron: '*/15 * * * *' },
    log: silentLogger(),
  });
});

afterAll(async () => {
  await server?.close();
  await db.drop();
});

const shownTitle = `${TITLE.slice(0, MAX_SHOWN_TEXT - 1)}…`;

it('/api/status returns a bounded response with the title cut to its limit', async () => {
  const response = await fetch(`${server.url}/api/status`);
  expect(response.status).toBe(200);
  const text = await response.text();
  expect(text.length).toBeLessThan(40_000);
  const body = JSON.parse(text) as { datasets: { datasetId: string; title: string; name: string; organization: string; lastSync: { errorMessage: string } }[]; failures: { title: string; errorMessage: string }[] };
  const item = body.datasets.find((d) => d.datasetId === 'd-huge')!;
  expect(item.title).toBe(shownTitle);
  expect(item.name).toHaveLength(MAX_SHOWN_TEXT);
  expect(item.name.endsWith('…')).toBe(true);
  expect(item.organization).toBe(shownTitle);
  expect(item.lastSync.errorMessage).toBe(`${ERROR.slice(0, MAX_SHOWN_ERROR - 1)}…`);
  const failure = body.failures.find((f) => f.title === shownTitle);
  expect(failure?.errorMessage).toHaveLength(MAX_SHOWN_ERROR);
});

it('the dataset API and the pages are bounded too', async () => {
  for (const path of ['/api/datasets/d-huge', '/datasets/d-huge', '/']) {
    const response = await fetch(`${server.url}${path}`);
    expect(response.status, path).toBe(200);
    const text = await response.text();
    expect(text.length, path).toBeLessThan(60_000);
    expect(text, path).toContain(TITLE.slice(0, 400));
    expect(text, path).not.toContain(TITLE.slice(0, MAX_SHOWN_TEXT + 10));
  }
});
