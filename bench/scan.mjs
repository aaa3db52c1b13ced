// Scanner throughput against 100,000 emulated CKAN datasets.
//
// Run:   node bench/scan.mjs [count] [pageSize]
//        (defaults: 100000 datasets, page size 1000; uses TEST_DATABASE_URL when set, else an
//        embedded PostgreSQL in a temporary folder). The script compiles the modules it needs
//        with tsc into node_modules/.czs-bench-* first (a few seconds) and removes them after.
//
// Measures, in one run:
//   1. a bare HTTP loop fetching the same package_search pages (same fq, sort, rows) — the floor;
//   2. a full first scan with a rule that selects every dataset (every dataset fingerprinted,
//      stored and queued): datasets/s, requests sent, and its ratio to the bare loop;
//   3. a first scan with the usual `tags: [zenodo]` rule (2% of datasets);
//   4. an incremental scan when nothing changed: requests sent.
// The emulator runs in a child process so that its JSON serialisation does not share our CPU.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request } from 'undici';

const root = join(import.meta.dirname, '..');
const out = await mkdtemp(join(root, 'node_modules', '.czs-bench-'));
await promisify(execFile)(
  process.execPath,
  [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict',
    '--skipLibCheck', '--esModuleInterop', '--types', 'node', '--rootDir', root, '--outDir', out,
    ...['src/scanner/scan.ts', 'src/db/index.ts', 'src/log.ts', 'src/emulators/ckan/server.ts', 'test/scanner/generate.ts'].map((f) => join(root, f))],
  { cwd: root },
).catch((error) => {
  // Type errors elsewhere still emit JavaScript.
  if (!String(error.stdout ?? '').includes('error')) throw error;
});
process.on('exit', () => void rm(out, { recursive: true, force: true }));
const dist = (p) => import(join(out, 'src', p));
const { createPool, ensureDatabase, startEmbeddedPostgres, migrate } = await dist('db/index.js');
const { silentLogger } = await dist('log.js');
const { startQueue } = await dist('queue/boss.js');
const { createCkanClient } = await dist('scanner/ckan-client.js');
const { runScan } = await dist('scanner/scan.js');

const count = Number(process.argv[2] ?? 100_000);
const pageSize = Number(process.argv[3] ?? 1000);
const log = silentLogger();

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startEmulatorChild() {
  const code = `
    const { startCkanEmulator } = await import(${JSON.stringify(join(out, 'src', 'emulators', 'ckan', 'server.js'))});
    const { generateDatasets } = await import(${JSON.stringify(join(out, 'test', 'scanner', 'generate.js'))});
    const datasets = generateDatasets({ count: ${count}, taggedShare: 0.02, seed: 1, resourcesPerDataset: 2 });
    const emulator = await startCkanEmulator({ datasets });
    process.stdout.write('URL ' + emulator.url + '\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c.toString();
      const m = /URL (\S+)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

async function database() {
  const external = process.env.TEST_DATABASE_URL;
  let server;
  let dir;
  let admin = external;
  if (!admin) {
    dir = await mkdtemp(join(tmpdir(), 'czs-bench-pg-'));
    server = await startEmbeddedPostgres({ dataDir: dir, port: await freePort(), log, throwAway: true });
    admin = server.url('postgres');
  }
  const fresh = async (name) => {
    await ensureDatabase(admin, name);
    const u = new URL(admin);
    u.pathname = `/${name}`;
    const pool = createPool(u.toString(), { poolSize: 5 });
    await migrate({ pool }, log, { sqlDir: join(root, 'sql') });
    pool.on('error', () => undefined); // the server stops after the pools end; late notices are harmless
    pools.push(pool);
    return { url: u.toString(), pool };
  };
  const pools = [];
  return { fresh, stop: async () => { for (const p of pools) await p.end(); await server?.stop(); if (dir) await rm(dir, { recursive: true, force: true }); } };
}

async function bareLoop(url, fq) {
  let requests = 0;
  let datasets = 0;
  const t0 = performance.now();
  for (let start = 0; ; start += pageSize) {
    const u = new URL('/api/3/action/package_search', url);
    if (fq) u.searchParams.set('fq', fq);
    u.searchParams.set('sort', 'metadata_modified asc, id asc');
    u.searchParams.set('rows', String(pageSize));
    u.searchParams.set('start', String(start));
    u.searchParams.set('include_private', 'true');
    const res = await request(u, { headers: { authorization: 'ckan-test-token' } });
    const body = await res.body.json();
    requests++;
    const n = body.result.results.length;
    datasets += n;
    if (n < pageSize) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { requests, datasets, seconds, perSecond: datasets / seconds };
}

async function scan(db, url, rules) {
  const queue = await startQueue({ connectionString: db.url, log, max: 3 });
  const ckan = createCkanClient({ baseUrl: url, apiToken: 'ckan-test-token', log, timeoutMs: 120_000 });
  try {
    const t0 = performance.now();
    const report = await runScan({ db: { pool: db.pool }, boss: queue.boss, ckan, rules, log, config: { ckan: { url, apiToken: 'ckan-test-token', pageSize, scanOverlapMs: 5 * 60_000, timeoutMs: 120_000 } } });
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, requests: report.requests, seen: report.seen, enqueued: report.enqueued, perSecond: report.seen / seconds };
  } finally {
    await ckan.close();
    await queue.stop({ graceful: false, timeoutMs: 1000 });
  }
}

const rule = (name, when) => ({
  name, line: 1, when,
  resources: { formats: [], maxSize: 50e9, datastore: 'csv' },
  zenodo: { upload_type: 'dataset', access_right: 'open', communities: [] },
  on_unmapped: 'create', metadata_changes: 'edit', notify: [],
});

const emulator = await startEmulatorChild();
const pg = await database();
try {
  const all = { file: 'bench', rules: [rule('all', {})] };
  const tagged = { file: 'bench', rules: [rule('tagged', { tags: ['zenodo'] })] };
  const bareAll = await bareLoop(emulator.url, undefined);
  const fullAll = await scan(await pg.fresh('bench_all'), emulator.url, all);
  const bareTagged = await bareLoop(emulator.url, 'tags:"zenodo"');
  const dbTagged = await pg.fresh('bench_tagged');
  const fullTagged = await scan(dbTagged, emulator.url, tagged);
  const incremental = await scan(dbTagged, emulator.url, tagged);
  const fmt = (n) => n.toFixed(0);
  console.log(`datasets: ${count}, page size: ${pageSize}`);
  console.log(`bare HTTP loop, all:        ${fmt(bareAll.perSecond)} datasets/s, ${bareAll.requests} requests, ${bareAll.seconds.toFixed(1)} s`);
  console.log(`full scan, all selected:    ${fmt(fullAll.perSecond)} datasets/s, ${fullAll.requests} requests, ${fullAll.seconds.toFixed(1)} s, ${fullAll.enqueued} queued — ${(fullAll.perSecond / bareAll.perSecond * 100).toFixed(0)}% of the bare loop`);
  console.log(`bare HTTP loop, tagged:     ${fmt(bareTagged.perSecond)} datasets/s, ${bareTagged.requests} requests, ${bareTagged.seconds.toFixed(2)} s`);
  console.log(`full scan, tagged (2%):     ${fmt(fullTagged.perSecond)} datasets/s, ${fullTagged.requests} requests, ${fullTagged.seconds.toFixed(2)} s, ${fullTagged.enqueued} queued — ${(fullTagged.perSecond / bareTagged.perSecond * 100).toFixed(0)}% of the bare loop`);
  console.log(`incremental, no changes:    ${incremental.requests} requests, ${incremental.enqueued} queued, ${incremental.seconds.toFixed(2)} s`);
} finally {
  emulator.stop();
  await pg.stop();
}
process.exit(0);
