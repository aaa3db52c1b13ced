/**
 * Convergence under faults (issue "Sync"): with Zenodo failing ~20% of requests (5xx, 429,
 * resets) plus truncated uploads, and CKAN failing 10% of actions and downloads (5xx, cut-off
 * bodies), 50 datasets all end archived, and no file with a wrong checksum is ever published.
 * Retries are driven here by calling the sync again, as the queue would.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { isAppError } from '../../src/errors.js';
import { generatedBytes } from '../../src/emulators/ckan/content.js';
import { seededRandom } from '../../src/emulators/faults.js';
import type { SyncOutcome } from '../../src/sync/worker.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';

let stack: Stack;
let daemon: Daemon;

beforeAll(async () => {
  stack = await startStack({ zenodo: { faultSeed: 7 }, ckan: { faultSeed: 11 }, config: { sync: { maxAttempts: 1000 } } });
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false });
});

afterAll(async () => {
  await daemon?.stop();
  await stack?.close();
});

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

/** Syncs until the dataset is done, as the queue would retry a retryable failure. */
async function syncUntilDone(name: string): Promise<{ outcome: SyncOutcome; attempts: number }> {
  for (let attempts = 1; attempts <= 60; attempts++) {
    try {
      const outcome = await daemon.syncNow(name);
      if (outcome.state !== 'failed') return { outcome, attempts };
      throw new Error(`${name} failed permanently: ${outcome.code} ${outcome.message}`);
    } catch (error) {
      if (!isAppError(error) || !error.retryable) throw error;
    }
  }
  throw new Error(`${name} did not converge in 60 attempts`);
}

async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

test('50 datasets converge under Zenodo and CKAN faults, and every published checksum is right', async () => {
  const random = seededRandom(42);
  const datasets = Array.from({ length: 50 }, (_, i) => taggedDataset(`faulty-${i}`, Array.from({ length: 1 + (i % 3) }, () => 2_000 + Math.floor(random() * 200_000))));
  const expected = new Map<string, Buffer>();
  for (const d of datasets) {
    stack.ckan.addDataset(d);
    for (const r of d.resources as { id: string; name: string; size: number }[]) expected.set(`${d.id as string}/${r.name}`, generatedBytes(r.id, r.size));
  }
  stack.zenodo.setFaults([
    { route: 'any', kind: '503', probability: 0.06 },
    { route: 'any', kind: '502', probability: 0.03 },
    { route: 'any', kind: '429', probability: 0.05, retryAfterSeconds: 0 },
    { route: 'any', kind: 'reset', probability: 0.06 },
    { route: 'upload', kind: 'truncate', probability: 0.15 },
  ]);
  stack.ckan.setFaults([
    { route: 'any', kind: '503', probability: 0.07 },
    { route: 'download', kind: 'truncate', probability: 0.05 },
  ]);

  let retries = 0;
  await inParallel(datasets, 4, async (d) => {
    const { attempts } = await syncUntilDone(d.name as string);
    retries += attempts - 1;
  });
  const faulted = stack.zenodo.requests.filter((r) => r.status >= 429 || r.status === 0).length;
  expect(faulted).toBeGreaterThan(20); // the faults really happened

  // Faults off; one resource changes in 10 datasets: exactly one more version for each of them.
  stack.zenodo.setFaults([]);
  stack.ckan.setFaults([]);
  for (const d of datasets.slice(0, 10)) {
    const r = (d.resources as { id: string; name: string }[])[0]!;
    const bytes = Buffer.from(`changed ${d.name as string}\n`.repeat(500));
    stack.ckan.setResourceContent(r.id, bytes);
    expected.set(`${d.id as string}/${r.name}`, bytes);
  }
  await inParallel(datasets.slice(0, 10), 4, (d) => syncUntilDone(d.name as string));

  const { rows: links } = await stack.db.pool.query<{ dataset_id: string; concept_recid: string }>('SELECT dataset_id, concept_recid FROM links');
  expect(links).toHaveLength(50);
  const records = stack.zenodo.state.records;
  for (const [i, d] of datasets.entries()) {
    const concept = links.find((l) => l.dataset_id === d.id)!.concept_recid;
    const versions = records.filter((r) => r.conceptrecid === concept).sort((a, b) => a.id - b.id);
    expect(versions, d.name as string).toHaveLength(i < 10 ? 2 : 1);
    const latest = versions.at(-1)!;
    for (const r of d.resources as { name: string }[]) {
      expect(latest.files.find((f) => f.key === r.name)?.md5, `${d.name as string}/${r.name}`).toBe(md5(expected.get(`${d.id as string}/${r.name}`)!));
    }
  }
  // No version anywhere holds a file whose bytes CKAN never served (a truncated upload).
  const served = new Set([...expected.values()].map(md5));
  for (const d of datasets) for (const r of d.resources as { id: string; size: number }[]) served.add(md5(generatedBytes(r.id, r.size)));
  for (const record of records) for (const file of record.files) expect(served.has(file.md5), `${record.id}/${file.key}`).toBe(true);
  expect(stack.zenodo.state.depositions.filter((x) => x.state !== 'done')).toEqual([]);
  const { rows: mails } = await stack.db.pool.query<{ kind: string; n: number }>(`SELECT kind, count(*)::int AS n FROM mail_outbox GROUP BY kind ORDER BY kind`);
  expect(mails).toEqual([{ kind: 'first_version', n: 50 }, { kind: 'new_version', n: 10 }]);
  expect(retries).toBeGreaterThan(0);
}, 300_000);
