/** `ckan-zenodo-sync scan --once [--dry-run] [--json]` as an operator runs it. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { scanCommand } from '../../src/commands/scan.js';
import { startCkanEmulator } from '../../src/emulators/ckan/server.js';
import { QUEUE_SYNC } from '../../src/queue/boss.js';
import type { ScanReport } from '../../src/scanner/scan.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { generateDatasets } from './generate.js';

let dir: string;
let tdb: TestDatabase;
let emulator: Awaited<ReturnType<typeof startCkanEmulator>>;
let tagged: string[];

beforeAll(async () => {
  const datasets = generateDatasets({ count: 500, taggedShare: 0.02, seed: 3, resourcesPerDataset: 2 });
  tagged = datasets.filter((d) => d.tags.some((t) => t.name === 'zenodo')).map((d) => d.id);
  emulator = await startCkanEmulator({ datasets });
  tdb = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'czs-scan-cmd-'));
  await writeFile(join(dir, 'settings.ini'), `[ckan]\nurl = ${emulator.url}\napi_token = ckan-test-token\npage_size = 50\n\n[database]\nurl = ${tdb.url}\n\n[log]\nlevel = warn\n`);
  await writeFile(join(dir, 'rules.yaml'), 'rules:\n  - name: tagged\n    when: { tags: [zenodo] }\n');
});
afterAll(async () => {
  await emulator?.close();
  await tdb?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function scan(flags: Record<string, boolean>): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.resume();
  const code = await scanCommand.run({
    values: { once: true, settings: join(dir, 'settings.ini'), rules: join(dir, 'rules.yaml'), ...flags },
    positionals: [],
    io: { stdout, stderr, env: {} },
  });
  return { code, out };
}

async function jobs(): Promise<number> {
  // A dry run does not even start the queue: no pgboss schema means no job.
  const exists = await tdb.pool.query<{ t: string | null }>("SELECT to_regclass('pgboss.job')::text AS t");
  if (exists.rows[0]?.t == null) return 0;
  const { rows } = await tdb.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1', [QUEUE_SYNC]);
  return rows[0]?.n ?? 0;
}

it('--dry-run --json reports each selected dataset with its rule and new resources, and queues nothing', async () => {
  const { code, out } = await scan({ 'dry-run': true, json: true });
  expect(code).toBe(0);
  const report = JSON.parse(out) as ScanReport;
  expect(report.dryRun).toBe(true);
  expect(report.datasets.map((d) => d.datasetId).sort()).toEqual([...tagged].sort());
  expect(report.datasets.every((d) => d.rule === 'tagged' && d.resources.added.length === 2)).toBe(true);
  expect(await jobs()).toBe(0);
  expect((await tdb.pool.query('SELECT 1 FROM datasets')).rowCount).toBe(0);
});

it('a real scan queues the tagged datasets and says so; the next one queues nothing', async () => {
  const first = await scan({});
  expect(first.code).toBe(0);
  expect(first.out).toContain(`queued ${tagged.length} syncs`);
  expect(await jobs()).toBe(tagged.length);
  const dry = await scan({ 'dry-run': true });
  expect(dry.out).toMatch(/^unchanged /m);
  expect(dry.out).toContain('would queue 0 syncs');
});
