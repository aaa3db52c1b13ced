import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { createPool } from '../../src/db/database.js';
import { createStatusQueries } from '../../src/db/status-queries.js';
import { createSessionQueries } from '../../src/db/session-queries.js';
import { startHttpServer, type HttpConfig, type HttpServer, type TriggerResult } from '../../src/http/server.js';
import { renderPrometheus } from '../../src/http/metrics.js';
import { AppError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { MetricsSnapshot } from '../../src/metrics.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { parsePrometheus } from './prometheus.js';
import { HOSTILE_TITLE, SEED, seedArchive } from './seed.js';

const TOKEN = 'op-token-7f3a9c1e5b2d4f60';
const PROCESS_METRICS: MetricsSnapshot = {
  scans: {},
  lastScan: undefined,
  syncs: {},
  zenodoResponses: { '2xx': 41, '4xx': 3 },
  zenodoRateLimited: 2,
  bytesUploaded: 0,
};

/** Every response body and header seen by this file: none may contain the token or the DB URL. */
const transcript: string[] = [];

let db: TestDatabase;
const servers: HttpServer[] = [];

interface FakeTrigger {
  calls: string[];
  fn(id: string): Promise<TriggerResult>;
}

/** Dedupes like the stately queue: one queued job per dataset until `reset`. */
function fakeTrigger(): FakeTrigger {
  const queued = new Set<string>();
  const calls: string[] = [];
  return {
    calls,
    fn(id) {
      calls.push(id);
      if (id === 'no-such-dataset') return Promise.reject(new AppError('CKAN_NOT_FOUND', 'package_show: not found'));
      if (id === 'explodes') return Promise.reject(new Error(`connect failed for ${db.url}`));
      if (queued.has(id)) return Promise.resolve({ queued: false, reason: 'a sync of this dataset is already queued' });
      queued.add(id);
      return Promise.resolve({ queued: true, jobId: `job-${queued.size}` });
    },
  };
}

async function start(overrides: Partial<HttpConfig> = {}, database: TestDatabase = db, trigger = fakeTrigger()): Promise<{ url: string; trigger: FakeTrigger }> {
  const server = await startHttpServer({
    status: createStatusQueries(database.pool),
    sessions: createSessionQueries(database.pool),
    triggerSync: (id) => trigger.fn(id),
    metrics: () => Promise.resolve(PROCESS_METRICS),
    config: { listen: '127.0.0.1:0', token: TOKEN, publicStatus: false, ckanUrl: 'https://ckan.example.org', scanCron: '*/15 * * * *', ...overrides },
    log: silentLogger(),
  });
  servers.push(server);
  return { url: server.url, trigger };
}

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const text = await response.text();
  transcript.push(text, JSON.stringify([...response.headers]));
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) as unknown };
}

const auth = { Authorization: `Bearer ${TOKEN}` };

let privateServer: { url: string; trigger: FakeTrigger };

beforeAll(async () => {
  db = await createTestDatabase();
  await seedArchive(db);
  privateServer = await start();
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await db.drop();
  const joined = transcript.join('\n');
  expect(joined).not.toContain(TOKEN);
  expect(joined).not.toContain(new URL(db.url).password || '\u0000none');
});

describe('/healthz', () => {
  it('is 200 with the last scan when the database answers', async () => {
    const r = await call(`${privateServer.url}/healthz`);
    expect(r.status).toBe(200);
    const body = r.json() as { status: string; lastScan: { status: string; ageSeconds: number } };
    expect(body.status).toBe('ok');
    expect(body.lastScan.status).toBe('done');
    expect(body.lastScan.ageSeconds).toBeGreaterThan(0);
  });

  it('is 503 when the database cannot be reached, without leaking its URL', async () => {
    const pool = createPool(db.url, { poolSize: 1 });
    await pool.end();
    const server = await startHttpServer({
      status: createStatusQueries(pool),
      sessions: createSessionQueries(pool),
      triggerSync: () => Promise.resolve({ queued: true }),
      metrics: () => Promise.resolve(PROCESS_METRICS),
      config: { listen: '127.0.0.1:0', token: TOKEN, publicStatus: false, ckanUrl: 'https://ckan.example.org', scanCron: '*/15 * * * *' },
      log: silentLogger(),
    });
    servers.push(server);
    const r = await call(`${server.url}/healthz`);
    expect(r.status).toBe(503);
    expect(r.json()).toMatchObject({ status: 'unavailable', reason: 'database unreachable' });
    expect(r.text).not.toContain('127.0.0.1:');
    // Pages that need the database say so without a stack or SQL.
    const page = await call(`${server.url}/api/status`, { headers: auth });
    expect(page.status).toBe(500);
    expect(page.json()).toEqual({ error: 'internal error; see the daemon log' });
  });

  it('is 503 when no scan has succeeded for two cron intervals', async () => {
    const stale = await createTestDatabase();
    try {
      await stale.pool.query(
        `INSERT INTO scan_runs (source, kind, status, started_at, finished_at) VALUES ('ckan', 'scan', 'done', now() - interval '2 days', now() - interval '2 days')`,
      );
      const { url } = await start({}, stale);
      const r = await call(`${url}/healthz`);
      expect(r.status).toBe(503);
      expect((r.json() as { reason: string }).reason).toMatch(/^no successful scan for \d+ min \(expected every 15 min\)$/);
    } finally {
      await stale.drop();
    }
  });

  it('on a fresh install, turns 503 when no scan has succeeded within two intervals of the start', async () => {
    const fresh = await createTestDatabase();
    try {
      let clock = Date.now();
      const server = await startHttpServer({
        status: createStatusQueries(fresh.pool),
        sessions: createSessionQueries(fresh.pool),
        triggerSync: () => Promise.resolve({ queued: true }),
        metrics: () => Promise.resolve(PROCESS_METRICS),
        config: { listen: '127.0.0.1:0', token: TOKEN, publicStatus: false, ckanUrl: 'https://ckan.example.org', scanCron: '*/15 * * * *' },
        log: silentLogger(),
        now: () => clock,
      });
      servers.push(server);
      expect((await call(`${server.url}/healthz`)).status).toBe(200);
      clock += 29 * 60_000;
      expect((await call(`${server.url}/healthz`)).status).toBe(200);
      clock += 2 * 60_000;
      const r = await call(`${server.url}/healthz`);
      expect(r.status).toBe(503);
      expect((r.json() as { reason: string }).reason).toBe('no successful scan since the daemon started 31 min ago (expected every 15 min)');
    } finally {
      await fresh.drop();
    }
  });

  it('is 503 when mail due for over an hour has not gone out, 200 once it is sent', async () => {
    const stuck = await createTestDatabase();
    try {
      await stuck.pool.query(`INSERT INTO scan_runs (source, kind, status, started_at, finished_at) VALUES ('ckan', 'scan', 'done', now() - interval '2 minutes', now() - interval '1 minute')`);
      const { rows } = await stuck.pool.query<{ id: string }>(
        `INSERT INTO mail_outbox (recipient, kind, status, attempts, next_attempt_at) VALUES ('owner@example.org', 'new_version', 'pending', 3, now() - interval '2 hours') RETURNING id`,
      );
      const { url } = await start({}, stuck);
      const r = await call(`${url}/healthz`);
      expect(r.status).toBe(503);
      expect((r.json() as { reason: string }).reason).toMatch(/^mail due for 12\d min has not been sent/);
      await stuck.pool.query(`UPDATE mail_outbox SET status = 'sent', sent_at = now() WHERE id = $1`, [rows[0]!.id]);
      expect((await call(`${url}/healthz`)).status).toBe(200);
    } finally {
      await stuck.drop();
    }
  });
});

describe('/livez', () => {
  it('is 200 even when the database is gone', async () => {
    const pool = createPool(db.url, { poolSize: 1 });
    await pool.end();
    const server = await startHttpServer({
      status: createStatusQueries(pool),
      sessions: createSessionQueries(pool),
      triggerSync: () => Promise.resolve({ queued: true }),
      metrics: () => Promise.resolve(PROCESS_METRICS),
      config: { listen: '127.0.0.1:0', token: TOKEN, publicStatus: false, ckanUrl: 'https://ckan.example.org', scanCron: '*/15 * * * *' },
      log: silentLogger(),
    });
    servers.push(server);
    const r = await call(`${server.url}/livez`);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ status: 'alive' });
    expect((await call(`${server.url}/healthz`)).status).toBe(503);
  });
});

describe('/metrics', () => {
  it('serves valid Prometheus text with the named metrics', async () => {
    const r = await call(`${privateServer.url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheus(r.text);
    const sample = (name: string, labels: Record<string, string> = {}): number | undefined =>
      families.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    for (const f of families.values()) expect(f.help, f.name).toBeTruthy();
    expect(sample('ckan_zenodo_sync_scans_total', { kind: 'scan', outcome: 'done' })).toBe(1);
    expect(sample('ckan_zenodo_sync_last_scan_datasets_seen')).toBe(120);
    expect(sample('ckan_zenodo_sync_last_scan_datasets_selected')).toBe(4);
    expect(sample('ckan_zenodo_sync_syncs_total', { outcome: 'done' })).toBe(5);
    expect(sample('ckan_zenodo_sync_syncs_total', { outcome: 'failed' })).toBe(1);
    expect(sample('ckan_zenodo_sync_uploaded_bytes_total')).toBe(1_200_000 + 52_000_000 + 1_450_000 + 2_048 + 10 + 99 + 5);
    expect(sample('ckan_zenodo_sync_zenodo_requests_total', { code: '2xx' })).toBe(41);
    expect(sample('ckan_zenodo_sync_zenodo_rate_limited_total')).toBe(2);
    expect(sample('ckan_zenodo_sync_mail_outbox', { status: 'sent' })).toBe(1);
    expect(sample('ckan_zenodo_sync_mail_outbox', { status: 'pending' })).toBe(1);
    expect(families.get('ckan_zenodo_sync_queue_jobs')?.type).toBe('gauge');
    expect(families.get('ckan_zenodo_sync_syncs_total')?.type).toBe('counter');
  });

  it('answers while PostgreSQL is unreachable: last known counters, no database gauges, database_up 0', async () => {
    const gone = await createTestDatabase();
    await gone.pool.query(
      `INSERT INTO scan_runs (source, kind, status, started_at, finished_at) VALUES ('ckan', 'scan', 'done', now() - interval '2 minutes', now() - interval '1 minute')`,
    );
    // The server's own pool, as in the daemon; dropping the database kills its connections.
    const pool = createPool(gone.url, { poolSize: 2 });
    const server = await startHttpServer({
      status: createStatusQueries(pool),
      sessions: createSessionQueries(pool),
      triggerSync: () => Promise.resolve({ queued: true }),
      metrics: () => Promise.resolve(PROCESS_METRICS),
      config: { listen: '127.0.0.1:0', token: TOKEN, publicStatus: false, ckanUrl: 'https://ckan.example.org', scanCron: '*/15 * * * *' },
      log: silentLogger(),
    });
    servers.push(server);
    try {
      const up = parsePrometheus((await call(`${server.url}/metrics`)).text);
      expect(up.get('ckan_zenodo_sync_database_up')?.samples[0]?.value).toBe(1);
      expect(up.get('ckan_zenodo_sync_scans_total')?.samples.map((s) => [s.labels, s.value])).toEqual([[{ kind: 'scan', outcome: 'done' }, 1]]);
      expect(up.get('ckan_zenodo_sync_links')).toBeDefined();

      await gone.drop();
      const r = await call(`${server.url}/metrics`);
      expect(r.status).toBe(200);
      const down = parsePrometheus(r.text);
      expect(down.get('ckan_zenodo_sync_database_up')?.samples[0]?.value).toBe(0);
      expect(down.get('ckan_zenodo_sync_scans_total')?.samples.map((s) => [s.labels, s.value])).toEqual([[{ kind: 'scan', outcome: 'done' }, 1]]);
      expect(down.get('ckan_zenodo_sync_links')).toBeUndefined();
      expect(down.get('ckan_zenodo_sync_last_successful_scan_timestamp_seconds')).toBeUndefined();
      expect(down.get('process_resident_memory_bytes')?.samples[0]?.value).toBeGreaterThan(0);
      // What only this process counts is still current.
      expect(down.get('ckan_zenodo_sync_zenodo_requests_total')?.samples.find((s) => s.labels.code === '2xx')?.value).toBe(41);
      expect(r.text).not.toContain(gone.name);
    } finally {
      await pool.end().catch(() => undefined);
      await gone.drop();
    }
  });

  it('counts only finished scans in scans_total; running ones are a gauge', async () => {
    const fresh = await createTestDatabase();
    try {
      await fresh.pool.query(`INSERT INTO scan_runs (source, kind, status) VALUES ('ckan', 'scan', 'running')`);
      const { url } = await start({}, fresh);
      const families = parsePrometheus((await call(`${url}/metrics`)).text);
      expect(families.get('ckan_zenodo_sync_scans_total')?.samples).toEqual([]);
      expect(families.get('ckan_zenodo_sync_scans_running')?.samples.find((s) => s.labels.kind === 'scan')?.value).toBe(1);
    } finally {
      await fresh.drop();
    }
  });

  it('exposes process figures and the build', async () => {
    const families = parsePrometheus((await call(`${privateServer.url}/metrics`)).text);
    for (const name of ['process_resident_memory_bytes', 'process_heap_bytes', 'process_cpu_seconds_total', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds']) {
      expect(families.get(name)?.samples[0]?.value, name).toBeGreaterThanOrEqual(0);
    }
    expect(families.get('process_start_time_seconds')?.samples[0]?.value).toBeGreaterThan(1.7e9);
    const build = families.get('ckan_zenodo_sync_build_info')?.samples[0];
    expect(build?.value).toBe(1);
    expect(build?.labels.node).toBe(process.version);
    expect(build?.labels.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('escapes label values and help text so a hostile value cannot break the exposition', () => {
    const text = renderPrometheus([
      { name: 'x_total', help: 'line one\nback\\slash', type: 'counter', samples: [{ labels: { v: 'a"b\\c\nd}{,=' }, value: 3 }] },
    ]);
    const families = parsePrometheus(text);
    expect(families.get('x_total')?.help).toBe('line one\nback\\slash');
    expect(families.get('x_total')?.samples[0]?.labels.v).toBe('a"b\\c\nd}{,=');
  });
});

describe('POST /api/datasets/:id/sync', () => {
  it('refuses without a token and queues nothing', async () => {
    const { url, trigger } = await start();
    const r = await call(`${url}/api/datasets/${SEED.ocean.id}/sync`, { method: 'POST' });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    expect(trigger.calls).toEqual([]);
  });

  it('refuses a wrong token (and the session cookie value) and queues nothing', async () => {
    const { url, trigger } = await start();
    for (const header of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer ', TOKEN, `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`]) {
      const r = await call(`${url}/api/datasets/${SEED.ocean.id}/sync`, { method: 'POST', headers: { Authorization: header } });
      expect(r.status, header).toBe(401);
    }
    expect(trigger.calls).toEqual([]);
  });

  it('queues with the right token: 202 and triggerSync called once', async () => {
    const { url, trigger } = await start();
    const r = await call(`${url}/api/datasets/${SEED.ocean.name}/sync`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(202);
    expect(r.json()).toEqual({ queued: true, jobId: 'job-1' });
    expect(trigger.calls).toEqual([SEED.ocean.name]);
  });

  it('is 503 and says how to enable it when no token is configured', async () => {
    const { url, trigger } = await start({ token: undefined });
    const r = await call(`${url}/api/datasets/${SEED.ocean.id}/sync`, { method: 'POST', headers: { Authorization: 'Bearer anything' } });
    expect(r.status).toBe(503);
    expect((r.json() as { error: string }).error).toContain('set [http] token to enable');
    expect(trigger.calls).toEqual([]);
  });

  it('answers each of 50 concurrent requests for one dataset; the queue dedupes', async () => {
    const { url, trigger } = await start();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => call(`${url}/api/datasets/${SEED.ocean.id}/sync`, { method: 'POST', headers: auth })),
    );
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 50 }, () => 202));
    const bodies = results.map((r) => r.json() as { queued: boolean });
    expect(bodies.filter((b) => b.queued)).toHaveLength(1);
    expect(trigger.calls).toHaveLength(50);
    expect((await call(`${url}/healthz`)).status).toBe(200);
  });

  it('maps a dataset CKAN does not know to 404 and an unexpected failure to a generic 500', async () => {
    const { url } = await start();
    const missing = await call(`${url}/api/datasets/no-such-dataset/sync`, { method: 'POST', headers: auth });
    expect(missing.status).toBe(404);
    const broken = await call(`${url}/api/datasets/explodes/sync`, { method: 'POST', headers: auth });
    expect(broken.status).toBe(500);
    expect(broken.text).not.toContain('connect failed');
  });
});

describe('hostile requests never crash the server', () => {
  it('413 for an oversized body, 400 for malformed JSON, 404 and 405 as JSON; still answering', async () => {
    const { url, trigger } = await start();
    const big = await call(`${url}/api/datasets/${SEED.ocean.id}/sync`, { method: 'POST', headers: auth, body: 'x'.repeat(1024 * 1024) });
    expect(big.status).toBe(413);
    const bad = await call(`${url}/api/datasets/${SEED.ocean.id}/sync`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: '{"a":' });
    expect(bad.status).toBe(400);
    expect(bad.json()).toEqual({ error: 'malformed JSON body' });
    const notObject = await call(`${url}/api/datasets/${SEED.ocean.id}/sync`, { method: 'POST', headers: auth, body: '[1]' });
    expect(notObject.status).toBe(400);
    expect(trigger.calls).toEqual([]);

    const unknown = await call(`${url}/nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toEqual({ error: 'not found' });
    const wrongMethod = await call(`${url}/api/datasets/x/sync`, { headers: auth });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    const del = await call(`${url}/healthz`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    const badPath = await call(`${url}/api/datasets/%E0%A4%A/sync`, { method: 'POST', headers: auth });
    expect(badPath.status).toBe(400);

    // Garbage on the wire gets a 400 from the HTTP parser, not a crash.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write('GARBAGE \u0000\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);

    expect((await call(`${url}/healthz`)).status).toBe(200);
  });
});

describe('read access', () => {
  it('with public_status off, the API and pages need the token (Bearer or the signed-in cookie)', async () => {
    const { url } = await start();
    expect((await call(`${url}/api/status`)).status).toBe(401);
    expect((await call(`${url}/api/datasets/${SEED.ocean.id}`)).status).toBe(401);
    const page = await call(`${url}/`);
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login');
    expect((await call(`${url}/api/status`, { headers: auth })).status).toBe(200);

    const wrong = await call(`${url}/login`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'token=nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const login = await call(`${url}/login`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: TOKEN }).toString() });
    expect(login.status).toBe(303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/^czs_session=/);
    expect(login.headers.get('set-cookie')).toContain('HttpOnly');
    const signedIn = await call(`${url}/`, { headers: { Cookie: cookie } });
    expect(signedIn.status).toBe(200);
    expect(signedIn.text).toContain(SEED.ocean.title);
    // The cookie only reads; it does not queue syncs.
    const viaCookie = await call(`${url}/api/datasets/${SEED.ocean.id}/sync`, { method: 'POST', headers: { Cookie: cookie } });
    expect(viaCookie.status).toBe(401);
  });

  it('with no token and public_status off, pages say how to enable them', async () => {
    const { url } = await start({ token: undefined });
    const api = await call(`${url}/api/status`);
    expect(api.status).toBe(503);
    expect(api.text).toContain('set [http] token');
    const page = await call(`${url}/`);
    expect(page.status).toBe(503);
    expect(page.text).toContain('public_status = true');
  });

  it('with public_status on, pages and the API are open, and carry the security headers', async () => {
    const { url } = await start({ publicStatus: true });
    const r = await call(`${url}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; form-action 'self'; img-src data:",
    );
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await call(`${url}/api/status`)).status).toBe(200);
  });
});

describe('status content', () => {
  it('/api/status lists the last scans, failures with advice and recent versions with DOIs', async () => {
    const r = await call(`${privateServer.url}/api/status`, { headers: auth });
    const body = r.json() as {
      lastScan: { datasetsSeen: number };
      failures: { datasetId: string; errorCode: string; advice: string }[];
      recentVersions: { doi: string }[];
      datasets: { datasetId: string; status: { kind: string; detail: string | null } }[];
      nextScanAt: string;
    };
    expect(body.lastScan.datasetsSeen).toBe(120);
    expect(body.failures).toEqual([expect.objectContaining({ datasetId: SEED.failing.id, errorCode: 'ZENODO_FORBIDDEN' })]);
    expect(body.failures[0]?.advice).toMatch(/Share the Zenodo record/);
    expect(body.recentVersions.map((v) => v.doi)).toContain(SEED.ocean.latestDoi);
    const states = Object.fromEntries(body.datasets.map((d) => [d.datasetId, d.status.kind]));
    expect(states).toEqual({ [SEED.ocean.id]: 'ok', [SEED.hostile.id]: 'ok', [SEED.failing.id]: 'failed', [SEED.gone.id]: 'inactive' });
    expect(new Date(body.nextScanAt).getTime()).toBeGreaterThan(Date.now());
  });

  it('/api/datasets/:id returns the link and the sync history with steps and files, by id or name', async () => {
    const byId = await call(`${privateServer.url}/api/datasets/${SEED.ocean.id}`, { headers: auth });
    expect(byId.status).toBe(200);
    const body = byId.json() as {
      link: { conceptDoi: string };
      versions: { doi: string; changes: { filename: string; action: string }[] }[];
      syncs: { state: string; steps: { step: string }[] }[];
      mails: { recipient: string; status: string }[];
    };
    expect(body.link.conceptDoi).toBe(SEED.ocean.conceptDoi);
    expect(body.versions.map((v) => v.doi)).toEqual([SEED.ocean.latestDoi, SEED.ocean.firstDoi]);
    expect(body.versions[0]?.changes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ filename: 'temperatures.csv', action: 'replace' }),
        expect.objectContaining({ filename: 'old-grid.nc', action: 'delete' }),
      ]),
    );
    expect(body.syncs[0]?.steps.map((s) => s.step)).toEqual(['planned', 'draft_open', 'files_synced', 'metadata_set', 'published', 'done']);
    expect(body.mails).toEqual([expect.objectContaining({ recipient: 'owner@example.org', status: 'sent' })]);

    const byName = await call(`${privateServer.url}/api/datasets/${SEED.ocean.name}`, { headers: auth });
    expect((byName.json() as { datasetId: string }).datasetId).toBe(SEED.ocean.id);
    const unknown = await call(`${privateServer.url}/api/datasets/never-heard-of-it`, { headers: auth });
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toHaveProperty('error');
  });

  it('renders a <script> title as text on the overview and the dataset page', async () => {
    const overview = await call(`${privateServer.url}/`, { headers: auth });
    expect(overview.status).toBe(200);
    expect(overview.text).not.toContain('<script>alert(1)</script>');
    expect(overview.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;single&#39;');
    const page = await call(`${privateServer.url}/datasets/${SEED.hostile.id}`, { headers: auth });
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).not.toContain('<img src=x');
    expect(page.text).toContain('<h1>&lt;script&gt;alert(1)&lt;/script&gt;');
    // The only script element is the app's own file.
    expect(page.text.match(/<script\b[^>]*>/g)).toEqual(['<script src="/static/app.js" defer>']);
    expect(HOSTILE_TITLE).toContain('<script>');
  });

  it('the overview shows scan figures, failures with advice, DOI links and filters by the search box', async () => {
    const page = await call(`${privateServer.url}/`, { headers: auth });
    expect(page.text).toContain('href="https://doi.org/10.5281/zenodo.1000"');
    expect(page.text).toContain('href="https://ckan.example.org/dataset/ocean-temps"');
    expect(page.text).toContain('Share the Zenodo record');
    expect(page.text).toContain('untagged in CKAN');
    const filtered = await call(`${privateServer.url}/?q=${encodeURIComponent('ocean')}`, { headers: auth });
    const rows = /<tbody>([\s\S]*)<\/tbody>/.exec(filtered.text)?.[1] ?? '';
    expect(rows).toContain(SEED.ocean.title);
    expect(rows).not.toContain(SEED.failing.title);
    expect(filtered.text).toContain('1 linked dataset(s) matching “ocean”');
    const literal = await call(`${privateServer.url}/?q=${encodeURIComponent('%')}`, { headers: auth });
    expect(literal.text).toContain('No linked dataset matches.');
  });

  it('the no-JavaScript archive form checks the token in the body and redirects with a fixed message', async () => {
    const { url, trigger } = await start({ publicStatus: true });
    const post = (token: string): Promise<{ status: number; headers: Headers }> =>
      call(`${url}/datasets/${SEED.ocean.id}/archive`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });
    const denied = await post('wrong');
    expect(denied.status).toBe(303);
    expect(denied.headers.get('location')).toBe(`/datasets/${SEED.ocean.id}?archive=denied`);
    expect(trigger.calls).toEqual([]);
    const queued = await post(TOKEN);
    expect(queued.headers.get('location')).toBe(`/datasets/${SEED.ocean.id}?archive=queued`);
    expect(trigger.calls).toEqual([SEED.ocean.id]);
    const page = await call(`${url}${queued.headers.get('location') ?? ''}`);
    expect(page.text).toMatch(/role="status" aria-live="polite" class="notice">Sync queued\.</);
    const again = await post(TOKEN);
    expect(again.headers.get('location')).toBe(`/datasets/${SEED.ocean.id}?archive=already-queued`);
    // Unknown message keys are not echoed.
    const forged = await call(`${url}/datasets/${SEED.ocean.id}?archive=%3Cb%3Ehi`);
    expect(forged.text).not.toContain('<b>hi');
  });
});
