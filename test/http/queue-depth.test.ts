import { afterAll, beforeAll, expect, it } from 'vitest';
import { createStatusQueries } from '../../src/db/status-queries.js';
import { createSessionQueries } from '../../src/db/session-queries.js';
import { startHttpServer, type HttpServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { enqueueSync, startQueue, type Queue } from '../../src/queue/boss.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { parsePrometheus } from './prometheus.js';
import { SEED, seedArchive } from './seed.js';

let db: TestDatabase;
let queue: Queue;
let server: HttpServer;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedArchive(db);
  queue = await startQueue({ connectionString: db.url, log: silentLogger(), max: 2 });
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
  await server.close();
  await queue.stop({ graceful: false, timeoutMs: 2000 });
  await db.drop();
});

it('reads the sync-dataset queue depth from pg-boss and marks the queued dataset', async () => {
  const data = { trigger: 'manual' as const, resources: { added: [], changed: [], removed: [] }, metadataChanged: false, fingerprints: { metadata: null, resources: {} } };
  expect(await enqueueSync(queue.boss, { ...data, datasetId: SEED.hostile.id, datasetName: SEED.hostile.name })).not.toBeNull();
  expect(await enqueueSync(queue.boss, { ...data, datasetId: SEED.ocean.id, datasetName: SEED.ocean.name })).not.toBeNull();

  const metrics = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
  const created = metrics.get('ckan_zenodo_sync_queue_jobs')?.samples.find((s) => s.labels.state === 'created');
  expect(created).toEqual({ name: 'ckan_zenodo_sync_queue_jobs', labels: { queue: 'sync-dataset', state: 'created' }, value: 2 });

  const status = (await (await fetch(`${server.url}/api/status`)).json()) as { queue: Record<string, number>; datasets: { datasetId: string; status: { kind: string } }[] };
  expect(status.queue).toEqual({ created: 2 });
  const kinds = Object.fromEntries(status.datasets.map((d) => [d.datasetId, d.status.kind]));
  expect(kinds[SEED.hostile.id]).toBe('queued');
  expect(kinds[SEED.ocean.id]).toBe('queued');
  expect(kinds[SEED.failing.id]).toBe('failed');
});
