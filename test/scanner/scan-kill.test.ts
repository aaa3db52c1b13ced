/**
 * A scanner process killed with SIGKILL between pages loses no change and queues no job twice:
 * the rerun (which gets the advisory lock at once, since it died with the connection) queues
 * exactly the tagged datasets the killed one had not committed.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCkanEmulator } from '../../src/emulators/ckan/server.js';
import { generateDatasets } from './generate.js';
import { silentLogger } from '../../src/log.js';
import { QUEUE_SYNC, startQueue } from '../../src/queue/boss.js';
import type { Rules } from '../../src/rules/types.js';
import { createCkanClient } from '../../src/scanner/ckan-client.js';
import { runScan } from '../../src/scanner/scan.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { makeRule } from '../support/rules.js';

const root = join(import.meta.dirname, '..', '..');
const rules: Rules = { file: 'rules.yaml', rules: [makeRule({ name: 'tagged', when: { tags: ['zenodo'] } })] };
let outDir: string;
let tdb: TestDatabase;
let emulator: Awaited<ReturnType<typeof startCkanEmulator>>;
let tagged: string[];

beforeAll(async () => {
  // Compile only what the child needs, inside the package so that pg and pg-boss resolve.
  outDir = await mkdtemp(join(root, 'node_modules', '.czs-scan-test-'));
  await promisify(execFile)(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict',
      '--skipLibCheck', '--esModuleInterop', '--types', 'node', '--rootDir', join(root, 'src'), '--outDir', outDir,
      join(root, 'src', 'scanner', 'scan.ts'), join(root, 'src', 'db', 'index.ts'), join(root, 'src', 'log.ts')],
    { cwd: root },
  ).catch((error: { stdout?: string }) => {
    // Type errors elsewhere in the tree still emit JavaScript; only a missing output is fatal.
    if (!String(error.stdout ?? '').includes('error')) throw error;
  });
  const datasets = generateDatasets({ count: 2000, taggedShare: 0.02, seed: 7, resourcesPerDataset: 1 });
  tagged = datasets.filter((d) => d.tags.some((t) => t.name === 'zenodo')).map((d) => d.id);
  emulator = await startCkanEmulator({ datasets });
  tdb = await createTestDatabase();
}, 120_000);

afterAll(async () => {
  await emulator?.close();
  await tdb?.drop();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

it('survives kill -9 between two pages', async () => {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'scan-child.mjs'), outDir, tdb.url, emulator.url, JSON.stringify(rules)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('PAGE') && resolve());
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before page 1: ${stderr}`)));
  });
  child.kill('SIGKILL');
  await exited;

  const count = async (): Promise<Map<string, number>> => {
    const { rows } = await tdb.pool.query<{ key: string; n: number }>('SELECT singleton_key AS key, count(*)::int AS n FROM pgboss.job WHERE name = $1 GROUP BY 1', [QUEUE_SYNC]);
    return new Map(rows.map((r) => [r.key, r.n]));
  };
  const before = await count();
  // Two committed pages of 7 (the second restarts at the last row read, so 13 datasets).
  expect(before.size).toBeGreaterThan(7);
  expect(before.size).toBeLessThan(tagged.length);

  const log = silentLogger();
  const queue = await startQueue({ connectionString: tdb.url, log, max: 2 });
  const ckan = createCkanClient({ baseUrl: emulator.url, apiToken: 'ckan-test-token', log, timeoutMs: 10_000 });
  try {
    const report = await runScan({
      db: { pool: tdb.pool }, boss: queue.boss, ckan, rules, log,
      config: { ckan: { url: emulator.url, apiToken: 'ckan-test-token', pageSize: 7, scanOverlapMs: 1000, timeoutMs: 10_000 }, sync: { linkExtra: 'zenodo_doi', metadataExtra: 'zenodo_metadata' } },
    });
    expect(report.status).toBe('done');
    expect(report.enqueued).toBe(tagged.length - before.size);
  } finally {
    await ckan.close();
    await queue.stop({ graceful: false, timeoutMs: 1000 });
  }
  const after = await count();
  expect([...after.keys()].sort()).toEqual([...tagged].sort());
  expect([...after.values()].every((n) => n === 1)).toBe(true);
});
