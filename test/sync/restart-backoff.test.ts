/**
 * Restarts must not multiply work: a sync that keeps failing retryably, with its job waiting out
 * the queue's backoff, is left alone by every start. Before, each start ran it at once (spending
 * an attempt and skipping the backoff) and queued a second job, which after the sync had failed
 * started a second sync: two drafts and a second round of failure mails for one dead link.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';

let stack: Stack;
let daemon: Daemon | undefined;

beforeAll(async () => {
  stack = await startStack({ config: { sync: { maxAttempts: 3 } } });
}, 120_000);

afterAll(async () => {
  await daemon?.stop({ timeoutMs: 2000 });
  await stack?.close();
});

const start = (): Promise<Daemon> => startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'worker', schedule: false, http: false, pollingIntervalSeconds: 0.5 });

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function syncs(datasetId: string): Promise<{ id: number; state: string; attempts: number }[]> {
  const { rows } = await stack.db.pool.query<{ id: number; state: string; attempts: number }>('SELECT id::int, state, attempts FROM sync_runs WHERE dataset_id = $1 ORDER BY id', [datasetId]);
  return rows;
}

/** The dataset's job, once it is waiting out the backoff of its `attempts`-th failure. */
async function waitingJob(datasetId: string, attempts: number): Promise<string> {
  return until(`attempt ${attempts} to fail and its job to wait in the queue`, async () => {
    const s = await syncs(datasetId);
    if (s.length !== 1 || s[0]!.attempts !== attempts) return undefined;
    const { rows } = await stack.db.pool.query<{ id: string }>(`SELECT id FROM pgboss.job WHERE name = 'sync-dataset' AND singleton_key = $1 AND state = 'retry' AND start_after > now()`, [datasetId]);
    return rows[0]?.id;
  });
}

test('five restarts during the backoff: one sync, attempts untouched, failure mails sent once', async () => {
  const dataset = taggedDataset('dead-link', [2048]);
  const id = dataset.id as string;
  stack.ckan.addDataset(dataset);
  stack.ckan.setFaults([{ route: 'download', kind: '500', probability: 1 }]);

  daemon = await start();
  await daemon.triggerSync(id);
  let job = await waitingJob(id, 1);

  for (let i = 0; i < 5; i++) {
    await daemon.stop({ timeoutMs: 2000 });
    daemon = await start();
  }
  // Anything a start ran or queued would show as another attempt, sync or job; give the workers
  // a full polling round to pick such work up before looking.
  await daemon.stop({ timeoutMs: 5000 });
  const waiting = await syncs(id);
  expect(waiting.map((s) => s.attempts)).toEqual([1]);
  expect(['done', 'failed']).not.toContain(waiting[0]!.state);
  const { rows: jobs } = await stack.db.pool.query<{ id: string; state: string }>(`SELECT id, state::text FROM pgboss.job WHERE name = 'sync-dataset' AND singleton_key = $1 AND state IN ('created', 'retry', 'active')`, [id]);
  expect(jobs).toEqual([{ id: job, state: 'retry' }]);

  // The queue's backoff (minutes) is brought forward by hand instead of waited out.
  daemon = await start();
  for (let attempt = 2; attempt <= 3; attempt++) {
    await stack.db.pool.query('UPDATE pgboss.job SET start_after = now() WHERE id = $1', [job]);
    if (attempt < 3) job = await waitingJob(id, attempt);
  }
  const failed = await until('the sync to fail', async () => ((await syncs(id)).some((s) => s.state === 'failed') ? true : undefined));
  expect(failed).toBe(true);
  await daemon.idle(30_000);
  for (let i = 0; i < 2; i++) {
    await daemon.stop({ timeoutMs: 2000 });
    daemon = await start();
  }
  await daemon.idle(30_000);

  const all = await syncs(id);
  expect(all).toEqual([expect.objectContaining({ state: 'failed', attempts: 3 })]);
  const { rows: mails } = await stack.db.pool.query<{ recipient: string; sync_id: string }>(`SELECT recipient, sync_id FROM mail_outbox WHERE dataset_id = $1 AND kind = 'failure' ORDER BY id`, [id]);
  expect(mails.length).toBeGreaterThan(0);
  expect(new Set(mails.map((m) => m.recipient)).size).toBe(mails.length); // each recipient told once
  // Sent, and sent once per recipient.
  const sent = stack.smtp.messages.filter((m) => m.raw.includes('dead-link'));
  expect(sent.map((m) => m.envelope.to.join(',')).sort()).toEqual(mails.map((m) => m.recipient).sort());
  // One sync, so at most one draft of its own in the account.
  expect(stack.zenodo.state.depositions.length).toBeLessThanOrEqual(1);
}, 180_000);
