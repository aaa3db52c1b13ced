import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/database.js';
import { silentLogger } from '../../src/log.js';
import { enqueueSync, QUEUE_SYNC, startQueue, type Queue, type SyncJobData } from '../../src/queue/boss.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let tdb: TestDatabase;
let queue: Queue;

beforeAll(async () => {
  tdb = await createTestDatabase();
  queue = await startQueue({ connectionString: tdb.url, log: silentLogger(), max: 2 });
});
afterAll(async () => {
  await queue?.stop();
  await queue?.stop(); // idempotent
  await tdb?.drop();
});

const job = (datasetId: string): SyncJobData => ({
  datasetId, datasetName: datasetId, trigger: 'scan', resources: { added: ['r1'], changed: [], removed: [] }, metadataChanged: true, fingerprints: { metadata: 'm', resources: { r1: 'f' } },
});

async function queued(datasetId: string): Promise<number> {
  const { rows } = await tdb.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND singleton_key = $2 AND state = 'created'", [QUEUE_SYNC, datasetId]);
  return rows[0]?.n ?? 0;
}

describe('sync-dataset queue', () => {
  it('a job sent inside a transaction exists only if the transaction commits', async () => {
    await expect(
      withTransaction(tdb.pool, async (client) => {
        expect(await enqueueSync(queue.boss, job('rolled-back'), { db: client })).not.toBeNull();
        throw new Error('crash before commit');
      }, { attempts: 1 }),
    ).rejects.toThrow('crash before commit');
    expect(await queued('rolled-back')).toBe(0);
    await withTransaction(tdb.pool, (client) => enqueueSync(queue.boss, job('committed'), { db: client }));
    expect(await queued('committed')).toBe(1);
  });

  it('holds at most one queued job per dataset, and one more once it is active', async () => {
    expect(await enqueueSync(queue.boss, job('d1'))).not.toBeNull();
    expect(await enqueueSync(queue.boss, job('d1'))).toBeNull();
    expect(await queued('d1')).toBe(1);
    const [active] = await queue.boss.fetch<SyncJobData>(QUEUE_SYNC, { batchSize: 10 });
    expect(active).toBeDefined();
    // Edited during its sync: synced once more afterwards, never twice at once.
    const second = await enqueueSync(queue.boss, job(active?.data.datasetId ?? ''));
    expect(second).not.toBeNull();
  });
});
