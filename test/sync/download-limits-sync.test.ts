/**
 * The limits seen through a whole sync (real daemon, PostgreSQL, CKAN and Zenodo emulators): a
 * resource whose server sends 3 MB where CKAN declares 100 bytes, under a rule with max_size 1 MB,
 * fails the sync with a permanent error that names the problem, and nothing is published.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { readdir } from 'node:fs/promises';
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
  hostile = createServer((_req, res) => {
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
  stack = await startStack();
  stack.rules = { file: 'rules.yaml', rules: [makeRule({ resources: { formats: [], maxSize: 10 ** 6, datastore: 'csv' } })] };
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false });
});

afterAll(async () => {
  await daemon?.stop();
  await stack?.close();
  hostile?.closeAllConnections();
  hostile?.close();
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
