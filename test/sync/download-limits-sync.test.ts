/**
 * The limits seen through a whole sync (real daemon, PostgreSQL, CKAN and Zenodo emulators): a
 * resource whose server sends 3 MB where CKAN declares 100 bytes, under a rule with max_size 1 MB,
 * fails the sync with a permanent error that names the problem, and nothing is published.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';
import { makeRule } from '../support/rules.js';

let stack: Stack;
let daemon: Daemon;
let hostile: Server;
let hostileUrl: string;
let sent = 0;

beforeAll(async () => {
  hostile = createServer((req, res) => {
    if (req.url === '/slow.csv') {
      // Announces its length, so it is streamed to Zenodo as it arrives, then sends 1 byte/s.
      res.writeHead(200, { 'content-length': '100000' });
      const timer = setInterval(() => res.write('x'), 1000);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv' }); // chunked: no length to check up front
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (!res.destroyed && sent < 3_000_000 && res.write(chunk)) sent += chunk.length;
      if (sent >= 3_000_000) res.end();
    };
    res.on('drain', pump);
    pump();
  });
  hostile.listen(0, '127.0.0.1');
  await once(hostile, 'listening');
  hostileUrl = `http://127.0.0.1:${(hostile.address() as { port: number }).port}/data.csv`;
  // Small rate limits so that a 1 byte/s server is cut within seconds.
  stack = await startStack({ config: { sync: { downloadMinRate: 1000, downloadMinRateWindowMs: 1000 } } });
  // Left behind by a process killed mid-download: a dead pid, and one untouched for an hour.
  await writeFile(join(stack.spoolDir, `spool-00000000-${spawnSync(process.execPath, ['-e', '']).pid}-abc-00000000-0000-4000-8000-000000000001`), 'x'.repeat(1000));
  await writeFile(join(stack.spoolDir, 'spool-8d4e1c2a-3b5f-4c6d-9e7f-0a1b2c3d4e5f'), 'x'.repeat(1000));
  const old = new Date(Date.now() - 3600_000);
  for (const f of await readdir(stack.spoolDir)) if (f.startsWith('spool-')) await utimes(join(stack.spoolDir, f), old, old);
  stack.rules = { file: 'rules.yaml', rules: [makeRule({ resources: { formats: [], maxSize: 10 ** 6, datastore: 'csv' } })] };
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false });
});

afterAll(async () => {
  await daemon?.stop();
  await stack?.close();
  hostile?.closeAllConnections();
  hostile?.close();
});

test('the daemon removes spool files of stopped processes when it starts', async () => {
  expect((await readdir(stack.spoolDir)).filter((f) => f.startsWith('spool-'))).toEqual([]);
});

test('a resource sending 3 MB where CKAN declares 100 bytes (max_size 1 MB) is refused and nothing is published', async () => {
  const dataset = taggedDataset('lying-source', [100]);
  const resources = dataset.resources as Record<string, unknown>[];
  resources[0] = { ...resources[0], url_type: null, url: hostileUrl, size: 100 };
  stack.ckan.addDataset(dataset);

  const outcome = await daemon.syncNow('lying-source');
  expect(outcome).toMatchObject({ state: 'failed', code: 'DOWNLOAD_REFUSED' });
  expect(outcome.state === 'failed' && outcome.message).toMatch(/sent more than the 100 B CKAN declares for the resource.*correct the size in CKAN/);
  expect(sent).toBeLessThan(3_000_000); // stopped, not read to the end
  expect(stack.zenodo.state.records).toEqual([]);
  expect(stack.zenodo.state.buckets.flatMap((b) => b.files)).toEqual([]);
  expect((await readdir(stack.spoolDir)).filter((f) => f.startsWith('spool-'))).toEqual([]);
  // The owners and the admin are told why.
  const { rows } = await stack.db.pool.query<{ kind: string; recipient: string; payload: { error?: { code: string; message: string } } }>(
    'SELECT kind, recipient, payload FROM mail_outbox WHERE dataset_id = $1 ORDER BY id',
    [dataset.id],
  );
  expect(rows.map((r) => r.recipient).sort()).toEqual(['admin@portal.test', 'lying-source@owners.test']);
  for (const row of rows) expect(row).toMatchObject({ kind: 'failure', payload: { error: { code: 'DOWNLOAD_REFUSED', message: expect.stringContaining('CKAN declares') as string } } });
});

test('a resource streamed straight to Zenodo at 1 byte/s is cut by the minimum rate and the sync is retried later', async () => {
  const dataset = taggedDataset('slow-source', [100_000]);
  const resources = dataset.resources as Record<string, unknown>[];
  resources[0] = { ...resources[0], url_type: null, url: hostileUrl.replace('/data.csv', '/slow.csv'), size: null };
  stack.ckan.addDataset(dataset);

  const error = await daemon.syncNow('slow-source').then(
    (outcome) => outcome,
    (e: unknown) => e,
  );
  expect(error).toMatchObject({ code: 'DOWNLOAD_FAILED', retryable: true, details: { limit: 'download_min_rate' } });
  expect((error as Error).message).toMatch(/slow\.csv was stopped: it averaged .* below the minimum of 1\.00 kB\/s \(\[sync\] download_min_rate/);
  expect(stack.zenodo.state.records).toEqual([]);
  expect(stack.zenodo.state.buckets.flatMap((b) => b.files)).toEqual([]);
});
