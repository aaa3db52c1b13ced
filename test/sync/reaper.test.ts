import { afterAll, beforeAll, expect, test } from 'vitest';
import { startQueue, enqueueSync, syncLeaseSeconds, QUEUE_SYNC, type Queue } from '../../src/queue/boss.js';
import { reapOrphanedSyncJobs } from '../../src/sync/reaper.js';
import { tryLock, LOCK_SYNC_DATASET } from '../../src/db/locks.js';
import { silentLogger } from '../../src/log.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let d: TestDatabase;
let queue: Queue;

beforeAll(async () => {
  d = await createTestDatabase();
  queue = await startQueue({ connectionString: d.url, log: silentLogger() });
});

afterAll(async () => {
  await queue?.stop({ graceful: false, timeoutMs: 1000 });
  await d?.drop();
});

const job = (datasetId: string) => ({ datasetId, datasetName: datasetId, trigger: 'scan' as const, resources: { added: [], changed: [], removed: [] }, metadataChanged: false, fingerprints: { metadata: null, resources: {} } });

async function state(id: string): Promise<string> {
  const { rows } = await d.pool.query<{ state: string }>('SELECT state FROM pgboss.job WHERE id = $1', [id]);
  return rows[0]!.state;
}

test('a running job whose worker died goes back to the queue; one whose worker lives does not', async () => {
  const dead = (await enqueueSync(queue.boss, job('dead-worker')))!;
  const alive = (await enqueueSync(queue.boss, job('live-worker')))!;
  // Both fetched by "workers" (now active), long enough ago to be past the grace period.
  await queue.boss.fetch(QUEUE_SYNC, { batchSize: 2 });
  await d.pool.query(`UPDATE pgboss.job SET started_on = now() - interval '5 minutes' WHERE id = ANY($1::uuid[])`, [[dead, alive]]);
  const live = await tryLock(d.pool, LOCK_SYNC_DATASET, 'live-worker');
  try {
    expect(await reapOrphanedSyncJobs(d, queue.boss, silentLogger())).toBe(1);
    expect(await state(dead)).toBe('retry');
    expect(await state(alive)).toBe('active');
  } finally {
    await live?.release();
    await queue.boss.complete(QUEUE_SYNC, alive);
  }
});

test('a job fetched moments ago is left alone: its worker may not have taken the lock yet', async () => {
  const fresh = (await enqueueSync(queue.boss, job('just-fetched')))!;
  await queue.boss.fetch(QUEUE_SYNC);
  expect(await reapOrphanedSyncJobs(d, queue.boss, silentLogger())).toBe(0);
  expect(await state(fresh)).toBe('active');
});

test('the lease of a huge dataset stays within what pg-boss accepts', async () => {
  const lease = syncLeaseSeconds(10 ** 12);
  expect(lease).toBeLessThan(24 * 3600);
  expect(await enqueueSync(queue.boss, job('one-terabyte'), { expireInSeconds: lease })).not.toBeNull();
  expect(syncLeaseSeconds(10 ** 10)).toBeGreaterThan(3600);
  expect(syncLeaseSeconds(1000)).toBe(3600);
});
