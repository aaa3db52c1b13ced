// The benchmark suite: `npm run bench` (full) or `npm run bench -- --quick` (< 5 min on 2 cores).
// Never part of `npm test`.
//
// `npm run bench` builds dist/ first (tsc) and this plain-ESM script runs the COMPILED code, on
// loopback, against the project's own emulators and a real PostgreSQL: TEST_DATABASE_URL or
// DATABASE_URL (a superuser-ish URL: every benchmark creates and drops its own database), else an
// embedded PostgreSQL in a temp folder (default, durable settings: fsync stays on). Needs `curl`.
//
// Every figure is measured beside its baseline in the same run, repeated (3×, also in --quick),
// and the median is reported. Output: a table on stdout and bench/results.json (gitignored) with
// each figure, unit, baseline, ratio, target, pass/fail and the machine (cpu, cores, memory,
// node, load average before and after).
//
//   transfer   CKAN → Zenodo sync of one large file through the real sync path (daemon in its own
//              process, `syncNow`; each emulator in its own process too, so the RSS is the
//              daemon's) vs `curl download | curl -T - upload` of the same bytes to a bucket
//              (peak RSS beside both curls', with GNU time). 5 runs each way.
//              Full: 256 MiB and 2 GiB (peak RSS must not grow with the size); quick: 256 MiB.
//   scan       full first scan of N emulated datasets with a rule selecting all of them (each one
//              fingerprinted, stored and queued) vs a bare HTTP loop fetching the same pages; the
//              same full listing again once all are known (watermark reset: compared, nothing
//              written); then incremental scans (nothing changed; 100 changed). N = 100,000
//              (quick 20,000).
//   rate-limit small syncs against the Zenodo emulator limited to 100 requests/min, on a clock
//              shared by emulator and client and ACCELERATED 60× (a "minute" is one second), vs a
//              naive loop that sends as fast as it can and waits out each 429's Retry-After.
//   e2e        N tagged datasets (3 small resources each) from the first scan to every mail sent,
//              rate limit off, [sync] concurrency 1, 4, 16, each beside the same work done as bare
//              API calls at the same concurrency (no database, queue or outbox); and pg-boss
//              throughput (5,000 no-op jobs sent and completed by 4 workers) vs a bare SQL
//              queue (INSERT, then DELETE … FOR UPDATE SKIP LOCKED) doing the same.
//
// Options: --quick, --only transfer,scan,rate,e2e (comma list), --reps N.
import { execFileSync, fork, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { request } from 'undici';

const root = join(import.meta.dirname, '..');
const dist = (p) => import(join(root, 'dist', p));
const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, reps: { type: 'string' } } });
const quick = args.quick;
const only = new Set((args.only ?? 'transfer,scan,rate,e2e').split(','));
const reps = Number(args.reps ?? 3);
const MiB = 1024 * 1024;

const { silentLogger } = await dist('log.js');
const { startEmbeddedPostgres, ensureDatabase, createPool, migrate } = await dist('db/index.js');
const log = silentLogger();

const results = [];
const notes = [];
/** GNU time, when installed: the peak RSS of the curl baseline. */
let gnuTime;
const say = (text) => process.stdout.write(`${text}\n`);

// -------------------------------------------------------------------------------------- helpers

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

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A bench/child.mjs process with an RPC `call(name, ...args)`. */
async function child(role, options = {}) {
  const proc = fork(join(import.meta.dirname, 'child.mjs'), [role, JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let next = 0;
  await new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${role} child exited with ${code}`)));
    proc.on('message', (m) => {
      if (m.ready) return resolve();
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) p?.reject(new Error(`${role}: ${m.error}`));
      else p?.resolve(m.result);
    });
  });
  proc.removeAllListeners('exit');
  proc.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`${role} child exited with ${code}`));
  });
  const call = (name, ...a) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      proc.send({ id, call: name, args: a });
    });
  return {
    pid: proc.pid,
    call,
    async close() {
      await Promise.race([call('close').catch(() => undefined), delay(15_000)]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

async function database() {
  const external = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  let server;
  let dir;
  let admin = external;
  if (!admin) {
    dir = await mkdtemp(join(tmpdir(), 'czs-bench-pg-'));
    await chmod(dir, 0o755); // initdb may run as the postgres user when we are root
    server = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), port: await freePort(), log });
    admin = server.url('postgres');
  }
  let n = 0;
  const adminUrl = (name) => {
    const u = new URL(admin);
    u.pathname = `/${name}`;
    return u.toString();
  };
  return {
    kind: external ? 'external (TEST_DATABASE_URL/DATABASE_URL)' : 'embedded PostgreSQL 17, durable settings',
    /** A new migrated database; `drop()` removes it. */
    async fresh(label) {
      const name = `czs_bench_${label}_${process.pid}_${n++}`;
      await ensureDatabase(admin, name);
      const url = adminUrl(name);
      const pool = createPool(url, { poolSize: 5, onIdleError: () => undefined });
      await migrate({ pool }, log, { sqlDir: join(root, 'sql') });
      return {
        url,
        pool,
        async drop() {
          await pool.end().catch(() => undefined);
          const c = new pg.Client({ connectionString: admin });
          await c.connect();
          await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`).catch(() => undefined);
          await c.end();
        },
      };
    },
    async stop() {
      await server?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

function rule(name, when, extra = {}) {
  return {
    name, line: 1, when,
    resources: { formats: [], maxSize: 50e9, datastore: 'csv' },
    zenodo: { upload_type: 'dataset', access_right: 'open', communities: [] },
    on_unmapped: 'create', metadata_changes: 'edit', notify: ['maintainer_email', 'author_email'],
    ...extra,
  };
}

function config({ ckanUrl, zenodoUrl, databaseUrl, smtpUrl, spoolDir, concurrency = 2, pageSize = 1000 }) {
  return {
    settingsPath: undefined,
    ckan: { url: ckanUrl, apiToken: 'ckan-test-token', pageSize, scanOverlapMs: 300_000, timeoutMs: 120_000 },
    zenodo: { url: zenodoUrl, token: 'test-token', timeoutMs: 120_000 },
    database: { url: databaseUrl, dataDir: join(spoolDir, 'pg'), embeddedPort: 5433 },
    schedule: { scan: '0 0 1 1 *', reconcile: '0 0 1 1 *', timezone: 'UTC' },
    sync: { concurrency, writeBack: false, spoolDir, allowedHosts: ['127.0.0.1'], linkExtra: 'zenodo_doi', maxAttempts: 8, drainTimeoutMs: 30_000, downloadTimeoutMs: 86_400_000, downloadMinRate: 10_000, downloadMinRateWindowMs: 60_000, spoolMaxBytes: 20 * 10 ** 9 },
    mail: { smtpUrl, from: 'Archive <archive@portal.test>', admin: 'admin@portal.test', templatesDir: undefined, connections: 4 },
    http: { listen: '127.0.0.1:0', token: 'http-test-token', publicStatus: false },
    log: { level: 'silent' },
  };
}

let datasetCounter = 0;
function dataset(name, sizes, extra = {}) {
  const n = ++datasetCounter;
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return {
    id, name,
    title: `Dataset ${name}`,
    notes: 'Measurements from **sensors**.',
    author: 'Jane Doe; John Smith',
    maintainer_email: `${name}@owners.test`,
    license_id: 'cc-by',
    tags: [{ name: 'zenodo' }, { name: 'environment' }],
    extras: [],
    resources: sizes.map((size, i) => ({
      id: `00000000-0000-4000-9000-${String(n * 100 + i).padStart(12, '0')}`,
      name: `file-${i}.bin`,
      format: 'BIN',
      url_type: 'upload',
      url: `http://ckan.invalid/file-${i}.bin`,
      size,
    })),
    ...extra,
  };
}

/**
 * One result row. `higherIsBetter` decides the ratio's direction: ratio = figure / baseline, so
 * above 1 is better for throughputs; for "lower is better" figures no ratio target is applied.
 */
function record(row) {
  const ratio = row.baseline === undefined || row.baseline === null || row.baseline === 0 ? null : row.figure / row.baseline;
  const pass = row.check ? Boolean(row.check(row.figure, ratio)) : null;
  const out = { bench: row.bench, name: row.name, figure: round(row.figure), unit: row.unit, baseline: row.baseline === undefined ? null : round(row.baseline), baselineName: row.baselineName ?? null, ratio: ratio === null ? null : round(ratio, 3), target: row.target ?? null, pass, runs: row.runs ?? null, note: row.note ?? null };
  results.push(out);
  say(`  ${out.name}: ${fmt(out.figure)} ${out.unit}${out.baseline !== null ? ` | baseline ${fmt(out.baseline)} (${out.baselineName})` : ''}${out.ratio !== null ? ` | ratio ${out.ratio.toFixed(2)}` : ''}${out.target ? ` | target ${out.target}: ${pass ? 'met' : 'MISSED'}` : ''}${out.note ? ` | ${out.note}` : ''}`);
}

function round(x, digits = 2) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(x) {
  if (typeof x !== 'number') return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}

// ------------------------------------------------------------------------------------- transfer

function sh(command) {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-o', 'pipefail', '-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${command}\n${out}`))));
  });
}

async function transfer(pgdb, size) {
  const ckan = await child('ckan');
  const zenodo = await child('zenodo');
  const db = await pgdb.fresh('transfer');
  const spoolDir = await mkdtemp(join(tmpdir(), 'czs-bench-spool-'));
  const ckanUrl = await ckan.call('url');
  const zenodoUrl = await zenodo.call('url');
  const daemon = await child('daemon', { config: config({ ckanUrl, zenodoUrl, databaseUrl: db.url, spoolDir }), rules: { file: 'bench', rules: [rule('tagged', { tags: ['zenodo'] })] } });
  const mb = size / 1e6;
  const ours = [];
  const bare = [];
  const rss = [];
  const bareRss = [];
  // A 256 MiB transfer takes about a second and both sides vary by a fifth from run to run on a
  // shared 2-core machine: at least 5 runs each.
  const transferReps = Math.max(reps, 5);
  try {
    for (let i = 0; i < transferReps; i++) {
      // Baseline first on odd runs, second on even ones: neither always gets the warm cache.
      const runBare = async () => {
        const d = dataset(`curl-${size}-${i}`, [size]);
        const [id] = await ckan.call('addDatasets', [d]);
        const res = await request(`${zenodoUrl}/api/deposit/depositions`, { method: 'POST', headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' }, body: '{}' });
        const dep = await res.body.json();
        const download = `${ckanUrl}/dataset/${id}/resource/${d.resources[0].id}/download/file-0.bin`;
        const t0 = performance.now();
        // Zenodo (and the emulator) refuse chunked uploads; curl -T - from a pipe sends BOTH
        // `Transfer-Encoding: chunked` and a given Content-Length (a 400), so the former is removed.
        // GNU time (when installed) writes each curl's peak RSS (kB): the baseline's memory.
        const rssFiles = [join(spoolDir, 'curl-down.rss'), join(spoolDir, 'curl-up.rss')];
        const timed = (k) => (gnuTime ? `${gnuTime} -f '%M' -o ${rssFiles[k]} ` : '');
        const status = await sh(`${timed(0)}curl -sS --fail ${download} | ${timed(1)}curl -sS -o /dev/null -w '%{http_code}' -T - -H 'Transfer-Encoding:' -H 'Expect:' -H 'Authorization: Bearer test-token' -H 'Content-Type: application/octet-stream' -H 'Content-Length: ${size}' ${dep.links.bucket}/file-0.bin`);
        const seconds = (performance.now() - t0) / 1000;
        if (!/^20\d$/.test(status.trim())) throw new Error(`curl upload answered ${status}`);
        if (gnuTime) bareRss.push((await Promise.all(rssFiles.map(async (f) => Number(await readFile(f, 'utf8'))))).reduce((a, b) => a + b, 0) / 1000);
        bare.push(mb / seconds);
      };
      const runOurs = async () => {
        const name = `sync-${size}-${i}`;
        await ckan.call('addDatasets', [dataset(name, [size])]);
        const r = await daemon.call('sync', name);
        if (r.state !== 'done') throw new Error(`sync ended ${r.state}`);
        ours.push(mb / r.seconds);
        rss.push(r.peakRss / 1e6);
      };
      if (i % 2 === 0) {
        await runOurs();
        await runBare();
      } else {
        await runBare();
        await runOurs();
      }
    }
    const label = `${size / MiB} MiB`;
    record({ bench: 'transfer', name: `transfer ${label} (sync path)`, figure: median(ours), unit: 'MB/s', baseline: median(bare), baselineName: 'curl | curl', target: 'ratio >= 0.85', check: (_, r) => r >= 0.85, runs: { ours, bare } });
    record({ bench: 'transfer', name: `transfer ${label} peak RSS (daemon process)`, figure: Math.max(...rss), unit: 'MB', ...(bareRss.length > 0 ? { baseline: Math.max(...bareRss), baselineName: 'both curls together' } : {}), target: '< 150 MB', check: (f) => f < 150, runs: { ours: rss, bare: bareRss } });
  } finally {
    await daemon.close();
    await ckan.close();
    await zenodo.close();
    await db.drop();
    await rm(spoolDir, { recursive: true, force: true });
  }
}

// ----------------------------------------------------------------------------------------- scan

async function scanBench(pgdb, count) {
  const { createCkanClient } = await dist('scanner/ckan-client.js');
  const { runScan } = await dist('scanner/scan.js');
  const { startQueue } = await dist('queue/boss.js');
  const t0 = performance.now();
  const ckan = await child('ckan', { generate: { count, taggedShare: 0.02, seed: 1, resourcesPerDataset: 2 } });
  const url = await ckan.call('url');
  say(`  (${count} datasets generated in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const pageSize = 1000;
  const all = { file: 'bench', rules: [rule('all', {})] };

  /** The same package_search pages as the scan, from `lo` (a Solr timestamp or `*`), and nothing else. */
  const bareLoop = async (lo = '*') => {
    let requests = 0;
    let datasets = 0;
    const t = performance.now();
    for (let start = 0; ; start += pageSize) {
      const u = new URL('/api/3/action/package_search', url);
      u.searchParams.set('fq', `metadata_modified:[${lo} TO *]`);
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
    const seconds = (performance.now() - t) / 1000;
    return { requests, datasets, seconds, perSecond: datasets / seconds };
  };

  const scan = async (db) => {
    const queue = await startQueue({ connectionString: db.url, log, max: 3 });
    const client = createCkanClient({ baseUrl: url, apiToken: 'ckan-test-token', log, timeoutMs: 120_000 });
    try {
      const t = performance.now();
      const report = await runScan({ db: { pool: db.pool }, boss: queue.boss, ckan: client, rules: all, log, config: { ckan: { url, apiToken: 'ckan-test-token', pageSize, scanOverlapMs: 5 * 60_000, timeoutMs: 120_000 } } });
      const seconds = (performance.now() - t) / 1000;
      return { seconds, requests: report.requests, seen: report.seen, enqueued: report.enqueued, perSecond: report.seen / seconds };
    } finally {
      await client.close();
      await queue.stop({ graceful: false, timeoutMs: 1000 });
    }
  };

  const ours = [];
  const bare = [];
  let last;
  try {
    for (let i = 0; i < reps; i++) {
      const b = await bareLoop();
      bare.push(b.perSecond);
      if (last) await last.drop();
      last = await pgdb.fresh('scan');
      const s = await scan(last);
      if (s.enqueued !== count) notes.push(`scan: full scan queued ${s.enqueued} of ${count} datasets`);
      ours.push(s.perSecond);
      say(`  run ${i + 1}: bare ${b.perSecond.toFixed(0)}/s (${b.requests} requests), scan ${s.perSecond.toFixed(0)}/s (${s.requests} requests, ${s.enqueued} queued, ${s.seconds.toFixed(1)} s)`);
    }
    record({ bench: 'scan', name: `first full scan, ${count} datasets all selected (all stored + queued)`, figure: median(ours), unit: 'datasets/s', baseline: median(bare), baselineName: 'bare HTTP loop, same pages', target: 'ratio >= 0.7', check: (_, r) => r >= 0.7, runs: { ours, bare } });

    // The same full listing once everything is known (the watermark reset, as after restoring a
    // backup): every dataset is fetched, fingerprinted and compared, nothing is written or queued.
    const again = [];
    const bareAgain = [];
    for (let i = 0; i < reps; i++) {
      await last.pool.query('DELETE FROM scan_state');
      const b = await bareLoop();
      bareAgain.push(b.perSecond);
      const s = await scan(last);
      if (s.enqueued !== 0) notes.push(`scan: the full re-scan queued ${s.enqueued}`);
      again.push(s.perSecond);
      say(`  re-scan ${i + 1}: bare ${b.perSecond.toFixed(0)}/s, scan ${s.perSecond.toFixed(0)}/s (${s.requests} requests, ${s.enqueued} queued, ${s.seconds.toFixed(1)} s)`);
    }
    record({ bench: 'scan', name: `full re-scan, ${count} datasets, nothing changed`, figure: median(again), unit: 'datasets/s', baseline: median(bareAgain), baselineName: 'bare HTTP loop, same pages', target: 'ratio >= 0.7', check: (_, r) => r >= 0.7, runs: { ours: again, bare: bareAgain } });

    // The full scan left one queued sync per dataset, and the queue keeps at most one queued job
    // per dataset: a changed dataset that still has one gets no second (correctly, its sync reads
    // the dataset fresh). Workers would have taken them by the next scan; here they are dropped.
    const { QUEUE_SYNC } = await dist('queue/boss.js');
    const clearQueue = () => last.pool.query(`DELETE FROM pgboss.job WHERE name = $1`, [QUEUE_SYNC]);
    // The bare loop of an incremental scan asks for what the scan asks for: from the stored
    // watermark minus the scan's overlap (5 minutes here).
    const { solrTimestamp } = await dist('scanner/scan.js');
    const bareFromWatermark = async () => {
      const { rows } = await last.pool.query('SELECT watermark FROM scan_state');
      const lo = new Date(Date.parse(solrTimestamp(rows[0].watermark)) - 5 * 60_000).toISOString();
      return bareLoop(lo);
    };
    const none = [];
    const changed = [];
    const bareNone = [];
    const bareChanged = [];
    for (let i = 0; i < reps; i++) {
      await clearQueue();
      bareNone.push(await bareFromWatermark());
      none.push(await scan(last));
      const touched = await ckan.call('touch', 100, false);
      bareChanged.push(await bareFromWatermark());
      const s1 = await scan(last);
      if (s1.enqueued !== touched) notes.push(`scan: the incremental scan after ${touched} edits queued ${s1.enqueued}`);
      changed.push(s1);
    }
    const bareName = 'bare HTTP loop, same pages';
    const ms = (list) => list.map((x) => round(x.seconds * 1000));
    record({ bench: 'scan', name: 'incremental scan, nothing changed: requests', figure: median(none.map((x) => x.requests)), unit: 'requests', baseline: median(bareNone.map((x) => x.requests)), baselineName: bareName, target: '<= 2', check: (f) => f <= 2, runs: { ours: none.map((x) => x.requests), bare: bareNone.map((x) => x.requests) } });
    record({ bench: 'scan', name: 'incremental scan, nothing changed: time', figure: median(ms(none)), unit: 'ms', baseline: median(ms(bareNone)), baselineName: bareName, runs: { ours: ms(none), bare: ms(bareNone) } });
    record({ bench: 'scan', name: 'incremental scan, 100 changed: requests', figure: median(changed.map((x) => x.requests)), unit: 'requests', baseline: median(bareChanged.map((x) => x.requests)), baselineName: bareName, note: `queued ${changed.map((x) => x.enqueued).join('/')}`, runs: { ours: changed.map((x) => x.requests), bare: bareChanged.map((x) => x.requests) } });
    record({ bench: 'scan', name: 'incremental scan, 100 changed: time', figure: median(ms(changed)), unit: 'ms', baseline: median(ms(bareChanged)), baselineName: bareName, runs: { ours: ms(changed), bare: ms(bareChanged) } });
  } finally {
    await last?.drop();
    await ckan.close();
  }
}

// ----------------------------------------------------------------------------------- rate limit

async function rateBench(pgdb, syncs) {
  const { startZenodoEmulator } = await dist('emulators/zenodo/server.js');
  const { createZenodoClient } = await dist('zenodo/client.js');
  const { createSyncStore } = await dist('db/sync-queries.js');
  const { zenodoPort } = await dist('sync/zenodo-port.js');
  const { ckanPort } = await dist('sync/ckan-port.js');
  const { createCkanClient } = await dist('scanner/ckan-client.js');
  const { createSyncRunner } = await dist('sync/job.js');
  const { matchRule } = await dist('rules/evaluate.js');
  const { mapDatasetToZenodo, metadataFingerprint } = await dist('zenodo/metadata.js');
  const { resourceFingerprint } = await dist('scanner/fingerprint.js');
  const { createDownloadDispatcher, openSource } = await dist('sync/source.js');
  const { createMailBuilder } = await dist('sync/mails.js');

  const SCALE = 60;
  const limit = { perMinute: 100, perHour: 5000 };
  const sleep = (ms) => delay(Math.max(0, ms) / SCALE);

  const one = async (useOurs) => {
    const t0 = Date.now();
    const now = () => t0 + (Date.now() - t0) * SCALE;
    const zenodo = await startZenodoEmulator({ rateLimit: limit, now });
    const ckanChild = await child('ckan');
    const ckanUrl = await ckanChild.call('url');
    const db = await pgdb.fresh('rate');
    const spoolDir = await mkdtemp(join(tmpdir(), 'czs-bench-spool-'));
    try {
      const names = Array.from({ length: syncs }, (_, i) => `rate-${i}-${Date.now()}`);
      const ids = await ckanChild.call('addDatasets', names.map((n) => dataset(n, [2000])));
      if (!useOurs) {
        // Naive: the same number of requests as fast as possible, each 429 waited out (Retry-After).
        const total = Math.round(syncs * 7);
        let sent = 0;
        let refused = 0;
        let done = 0;
        const start = now();
        await Promise.all(Array.from({ length: 4 }, async () => {
          while (done < total) {
            const res = await request(`${zenodo.url}/api/deposit/depositions?size=1`, { headers: { authorization: 'Bearer test-token' } });
            await res.body.dump();
            sent++;
            if (res.statusCode === 429) {
              refused++;
              await sleep(Number(res.headers['retry-after'] ?? 1) * 1000);
            } else done++;
          }
        }));
        const minutes = (now() - start) / 60_000;
        return { requests: done, refused, sent, minutes };
      }
      const client = createZenodoClient({ baseUrl: zenodo.url, token: 'test-token', log, now, sleep, timeoutMs: 60_000 });
      const ckan = createCkanClient({ baseUrl: ckanUrl, apiToken: 'ckan-test-token', log, timeoutMs: 60_000 });
      const policy = { allowedHosts: ['127.0.0.1'] };
      const downloads = createDownloadDispatcher(policy, 60_000);
      const pool = db.pool;
      const rules = { file: 'bench', rules: [rule('tagged', { tags: ['zenodo'] })] };
      // The daemon's wiring (src/daemon.ts), with the accelerated clock given to the Zenodo client.
      const runner = createSyncRunner(pool, {
        store: createSyncStore(pool),
        zenodo: zenodoPort(client, () => undefined),
        ckan: ckanPort(ckan),
        rules,
        matchRule: (r, d) => matchRule(r, d),
        mapMetadata: (d, r) => {
          const { metadata } = mapDatasetToZenodo(d, r, { ckanUrl, today: new Date() });
          return { metadata, fingerprint: metadataFingerprint(metadata) };
        },
        fingerprintResource: (r) => resourceFingerprint(r),
        openSource: (file) => openSource(file.source.url, { ckanUrl, ckanToken: 'ckan-test-token', policy, spoolDir, userAgent: 'bench', timeoutMs: 60_000, dispatcher: downloads }),
        mails: createMailBuilder({ ckanUrl, admin: 'admin@portal.test', linkExtra: 'zenodo_doi', directory: undefined, secrets: [], log, recordUrl: (id, html) => html ?? `${zenodo.url}/records/${id}` }),
        ckanUrl,
        linkExtra: 'zenodo_doi',
        writeBack: false,
        maxAttempts: 8,
        log,
      });
      const queue = [...ids];
      const states = {};
      const errors = [];
      const start = now();
      // Four workers, like the daemon's sync workers; a sync that throws (e.g. a 429 the client
      // gave up on) goes back to the queue, as pg-boss would retry it.
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          try {
            const outcome = await runner.run({ datasetId: id, trigger: 'manual' });
            states[outcome.state] = (states[outcome.state] ?? 0) + 1;
          } catch (error) {
            errors.push(error.message);
            if (errors.length > syncs) throw error;
            queue.push(id);
          }
        }
      }));
      if (errors.length > 0) notes.push(`rate-limit: ${errors.length} sync attempt(s) threw and were re-run, e.g. "${errors[0]}"`);
      const minutes = (now() - start) / 60_000;
      const stats = client.stats();
      await client.close();
      await ckan.close();
      await downloads.close();
      if ((states.done ?? 0) !== syncs) notes.push(`rate-limit: outcomes ${JSON.stringify(states)}`);
      return { requests: stats.requests - stats.rateLimited, refused: stats.rateLimited, sent: stats.requests, minutes };
    } finally {
      await zenodo.close();
      await ckanChild.close();
      await db.drop();
      await rm(spoolDir, { recursive: true, force: true });
    }
  };

  const ours = [];
  const bare = [];
  for (let i = 0; i < reps; i++) {
    const o = await one(true);
    const b = await one(false);
    ours.push(o);
    bare.push(b);
    say(`  run ${i + 1}: ours ${o.sent} requests (${o.refused} × 429) in ${o.minutes.toFixed(1)} scaled min; naive ${b.sent} (${b.refused} × 429) in ${b.minutes.toFixed(1)} min`);
  }
  const use = (r) => (100 * r.requests) / (limit.perMinute * r.minutes);
  const share429 = (r) => (100 * r.refused) / r.sent;
  record({ bench: 'rate-limit', name: `${syncs} small syncs at 100 req/min: budget used (clock 60×)`, figure: median(ours.map(use)), unit: '% of budget', baseline: median(bare.map(use)), baselineName: 'naive loop honouring Retry-After', target: '>= 90%', check: (f) => f >= 90, runs: { ours: ours.map((r) => round(use(r))), bare: bare.map((r) => round(use(r))) } });
  record({ bench: 'rate-limit', name: `${syncs} small syncs at 100 req/min: answered 429`, figure: median(ours.map(share429)), unit: '% of requests', baseline: median(bare.map(share429)), baselineName: 'naive loop honouring Retry-After', target: '<= 1%', check: (f) => f <= 1, runs: { ours: ours.map((r) => round(share429(r))), bare: bare.map((r) => round(share429(r))) } });
}

// ------------------------------------------------------------------------------------------ e2e

/** Waits until `count` mails arrived; fails when nothing moved for 60 s (a stuck run, not a slow one). */
async function waitForMails(smtp, daemon, count) {
  let last = -1;
  let since = performance.now();
  while (smtp.messages.length < count) {
    if (smtp.messages.length !== last) {
      last = smtp.messages.length;
      since = performance.now();
    } else if (performance.now() - since > (quick ? 30_000 : 60_000)) {
      const { rows } = await daemon.db.pool.query('SELECT state, count(*)::int AS n FROM sync_runs GROUP BY state');
      throw new Error(`stuck at ${last} of ${count} mails; sync runs ${JSON.stringify(rows)}`);
    }
    await delay(100);
  }
}

/**
 * The baseline of the end-to-end figure: the same work as bare API calls at the same concurrency,
 * without database, queue, state machine or outbox: per dataset create a deposition with its
 * metadata, stream the 3 files from CKAN into its bucket, publish, send one mail (pooled SMTP).
 */
async function bareE2E(count, concurrency, i) {
  const { startSmtpCapture } = await dist('emulators/smtp.js');
  const { createMailer } = await dist('notify/mailer.js');
  const datasets = Array.from({ length: count }, (_, k) => dataset(`bare-${concurrency}-${i}-${k}`, [1000 + k, 2000 + k, 3000 + k]));
  const ckan = await child('ckan');
  const ids = await ckan.call('addDatasets', datasets);
  const zenodo = await child('zenodo');
  const smtp = await startSmtpCapture({});
  const mailer = createMailer({ smtpUrl: smtp.url, from: 'Archive <archive@portal.test>', log });
  const ckanUrl = await ckan.call('url');
  const zenodoUrl = await zenodo.call('url');
  const auth = { authorization: 'Bearer test-token' };
  const json = async (res) => {
    const body = await res.body.json();
    if (res.statusCode >= 300) throw new Error(`bare e2e: HTTP ${res.statusCode} ${JSON.stringify(body)}`);
    return body;
  };
  try {
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      for (let k = next++; k < count; k = next++) {
        const d = datasets[k];
        const metadata = { title: d.title, upload_type: 'dataset', description: d.notes, creators: [{ name: 'Doe, Jane' }], publication_date: '2026-01-01' };
        const dep = await json(await request(`${zenodoUrl}/api/deposit/depositions`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ metadata }) }));
        for (const r of d.resources) {
          const download = await request(`${ckanUrl}/dataset/${ids[k]}/resource/${r.id}/download/${r.name}`);
          await json(await request(`${dep.links.bucket}/${r.name}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': download.headers['content-length'] }, body: download.body }));
        }
        await json(await request(`${zenodoUrl}/api/deposit/depositions/${dep.id}/actions/publish`, { method: 'POST', headers: auth }));
        await mailer.send({ to: d.maintainer_email, subject: `Archived: ${d.title}`, text: 'DOI', html: '<p>DOI</p>' });
      }
    }));
    if (smtp.messages.length !== count) throw new Error(`bare e2e: ${smtp.messages.length} of ${count} mails`);
    return count / ((performance.now() - t0) / 1000);
  } finally {
    mailer.close();
    await smtp.stop();
    await ckan.close();
    await zenodo.close();
  }
}

async function e2eBench(pgdb, count) {
  const { startDaemon } = await dist('daemon.js');
  const { startSmtpCapture } = await dist('emulators/smtp.js');
  const byConcurrency = {};
  const bareByConcurrency = {};
  for (const concurrency of [1, 4, 16]) {
    byConcurrency[concurrency] = [];
    bareByConcurrency[concurrency] = [];
    for (let i = 0; i < reps; i++) {
      bareByConcurrency[concurrency].push(await bareE2E(count, concurrency, i));
      const datasets = Array.from({ length: count }, (_, k) => dataset(`e2e-${concurrency}-${i}-${k}`, [1000 + k, 2000 + k, 3000 + k]));
      const ckan = await child('ckan');
      await ckan.call('addDatasets', datasets);
      const zenodo = await child('zenodo');
      const smtp = await startSmtpCapture({});
      const db = await pgdb.fresh('e2e');
      const spoolDir = await mkdtemp(join(tmpdir(), 'czs-bench-spool-'));
      const cfg = config({ ckanUrl: await ckan.call('url'), zenodoUrl: await zenodo.call('url'), databaseUrl: db.url, smtpUrl: smtp.url, spoolDir, concurrency });
      // Polling 0.5 s (pg-boss's minimum; the daemon's default is 2 s): pg-boss 10 workers wait out
      // the polling interval after EVERY fetch, busy or not, which caps each worker at 2 jobs/s.
      const daemon = await startDaemon({ config: cfg, rules: { file: 'bench', rules: [rule('tagged', { tags: ['zenodo'] })] }, log, mode: 'run', schedule: false, http: false, pollingIntervalSeconds: 0.5 });
      try {
        const t0 = performance.now();
        const report = await daemon.scanNow();
        if (report.enqueued !== count) notes.push(`e2e: scan queued ${report.enqueued} of ${count}`);
        await waitForMails(smtp, daemon, count);
        const seconds = (performance.now() - t0) / 1000;
        byConcurrency[concurrency].push(count / seconds);
        say(`  concurrency ${concurrency}, run ${i + 1}: ${count} datasets in ${seconds.toFixed(1)} s, ${smtp.messages.length} mails; bare API calls ${bareByConcurrency[concurrency].at(-1).toFixed(1)} datasets/s`);
      } catch (error) {
        notes.push(`e2e concurrency ${concurrency}: ${error.message}`);
        say(`  concurrency ${concurrency}, run ${i + 1}: FAILED ${error.message}`);
        break;
      } finally {
        await daemon.stop();
        await smtp.stop();
        await ckan.close();
        await zenodo.close();
        await db.drop();
        await rm(spoolDir, { recursive: true, force: true });
      }
    }
  }
  const base = median(byConcurrency[1]);
  for (const c of [1, 4, 16]) {
    if (byConcurrency[c].length === 0) {
      record({ bench: 'e2e', name: `end to end, ${count} datasets × 3 files, concurrency ${c}`, figure: 'stalled', unit: '', target: 'completes', check: () => false });
      continue;
    }
    const figure = median(byConcurrency[c]);
    record({
      bench: 'e2e', name: `end to end, ${count} datasets × 3 files, concurrency ${c}`, figure, unit: 'datasets/s',
      baseline: median(bareByConcurrency[c]), baselineName: `bare API calls, ${c} at once`,
      note: c === 1 ? null : `${round(figure / base)}× concurrency 1`,
      runs: { ours: byConcurrency[c].map((x) => round(x)), bare: bareByConcurrency[c].map((x) => round(x)) },
    });
  }
}

async function queueBench(pgdb, jobs) {
  const { startQueue } = await dist('queue/boss.js');
  const ours = [];
  const bare = [];
  for (let i = 0; i < reps; i++) {
    const db = await pgdb.fresh('queue');
    try {
      // pg-boss: one send per job (as a producer would), 4 workers of batch 1 (like sync workers).
      const queue = await startQueue({ connectionString: db.url, log, max: 6 });
      await queue.boss.createQueue('bench-noop', { name: 'bench-noop', policy: 'standard' });
      let completed = 0;
      let allDone;
      const finished = new Promise((r) => (allDone = r));
      const t0 = performance.now();
      for (let k = 0; k < jobs; k++) await queue.boss.send('bench-noop', { k });
      for (let w = 0; w < 4; w++) {
        // Like the daemon's sync workers: look for the next job right after finishing one.
        let id = '';
        id = await queue.boss.work('bench-noop', { batchSize: 1, pollingIntervalSeconds: 0.5 }, async () => {
          if (++completed === jobs) allDone();
          queue.boss.notifyWorker(id);
        });
      }
      await finished;
      // Completion is recorded after the handler returns: wait until pg-boss has written it.
      for (;;) {
        const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'bench-noop' AND state = 'completed'`);
        if (rows[0].n >= jobs) break;
        await delay(20);
      }
      ours.push(jobs / ((performance.now() - t0) / 1000));
      await queue.stop({ graceful: false, timeoutMs: 1000 });

      // Bare SQL queue: the same jobs, one INSERT each, then 4 loops claiming one row at a time.
      await db.pool.query('CREATE TABLE bench_jobs (id bigserial PRIMARY KEY, data jsonb NOT NULL)');
      const t1 = performance.now();
      for (let k = 0; k < jobs; k++) await db.pool.query('INSERT INTO bench_jobs (data) VALUES ($1)', [{ k }]);
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (;;) {
          const { rowCount } = await db.pool.query('DELETE FROM bench_jobs WHERE id = (SELECT id FROM bench_jobs ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING data');
          if (rowCount === 0) break;
        }
      }));
      bare.push(jobs / ((performance.now() - t1) / 1000));
      say(`  run ${i + 1}: pg-boss ${ours.at(-1).toFixed(0)} jobs/s, bare SQL ${bare.at(-1).toFixed(0)} jobs/s`);
    } finally {
      await db.drop();
    }
  }
  record({ bench: 'e2e', name: `queue: ${jobs} no-op jobs sent and completed`, figure: median(ours), unit: 'jobs/s', baseline: median(bare), baselineName: 'bare SQL queue', runs: { ours: ours.map((x) => round(x)), bare: bare.map((x) => round(x)) } });
}

// ----------------------------------------------------------------------------------------- main

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: round(totalmem() / 1024 ** 3, 1),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  loadBefore: loadavg().map((x) => round(x)),
};
try {
  execFileSync('/usr/bin/time', ['-f', '%M', 'true'], { stdio: 'ignore' });
  gnuTime = '/usr/bin/time';
} catch {
  say('(GNU time is not installed: the transfer baseline is shown without its memory; apt-get install time)');
}
try {
  machine.curl = execFileSync('curl', ['--version'], { encoding: 'utf8' }).split('\n')[0];
} catch {
  say('curl is needed for the transfer baseline (apt-get install curl)');
  process.exit(2);
}
say(`ckan-zenodo-sync bench (${quick ? 'quick' : 'full'}, ${reps} run(s) per figure, median) on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}, load ${machine.loadBefore.join(' ')}`);
const started = performance.now();
const pgdb = await database();
say(`database: ${pgdb.kind}`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    say(`${signal}: stopping`);
    void pgdb.stop().finally(() => process.exit(130));
  });
}
let failed = false;
try {
  const sections = [
    ['transfer', async () => {
      for (const size of process.env.BENCH_TRANSFER_MIB ? [Number(process.env.BENCH_TRANSFER_MIB) * MiB] : quick ? [256 * MiB] : [256 * MiB, 2048 * MiB]) await transfer(pgdb, size);
    }],
    ['scan', () => scanBench(pgdb, quick ? 20_000 : 100_000)],
    ['rate', () => rateBench(pgdb, quick ? 100 : 500)],
    ['e2e', async () => {
      await e2eBench(pgdb, quick ? 100 : 1000);
      await queueBench(pgdb, quick ? 2000 : 5000);
    }],
  ];
  for (const [name, fn] of sections) {
    if (!only.has(name)) continue;
    const t = performance.now();
    say(`\n[${name}]`);
    try {
      await fn();
    } catch (error) {
      failed = true;
      notes.push(`${name}: FAILED: ${error.message}`);
      say(`  FAILED: ${error.stack ?? error}`);
    }
    say(`  (${((performance.now() - t) / 1000).toFixed(0)} s)`);
  }
} finally {
  await pgdb.stop();
}
machine.loadAfter = loadavg().map((x) => round(x));
const totalSeconds = round((performance.now() - started) / 1000, 0);

const rows = results.map((r) => [r.name, `${fmt(r.figure)} ${r.unit}`, r.baseline === null ? '' : `${fmt(r.baseline)} (${r.baselineName})`, r.ratio === null ? '' : r.ratio.toFixed(2), r.target ? `${r.target}: ${r.pass ? 'met' : 'MISSED'}` : '', r.note ?? '']);
const head = ['benchmark', 'median', 'baseline', 'ratio (figure / baseline)', 'target', 'note'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
say(`\n${line(head)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) say(line(r));
for (const n of notes) say(`note: ${n}`);
const missed = results.filter((r) => r.pass === false).map((r) => r.name);
say(missed.length ? `targets MISSED: ${missed.join('; ')}` : 'all targets met');
say(`total ${totalSeconds} s; load average before ${machine.loadBefore.join(' ')}, after ${machine.loadAfter.join(' ')}`);
await writeFile(join(import.meta.dirname, 'results.json'), `${JSON.stringify({ mode: quick ? 'quick' : 'full', reps, date: new Date().toISOString(), machine, database: pgdb.kind, totalSeconds, results, notes }, null, 2)}\n`);
say('wrote bench/results.json');
process.exit(failed ? 1 : 0);
