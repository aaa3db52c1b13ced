/**
 * Database faults are ordinary: PostgreSQL restarted under a running `ckan-zenodo-sync run`
 * (during a scan, mid-upload, mid-publish) or ending its idle sessions (`idle_session_timeout`)
 * must not end the daemon. It keeps running, answers 503 on /readyz while the database is away,
 * reconnects, and every dataset still ends with exactly one published version and one mail.
 *
 * The server is the test's own throw-away PostgreSQL (restartable-postgres.ts): the shared test
 * server is never restarted. Each test gets a database of its own on it.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { createPool, ensureDatabase, withTransaction } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { insertOutbox } from '../../src/db/outbox-queries.js';
import { silentLogger } from '../../src/log.js';
import { createMailer } from '../../src/notify/mailer.js';
import { drainOutbox } from '../../src/notify/outbox-worker.js';
import { buildOutboxRows } from '../../src/notify/payload.js';
import { generatedBytes } from '../../src/emulators/ckan/content.js';
import { seededRandom } from '../../src/emulators/faults.js';
import { startCkanEmulator, type CkanEmulator } from '../../src/emulators/ckan/server.js';
import { startSmtpCapture, type SmtpCapture } from '../../src/emulators/smtp.js';
import { startZenodoEmulator, type ZenodoEmulator } from '../../src/emulators/zenodo/server.js';
import { startRestartablePostgres, type RestartablePostgres } from '../support/restartable-postgres.js';
import { taggedDataset } from '../support/stack.js';
import { HTTP_TOKEN, requireDist, startRun, terminate, waitFor, writeSettings, type RunProcess } from '../daemon/process.js';

let server: RestartablePostgres;
let dir: string;
let ckan: CkanEmulator;
let zenodo: ZenodoEmulator;
let smtp: SmtpCapture;
const running: RunProcess[] = [];
const pools: pg.Pool[] = [];
let databases = 0;

beforeAll(async () => {
  requireDist();
  server = await startRestartablePostgres();
  dir = await mkdtemp(join(tmpdir(), 'czs-db-restart-'));
  zenodo = await startZenodoEmulator({ rateLimit: false });
  smtp = await startSmtpCapture({});
}, 120_000);

// A CKAN of its own per test: a daemon scans all of CKAN at start-up, and would archive the
// datasets of the tests before it again into its fresh database.
beforeEach(async () => {
  ckan = await startCkanEmulator();
});

afterEach(async () => {
  for (const p of running.splice(0)) await terminate(p, 10_000);
  for (const pool of pools.splice(0)) await pool.end();
  zenodo.setFaults([]);
  await ckan.close();
});

afterAll(async () => {
  await smtp?.stop();
  await zenodo?.close();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Setup {
  url: string;
  pool: pg.Pool;
  proc: RunProcess;
  httpUrl: string;
}

/** A fresh database on the restartable server and a `run` process against it. */
async function startDaemonOn(url: string, name: string, extra: Parameters<typeof writeSettings>[2] = {}): Promise<Setup> {
  const files = await writeSettings({ ckan, zenodo, smtp, db: { url } }, join(dir, name), { scan: '*/2 * * * * *', ...extra });
  const proc = startRun(files);
  running.push(proc);
  // The test's own view of the database: a pool like the daemon's, which survives the restarts.
  const pool = createPool(url, { poolSize: 2 });
  pools.push(pool);
  const httpUrl = await proc.httpUrl();
  return { url, pool, proc, httpUrl };
}

async function freshDatabase(): Promise<string> {
  const name = `restart_${++databases}`;
  await ensureDatabase(server.url('postgres'), name);
  return server.url(name);
}

async function readyz(httpUrl: string): Promise<number> {
  const response = await fetch(`${httpUrl}/readyz`);
  await response.arrayBuffer();
  return response.status;
}

/**
 * Stops the server, checks the daemon says "not ready" while it is down, starts it again, and
 * waits until the daemon says "ready" again.
 */
async function restart(setup: Setup): Promise<void> {
  await server.stop();
  try {
    expect(alive(setup.proc), setup.proc.stderr()).toBe(true);
    expect(await readyz(setup.httpUrl)).toBe(503);
  } finally {
    await server.start();
  }
  await waitFor(async () => (await readyz(setup.httpUrl)) === 200, { what: '/readyz to answer 200 after the restart', process: setup.proc });
}

function alive(proc: RunProcess): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

/** Query that tolerates the moments when the server is down (the pool reconnects afterwards). */
async function query<T extends pg.QueryResultRow>(pool: pg.Pool, text: string, values: unknown[] = []): Promise<T[] | undefined> {
  try {
    return (await pool.query<T>(text, values)).rows;
  } catch {
    return undefined;
  }
}

async function syncStates(pool: pg.Pool, datasetId: string): Promise<string[]> {
  const rows = await query<{ state: string }>(pool, 'SELECT state FROM sync_runs WHERE dataset_id = $1 ORDER BY id', [datasetId]);
  return (rows ?? []).map((r) => r.state);
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

/**
 * What a user checks afterwards: one published version per dataset, holding CKAN's bytes, no
 * draft left open, one mail to each dataset's owner, and the daemon still running.
 */
async function expectArchivedOnce(setup: Setup, datasets: Record<string, unknown>[]): Promise<void> {
  for (const d of datasets) {
    const id = d.id as string;
    await waitFor(async () => (await syncStates(setup.pool, id)).includes('done'), { what: `the sync of ${d.name as string} to finish`, timeoutMs: 45_000, process: setup.proc });
  }
  await waitFor(() => datasets.every((d) => smtp.messages.some((m) => m.envelope.to.includes(`${d.name as string}@owners.test`))), {
    what: 'a mail to each owner',
    process: setup.proc,
  });
  for (const d of datasets) {
    const id = d.id as string;
    const links = await setup.pool.query<{ concept_recid: string }>('SELECT concept_recid FROM links WHERE dataset_id = $1', [id]);
    const records = zenodo.state.records.filter((r) => r.conceptrecid === links.rows[0]?.concept_recid);
    expect(records, `published versions of ${d.name as string}`).toHaveLength(1);
    for (const r of d.resources as { id: string; name: string; size: number }[]) {
      const file = records[0]!.files.find((f) => f.key === r.name);
      expect(file?.md5, `${d.name as string}/${r.name}`).toBe(md5(generatedBytes(r.id, r.size)));
      expect(md5(await readFile(file!.path))).toBe(file!.md5);
    }
    expect(await syncStates(setup.pool, id), `syncs of ${d.name as string}`).toEqual(['done']);
    expect(smtp.messages.filter((m) => m.envelope.to.includes(`${d.name as string}@owners.test`)), `mails to the owner of ${d.name as string}`).toHaveLength(1);
  }
  expect(zenodo.state.depositions.filter((x) => x.state !== 'done'), 'drafts left open').toEqual([]);
  expect(alive(setup.proc), setup.proc.stderr()).toBe(true);
  expect(setup.proc.stderr()).not.toMatch(/Unhandled|uncaught/i);
  expect(await readyz(setup.httpUrl)).toBe(200);
}

/** Log lines of the daemon saying a sync was interrupted by the database and will be resumed. */
function interruptedSyncs(proc: RunProcess): number {
  return proc.lines.filter((l) => l.msg === 'database unavailable during a sync; resuming from the last recorded step when it is back').length;
}

test('a restart during a scan: the daemon stays up, the next scan resumes, every dataset archived once', async () => {
  const datasets = ['scan-a', 'scan-b', 'scan-c', 'scan-d', 'scan-e', 'scan-f'].map((n) => taggedDataset(`restart-${n}`, [1500, 300]));
  // Slow pages: the scan at start-up spends seconds between its page transactions.
  ckan.setFaults([{ route: 'package_search', kind: 'slow', probability: 1, delayMs: 600 }]);
  for (const d of datasets) ckan.addDataset(d);
  const setup = await startDaemonOn(await freshDatabase(), 'scan', { pageSize: 2 });

  const ids = datasets.map((d) => d.id as string);
  const seenMidScan = await waitFor(
    async () => {
      const rows = await query<{ n: number }>(setup.pool, 'SELECT count(*)::int AS n FROM datasets WHERE dataset_id = ANY($1)', [ids]);
      const n = rows?.[0]?.n ?? 0;
      return n > 0 && n < ids.length ? n : undefined;
    },
    { what: 'the scan to have committed its first page only', process: setup.proc },
  );
  await restart(setup);
  ckan.setFaults([]);

  expect(seenMidScan).toBeLessThan(ids.length);
  await expectArchivedOnce(setup, datasets);
}, 60_000);

test('a restart mid-upload: the sync stops (its lock is gone), resumes from its last step, one version', async () => {
  const setup = await startDaemonOn(await freshDatabase(), 'upload', { scan: '0 0 1 1 *' });
  const dataset = taggedDataset('restart-upload', [40_000, 2500]);
  // The first upload is held for 3 s at Zenodo: the restart happens while it is in flight.
  zenodo.setFaults([{ route: 'upload', kind: 'slow', probability: 1, count: 1, delayMs: 3000 }]);
  ckan.addDataset(dataset);
  await fetch(`${setup.httpUrl}/api/datasets/${dataset.id as string}/sync`, { method: 'POST', headers: { Authorization: `Bearer ${HTTP_TOKEN}` } }).then((r) => r.arrayBuffer());

  await waitFor(async () => (await syncStates(setup.pool, dataset.id as string)).includes('draft_open') || undefined, { what: 'the draft to be open', process: setup.proc });
  await restart(setup);

  await expectArchivedOnce(setup, [dataset]);
  // The sync noticed its lock was gone and resumed instead of recording the upload unprotected.
  expect(interruptedSyncs(setup.proc)).toBeGreaterThan(0);
}, 60_000);

test('a restart mid-publish: the published version is recorded once, never published twice', async () => {
  const setup = await startDaemonOn(await freshDatabase(), 'publish', { scan: '0 0 1 1 *' });
  const dataset = taggedDataset('restart-publish', [3000]);
  zenodo.setFaults([{ route: 'publish', kind: 'slow', probability: 1, count: 1, delayMs: 3000 }]);
  ckan.addDataset(dataset);
  await fetch(`${setup.httpUrl}/api/datasets/${dataset.id as string}/sync`, { method: 'POST', headers: { Authorization: `Bearer ${HTTP_TOKEN}` } }).then((r) => r.arrayBuffer());

  await waitFor(async () => (await syncStates(setup.pool, dataset.id as string)).includes('metadata_set') || undefined, { what: 'the metadata to be set', process: setup.proc });
  await restart(setup);

  await expectArchivedOnce(setup, [dataset]);
  expect(interruptedSyncs(setup.proc)).toBeGreaterThan(0);
}, 60_000);

test('idle_session_timeout on the role: idle sessions ended by the server crash nothing, long syncs keep their lock', async () => {
  await server.sql('postgres', `CREATE ROLE czs_idle LOGIN PASSWORD 'idle-role-password'`);
  await server.sql('postgres', `ALTER ROLE czs_idle SET idle_session_timeout = '1s'`);
  await server.sql('postgres', 'CREATE DATABASE restart_idle OWNER czs_idle');
  const url = new URL(server.url('restart_idle'));
  url.username = 'czs_idle';
  url.password = 'idle-role-password';
  const setup = await startDaemonOn(url.toString(), 'idle');

  // The server has ended idle sessions of the daemon (its pool's and the queue's) by now.
  await waitFor(() => setup.proc.lines.some((l) => l.msg === 'idle database connection lost' || l.msg === 'queue lost its database connection; it reconnects on its next query'), {
    what: 'the server to end an idle session of the daemon',
    process: setup.proc,
  });
  expect(alive(setup.proc), setup.proc.stderr()).toBe(true);

  // A sync idle on its lock session for longer than the timeout (a held upload) keeps the lock.
  zenodo.setFaults([{ route: 'upload', kind: 'slow', probability: 1, count: 1, delayMs: 2500 }]);
  const dataset = taggedDataset('restart-idle', [5000, 700]);
  ckan.addDataset(dataset);
  await expectArchivedOnce(setup, [dataset]);
  expect(interruptedSyncs(setup.proc)).toBe(0);
}, 60_000);

test('restarts at random moments over many changes: exactly one version per change, one mail per version', async () => {
  const ROUNDS = 5;
  const random = seededRandom(20261207);
  const datasets = ['many-a', 'many-b', 'many-c'].map((n) => taggedDataset(`restart-${n}`, [2000, 30_000]));
  const content = new Map<string, Buffer>();
  for (const d of datasets) {
    ckan.addDataset(d);
    for (const r of d.resources as { id: string; size: number }[]) content.set(r.id, generatedBytes(r.id, r.size));
  }
  // A scan every two seconds picks each change up; uploads take a little while, so that restarts
  // land in syncs as often as between them.
  zenodo.setFaults([{ route: 'upload', kind: 'slow', probability: 0.5, delayMs: 400 }]);
  const setup = await startDaemonOn(await freshDatabase(), 'many');

  const versions = async (d: Record<string, unknown>): Promise<number> => {
    const links = await query<{ concept_recid: string }>(setup.pool, 'SELECT concept_recid FROM links WHERE dataset_id = $1', [d.id]);
    const concept = links?.[0]?.concept_recid;
    return concept === undefined ? 0 : zenodo.state.records.filter((r) => r.conceptrecid === concept).length;
  };
  const settled = async (expected: number): Promise<boolean> => {
    for (const d of datasets) if ((await versions(d)) < expected) return false;
    const open = await query(setup.pool, `SELECT id FROM sync_runs WHERE state NOT IN ('done', 'unchanged', 'failed')`);
    return open !== undefined && open.length === 0;
  };

  for (let round = 0; round <= ROUNDS; round++) {
    if (round > 0) {
      // One change per dataset: a resource's bytes change in CKAN.
      for (const d of datasets) {
        const r = (d.resources as { id: string }[])[round % 2]!;
        const bytes = Buffer.from(`round ${round} of ${d.name as string}: ${random()}\n`.repeat(200 + round * 50));
        ckan.setResourceContent(r.id, bytes);
        content.set(r.id, bytes);
      }
    }
    // A random moment: before the scan noticed, mid-sync, or after. Not a synchronisation: the
    // assertions below wait for conditions.
    await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 3000)));
    await restart(setup);
    await waitFor(() => settled(round + 1), { what: `every dataset at ${round + 1} version(s) after round ${round}`, timeoutMs: 45_000, process: setup.proc });
  }

  for (const d of datasets) {
    expect(await versions(d), `versions of ${d.name as string}`).toBe(ROUNDS + 1);
    const links = await setup.pool.query<{ concept_recid: string }>('SELECT concept_recid FROM links WHERE dataset_id = $1', [d.id]);
    const latest = zenodo.state.records.filter((r) => r.conceptrecid === links.rows[0]!.concept_recid).sort((a, b) => a.id - b.id).at(-1)!;
    for (const r of d.resources as { id: string; name: string }[]) {
      expect(latest.files.find((f) => f.key === r.name)?.md5, `${d.name as string}/${r.name}`).toBe(md5(content.get(r.id)!));
    }
  }
  await waitFor(() => datasets.every((d) => smtp.messages.filter((m) => m.envelope.to.includes(`${d.name as string}@owners.test`)).length >= ROUNDS + 1), {
    what: 'a mail per version to each owner',
    process: setup.proc,
  });
  for (const d of datasets) {
    expect(smtp.messages.filter((m) => m.envelope.to.includes(`${d.name as string}@owners.test`)), `mails to the owner of ${d.name as string}`).toHaveLength(ROUNDS + 1);
  }
  expect(zenodo.state.depositions.filter((x) => x.state !== 'done'), 'drafts left open').toEqual([]);
  expect(alive(setup.proc), setup.proc.stderr()).toBe(true);
  expect(setup.proc.stderr()).not.toMatch(/Unhandled|uncaught/i);
  expect(server.starts).toBeGreaterThan(ROUNDS);
  // Some restarts did land mid-sync (a run that only restarted between syncs would prove little).
  expect(interruptedSyncs(setup.proc)).toBeGreaterThan(0);
}, 120_000);

test('a mail accepted by SMTP while the database restarts is recorded once it is back, and never sent twice', async () => {
  const url = await freshDatabase();
  const pool = createPool(url, { poolSize: 2 });
  pools.push(pool);
  await migrate({ pool }, silentLogger());
  const { rows: sync } = await pool.query<{ id: string }>(`INSERT INTO sync_runs (dataset_id, trigger, state, kind, plan) VALUES ('d-mail', 'test', 'planned', 'new_version', '{}'::jsonb) RETURNING id`);
  const syncId = Number(sync[0]!.id);
  const rows = buildOutboxRows({
    kind: 'new_version',
    facts: {
      syncId,
      dataset: { id: 'd-mail', name: 'restart-mail', title: 'Sea surface temperature', url: 'https://ckan.example.org/dataset/restart-mail' },
      rule: 'tagged',
      version: { doi: '10.5281/zenodo.124', conceptDoi: '10.5281/zenodo.100', recordUrl: 'https://zenodo.org/records/124', label: '2024-05' },
      changes: { added: ['a.csv'], replaced: [], removed: [] },
    },
    owners: ['restart-mail@owners.test'],
    admin: undefined,
    warnings: [],
  });
  await withTransaction(pool, (client) => insertOutbox(client, rows));
  const mailer = createMailer({ smtpUrl: smtp.url, from: 'Archive <archive@portal.test>', log: silentLogger() });
  try {
    const drain = () => drainOutbox({ db: { pool }, mailer, log: silentLogger() });
    let restarting: Promise<void> | undefined;
    // Right after SMTP accepted the mail, before it is marked sent: the server goes down and comes back.
    let first;
    try {
      first = await drainOutbox({
        db: { pool },
        mailer,
        log: silentLogger(),
        afterSend: async () => {
          await server.stop();
          restarting = server.start();
        },
      });
    } finally {
      await restarting;
    }
    expect(first.sent).toBe(1);
    const { rows: status } = await pool.query<{ status: string }>('SELECT status FROM mail_outbox');
    expect(status).toEqual([{ status: 'sent' }]);
    // Nothing is due any more, now or once the lease would have run out.
    expect((await drain()).sent).toBe(0);
    expect(smtp.messages.filter((m) => m.envelope.to.includes('restart-mail@owners.test'))).toHaveLength(1);
  } finally {
    mailer.close();
  }
});
