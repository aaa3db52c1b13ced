/**
 * The status server's front door against a guessing client: the failed-token limit per client
 * address (Bearer header, /login, the archive form), the proxy setting that decides what a
 * client address is, and server-side sessions (random ids, revoked by /logout, expiring).
 * The limit and the sessions run on a fake clock; requests from a second address leave from
 * 127.0.0.2 (all of 127/8 is loopback on Linux).
 */
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionQueries } from '../../src/db/session-queries.js';
import { createStatusQueries } from '../../src/db/status-queries.js';
import { limitKey, MAX_AUTH_FAILURES } from '../../src/http/rate-limit.js';
import { startHttpServer, type HttpConfig, type HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { SEED, seedArchive } from './seed.js';

const TOKEN = 'op-token-7f3a9c1e5b2d4f60a8e1c3b5d7f90a2c';
const WRONG = 'op-token-0000000000000000000000000000000x';

let db: TestDatabase;
const servers: HttpServer[] = [];

interface Started {
  url: string;
  clock: { now: number };
  logs: () => Record<string, unknown>[];
}

async function start(overrides: Partial<HttpConfig> = {}, token = TOKEN): Promise<Started> {
  const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
  let text = '';
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => ((text += chunk.toString()), done()) });
  const server = await startHttpServer({
    status: createStatusQueries(db.pool),
    sessions: createSessionQueries(db.pool),
    triggerSync: () => Promise.resolve({ queued: true, jobId: 'job-1' }),
    metrics: () => Promise.resolve({ scans: {}, lastScan: undefined, syncs: {}, zenodoResponses: {}, zenodoRateLimited: 0, bytesUploaded: 0 }),
    config: { listen: '127.0.0.1:0', token, publicStatus: false, ckanUrl: 'https://ckan.example.org', scanCron: '*/15 * * * *', ...overrides },
    log: createLogger({ level: 'info', pretty: false, destination: sink, secrets: [token] }),
    now: () => clock.now,
  });
  servers.push(server);
  return {
    url: server.url,
    clock,
    logs: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** node:http rather than fetch: it can leave from another loopback address. */
function call(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; from?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, localAddress: options.from ?? '127.0.0.1' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const bearer = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });
const form = (token: string): { method: string; headers: Record<string, string>; body: string } => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ token }).toString(),
});

async function login(url: string, extra: Record<string, string> = {}): Promise<{ cookie: string; setCookie: string }> {
  const r = await call(`${url}/login`, { ...form(TOKEN), headers: { ...form(TOKEN).headers, ...extra } });
  expect(r.status).toBe(303);
  const setCookie = String(r.headers['set-cookie'] ?? '');
  return { cookie: setCookie.split(';')[0] ?? '', setCookie };
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seedArchive(db);
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await db.drop();
});

describe('failed-token limit per client address', () => {
  it('answers 429 with Retry-After after repeated wrong Bearer tokens, even to the right one; other addresses are unaffected; the wait ends', async () => {
    const { url, clock, logs } = await start();
    for (let i = 0; i < MAX_AUTH_FAILURES; i++) {
      expect((await call(`${url}/api/status`, { headers: bearer(`${WRONG}${i}`) })).status).toBe(401);
    }
    for (let i = 0; i < 200; i++) {
      const blocked = await call(`${url}/api/status`, { headers: bearer(`${WRONG}${i}`) });
      expect(blocked.status).toBe(429);
      expect(blocked.headers['retry-after']).toBe('300');
    }
    // Not even the right token gets through from the blocked address, nor queues a sync...
    const right = await call(`${url}/api/status`, { headers: bearer(TOKEN) });
    expect(right.status).toBe(429);
    expect(JSON.parse(right.text)).toEqual({ error: 'too many wrong tokens from this address; try again in 300 s' });
    expect((await call(`${url}/api/datasets/${SEED.ocean.id}/sync`, { method: 'POST', headers: bearer(TOKEN) })).status).toBe(429);
    // ...while another address reads and queues with it.
    expect((await call(`${url}/api/status`, { headers: bearer(TOKEN), from: '127.0.0.2' })).status).toBe(200);
    expect((await call(`${url}/api/datasets/${SEED.ocean.id}/sync`, { method: 'POST', headers: bearer(TOKEN), from: '127.0.0.2' })).status).toBe(202);

    clock.now += 120_000;
    expect((await call(`${url}/api/status`, { headers: bearer(TOKEN) })).headers['retry-after']).toBe('180');
    clock.now += 180_000;
    expect((await call(`${url}/api/status`, { headers: bearer(TOKEN) })).status).toBe(200);

    // Logged in aggregate: one warning when blocked, one summary when the window ended.
    const warnings = logs().filter((l) => l.level === 'warn');
    expect(warnings).toEqual([
      expect.objectContaining({ client: '127.0.0.1', failures: MAX_AUTH_FAILURES, retryAfterSeconds: 300 }),
      expect.objectContaining({ client: '127.0.0.1', failures: MAX_AUTH_FAILURES, refused: 203, windowSeconds: 300 }),
    ]);
    expect(JSON.stringify(logs())).not.toContain(TOKEN);
  });

  it('counts /login and the archive form with the Bearer header, and answers them 429 as pages', async () => {
    const { url, clock } = await start();
    for (let i = 0; i < 4; i++) expect((await call(`${url}/login`, form(`${WRONG}${i}`))).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await call(`${url}/datasets/${SEED.ocean.id}/archive`, form(`${WRONG}${i}`))).headers.location).toContain('archive=denied');
    for (let i = 0; i < MAX_AUTH_FAILURES - 7; i++) expect((await call(`${url}/api/status`, { headers: bearer(WRONG) })).status).toBe(401);

    const page = await call(`${url}/login`, form(TOKEN));
    expect(page.status).toBe(429);
    expect(page.headers['retry-after']).toBe('300');
    expect(page.headers['set-cookie']).toBeUndefined();
    expect(page.text).toContain('Too many wrong tokens from your address');
    const archive = await call(`${url}/datasets/${SEED.ocean.id}/archive`, form(TOKEN));
    expect(archive.status).toBe(429);
    expect(archive.headers['retry-after']).toBe('300');
    expect(archive.text).toContain('nothing was queued');

    expect((await call(`${url}/login`, { ...form(TOKEN), from: '127.0.0.2' })).status).toBe(303);
    clock.now += 300_000;
    expect((await call(`${url}/login`, form(TOKEN))).status).toBe(303);
  });

  it('does not count requests without credentials, and forgives an address its failures on the right token', async () => {
    const { url } = await start();
    for (let i = 0; i < 50; i++) expect((await call(`${url}/api/status`)).status).toBe(401);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < MAX_AUTH_FAILURES - 1; i++) expect((await call(`${url}/api/status`, { headers: bearer(WRONG) })).status).toBe(401);
      expect((await call(`${url}/api/status`, { headers: bearer(TOKEN) })).status).toBe(200);
    }
  });

  it('ignores X-Forwarded-For unless [http] trust_proxy is set; then the last entry is the client', async () => {
    const direct = await start();
    for (let i = 0; i < MAX_AUTH_FAILURES; i++) await call(`${direct.url}/api/status`, { headers: { ...bearer(WRONG), 'X-Forwarded-For': `198.51.100.${i}` } });
    expect((await call(`${direct.url}/api/status`, { headers: { ...bearer(TOKEN), 'X-Forwarded-For': '198.51.100.99' } })).status).toBe(429);

    const proxied = await start({ trustProxy: true });
    for (let i = 0; i < MAX_AUTH_FAILURES; i++) {
      // The left entries are the client's own words: forging them changes nothing.
      await call(`${proxied.url}/api/status`, { headers: { ...bearer(WRONG), 'X-Forwarded-For': `10.9.9.${i}, 203.0.113.5` } });
    }
    expect((await call(`${proxied.url}/api/status`, { headers: { ...bearer(TOKEN), 'X-Forwarded-For': '203.0.113.5' } })).status).toBe(429);
    expect((await call(`${proxied.url}/api/status`, { headers: { ...bearer(TOKEN), 'X-Forwarded-For': '203.0.113.5, 203.0.113.6' } })).status).toBe(200);
    expect((await call(`${proxied.url}/api/status`, { headers: bearer(TOKEN) })).status).toBe(200);
  });

  it('counts an IPv6 client by its /64', () => {
    expect(limitKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(limitKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(limitKey('::1')).toBe('0:0:0:0::/64');
    expect(limitKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(limitKey('192.0.2.7')).toBe('192.0.2.7');
  });
});

describe('sessions', () => {
  it('gives each sign-in a random id in an HttpOnly, SameSite=Strict cookie, Secure behind a trusted https proxy only', async () => {
    const { url } = await start();
    const a = await login(url);
    const b = await login(url);
    expect(a.cookie).toMatch(/^czs_session=[A-Za-z0-9_-]{43}$/);
    expect(b.cookie).not.toBe(a.cookie);
    expect(a.setCookie).toContain('HttpOnly');
    expect(a.setCookie).toContain('SameSite=Strict');
    expect(a.setCookie).not.toContain('Secure');
    expect(a.cookie).not.toContain(TOKEN.slice(0, 12));
    // A client cannot claim https for itself.
    expect((await login(url, { 'X-Forwarded-Proto': 'https' })).setCookie).not.toContain('Secure');

    const proxied = await start({ trustProxy: true });
    const secure = await login(proxied.url, { 'X-Forwarded-Proto': 'https' });
    expect(secure.setCookie).toMatch(/; Secure$/);
    expect((await call(`${proxied.url}/`, { headers: { Cookie: secure.cookie } })).status).toBe(200);
    const out = await call(`${proxied.url}/logout`, { method: 'POST', headers: { Cookie: secure.cookie, 'X-Forwarded-Proto': 'https' } });
    expect(out.headers['set-cookie']?.[0]).toMatch(/Max-Age=0; Secure$/);
  });

  it('/logout revokes the session: the old cookie no longer opens the pages or the API', async () => {
    const { url } = await start();
    const other = await login(url);
    const { cookie } = await login(url);
    expect((await call(`${url}/`, { headers: { Cookie: cookie } })).status).toBe(200);
    expect((await call(`${url}/api/status`, { headers: { Cookie: cookie } })).status).toBe(200);

    const out = await call(`${url}/logout`, { method: 'POST', headers: { Cookie: cookie } });
    expect(out.status).toBe(303);
    expect(out.headers['set-cookie']?.[0]).toContain('Max-Age=0');

    // A copy of the cookie kept by the browser (or a thief) is refused.
    const page = await call(`${url}/`, { headers: { Cookie: cookie } });
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/login');
    expect((await call(`${url}/api/status`, { headers: { Cookie: cookie } })).status).toBe(401);
    // Other sessions live on.
    expect((await call(`${url}/`, { headers: { Cookie: other.cookie } })).status).toBe(200);
  });

  it('expires sessions after 12 hours and prunes them; a changed token signs everyone out', async () => {
    const { url, clock } = await start();
    await db.pool.query('DELETE FROM http_sessions');
    const { cookie } = await login(url);
    clock.now += 12 * 3600_000 - 1000;
    expect((await call(`${url}/api/status`, { headers: { Cookie: cookie } })).status).toBe(200);
    clock.now += 1000;
    expect((await call(`${url}/api/status`, { headers: { Cookie: cookie } })).status).toBe(401);

    // The next sign-in deletes the expired row; only the new one is left.
    const fresh = await login(url);
    const rows = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM http_sessions');
    expect(rows.rows[0]?.n).toBe(1);
    // Only a hash of the id is stored.
    const stored = await db.pool.query<{ id_hash: Buffer }>('SELECT id_hash FROM http_sessions');
    expect(stored.rows[0]?.id_hash.toString('base64url')).not.toBe(fresh.cookie.split('=')[1]);

    const rotated = await start({}, 'op-token-rotated-1b3d5f7a9c2e4a6c8e0f1a3b5c');
    const r = await call(`${rotated.url}/api/status`, { headers: { Cookie: fresh.cookie } });
    expect(r.status).toBe(401);
  });
});
