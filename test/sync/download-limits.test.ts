/**
 * Downloads against hostile resource servers on loopback: a server sending 1 byte/s, one that
 * never ends, one that sends more than it (or CKAN) declared, redirect loops. Limits are set small
 * here so that every cut happens within a second or two; the assertions are about what the user
 * sees (error code, retryable, message naming the setting), never about time.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { AppError, isAppError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { PlannedFile } from '../../src/sync/plan.js';
import {
  cleanSpool,
  createDownloadDispatcher,
  createSourceOpener,
  createSpoolBudget,
  openSource,
  preflightResource,
  type SourceOptions,
  type SpoolBudget,
} from '../../src/sync/source.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base: string;
let spoolDir: string;
/** Per path: how the hostile server answers. */
const routes = new Map<string, Handler>();
/** Per path: settles when the server's last response closes; true when it closed before it ended (the download was stopped). */
const cut = new Map<string, Promise<boolean>>();
/** Per path: requests served. */
const servedCount = new Map<string, number>();
/** Released by a test to let a held response finish. */
let release: () => void = () => undefined;

/** Writes `chunk` every `ms` until the client goes away (`total` bytes at most). */
function trickle(res: ServerResponse, chunk: Buffer, ms: number, total = Infinity): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (sent >= total) {
      clearInterval(timer);
      res.end();
      return;
    }
    res.write(chunk);
    sent += chunk.length;
  }, ms);
  res.on('close', () => clearInterval(timer));
}

/** Writes as fast as the client reads, forever. */
function endless(res: ServerResponse): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const pump = (): void => {
    while (!res.destroyed && res.write(chunk));
  };
  res.on('drain', pump);
  pump();
}

routes.set('/slow', (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/csv' }); // chunked: spooled
  trickle(res, Buffer.from('x'), 1000);
});
routes.set('/slow-with-length', (_req, res) => {
  res.writeHead(200, { 'content-length': '100000' }); // streamed straight to the reader
  trickle(res, Buffer.from('x'), 1000);
});
routes.set('/steady', (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/csv' });
  trickle(res, Buffer.alloc(4096, 0x62), 20); // ~200 kB/s: fast enough, but never ends
});
routes.set('/three-mb', (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked, no length
  trickle(res, Buffer.alloc(64 * 1024, 0x63), 1, 3_000_000);
});
routes.set('/three-mb-with-length', (_req, res) => {
  res.writeHead(200, { 'content-length': '3000000' });
  trickle(res, Buffer.alloc(60_000, 0x63), 1, 3_000_000);
});
routes.set('/endless', (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/csv' });
  endless(res);
});
routes.set('/held', (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/csv' });
  res.write('a,b\n');
  release = () => res.end('1,2\n');
});
routes.set('/small', (_req, res) => {
  res.writeHead(200, { 'content-length': '5' }).end('hello');
});
routes.set('/loop-a', (_req, res) => res.writeHead(302, { location: '/loop-b' }).end());
routes.set('/loop-b', (_req, res) => res.writeHead(302, { location: '/loop-a' }).end());

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    servedCount.set(path, (servedCount.get(path) ?? 0) + 1);
    cut.set(path, new Promise((resolve) => res.on('close', () => resolve(!res.writableEnded))));
    const handler = routes.get(path);
    if (handler) handler(req, res);
    else res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

beforeEach(async () => {
  if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  spoolDir = await mkdtemp(join(tmpdir(), 'czs-limits-'));
});

const policy = { allowedHosts: ['127.0.0.1'] };
const dispatcher = createDownloadDispatcher(policy, 10_000);

function options(overrides: Partial<SourceOptions> = {}): SourceOptions {
  return {
    ckanUrl: 'http://ckan.example.org',
    ckanToken: undefined,
    policy,
    spoolDir,
    userAgent: 'test',
    timeoutMs: 10_000,
    dispatcher,
    limits: { timeoutMs: 60_000, minRate: 1000, minRateWindowMs: 1000 },
    spool: createSpoolBudget(10 ** 9),
    ...overrides,
  };
}

/** Opens and reads the whole source, as the Zenodo upload would; resolves to the error it ends with. */
async function failure(url: string, opts: SourceOptions): Promise<AppError> {
  try {
    const source = await openSource(url, opts);
    try {
      await text(source.body);
    } finally {
      await source.cleanup();
    }
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error(`${url} was downloaded completely`);
}

describe('time limits', () => {
  test('a server sending 1 byte/s is cut by the minimum rate, retryably, and its spool file is removed', async () => {
    const error = await failure(`${base}/slow`, options());
    expect(error.code).toBe('DOWNLOAD_FAILED');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(`${base}/slow`);
    expect(error.message).toMatch(/below the minimum of 1\.00 kB\/s \(\[sync\] download_min_rate/);
    expect(await cut.get('/slow')).toBe(true); // the server saw the download stop
    expect(await readdir(spoolDir)).toEqual([]);
  });

  test('a slow server with a Content-Length (streamed to Zenodo directly) is cut the same way', async () => {
    const error = await failure(`${base}/slow-with-length`, options());
    expect(error).toMatchObject({ code: 'DOWNLOAD_FAILED', retryable: true, details: { limit: 'download_min_rate' } });
    expect(await cut.get('/slow-with-length')).toBe(true);
  });

  test('a download fast enough but never finishing is cut at the deadline, permanently, naming the setting', async () => {
    const error = await failure(`${base}/steady`, options({ limits: { timeoutMs: 1500, minRate: 1000, minRateWindowMs: 1000 } }));
    expect(error.code).toBe('DOWNLOAD_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`${base}/steady`);
    expect(error.message).toMatch(/did not finish within 2 s .*raise \[sync\] download_timeout_seconds/);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  test('reopening the same planned file (an upload retry) does not restart the deadline', async () => {
    const open = createSourceOpener(options({ limits: { timeoutMs: 1500, minRate: 0, minRateWindowMs: 1000 } }));
    const file: PlannedFile = { resourceId: 'r', filename: 'f.csv', action: 'add', source: { kind: 'download', url: `${base}/steady` }, size: null, fingerprint: 'x' };
    const read = async (): Promise<unknown> => open(file).then(async (s) => text(s.body)).catch((e: unknown) => e);
    expect(await read()).toMatchObject({ code: 'DOWNLOAD_FAILED', details: { limit: 'download_timeout_seconds' } });
    // The second attempt has no time left: it is refused although the server answers at once.
    expect(await read()).toMatchObject({ code: 'DOWNLOAD_FAILED', details: { limit: 'download_timeout_seconds' } });
    // Another planned file (the next sync's plan) has its own deadline.
    const small = await open({ ...file, source: { kind: 'download', url: `${base}/small` } });
    expect(await text(small.body)).toBe('hello');
  });

  test('a file cut for slowness is not downloaded again in the same sync: the retry comes later, from the queue', async () => {
    const open = createSourceOpener(options());
    const file: PlannedFile = { resourceId: 'r', filename: 'f.csv', action: 'add', source: { kind: 'download', url: `${base}/slow-with-length` }, size: null, fingerprint: 'x' };
    const first = await open(file).then(async (s) => text(s.body)).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'DOWNLOAD_FAILED', retryable: true, details: { limit: 'download_min_rate' } });
    const served = servedCount.get('/slow-with-length');
    const second = await open(file).catch((e: unknown) => e);
    expect(second).toBe(first);
    expect(servedCount.get('/slow-with-length')).toBe(served); // no new request to the slow server
    // The same resource in the next sync (a new plan) is downloaded again.
    const next = await open({ ...file }).then(async (s) => text(s.body)).catch((e: unknown) => e);
    expect(next).toMatchObject({ details: { limit: 'download_min_rate' } });
    expect(servedCount.get('/slow-with-length')).toBe(served! + 1);
  });
});

describe('byte limits', () => {
  test('CKAN declares 100 bytes, the server sends 3 MB: stopped after 100 bytes as a lying source, nothing spooled', async () => {
    const spool = createSpoolBudget(10 ** 9);
    const error = await failure(`${base}/three-mb`, options({ declaredSize: 100, maxBytes: 10 ** 6, spool }));
    expect(error).toMatchObject({ code: 'DOWNLOAD_REFUSED', retryable: false, details: { limit: 'ckan_size', declared: 100 } });
    expect(error.message).toMatch(/sent more than the 100 B CKAN declares for the resource.*correct the size in CKAN/);
    expect(await cut.get('/three-mb')).toBe(true);
    expect(await readdir(spoolDir)).toEqual([]);
    expect(spool.used).toBe(0);
  });

  test('a Content-Length above CKAN\'s declared size is refused before reading the body', async () => {
    const error = await failure(`${base}/three-mb-with-length`, options({ declaredSize: 100 }));
    expect(error).toMatchObject({ code: 'DOWNLOAD_REFUSED', retryable: false, details: { limit: 'ckan_size', contentLength: 3_000_000 } });
    expect(await cut.get('/three-mb-with-length')).toBe(true);
  });

  test('without a declared size, 3 MB against max_size 1 MB is stopped at 1 MB, naming the rule\'s max_size', async () => {
    const error = await failure(`${base}/three-mb`, options({ maxBytes: 10 ** 6 }));
    expect(error).toMatchObject({ code: 'DOWNLOAD_REFUSED', retryable: false, details: { limit: 'max_size', maxBytes: 10 ** 6, received: expect.any(Number) as number } });
    expect((error.details as { received: number }).received).toBeLessThan(10 ** 6 + 64 * 1024 + 1);
    expect(error.message).toMatch(/larger than the rule's max_size of 1\.00 MB.*resources\.max_size in rules\.yaml/);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  test('a Content-Length above max_size is refused without downloading', async () => {
    const error = await failure(`${base}/three-mb-with-length`, options({ maxBytes: 10 ** 6 }));
    expect(error).toMatchObject({ code: 'DOWNLOAD_REFUSED', retryable: false, details: { limit: 'max_size', contentLength: 3_000_000 } });
  });

  test('an endless stream is cut at spool_max, permanently (it can never fit), and the budget is given back', async () => {
    const spool = createSpoolBudget(2 * 10 ** 6);
    const error = await failure(`${base}/endless`, options({ spool }));
    expect(error).toMatchObject({ code: 'DOWNLOAD_REFUSED', retryable: false, details: { limit: 'spool_max' } });
    expect(error.message).toMatch(/sent more than \[sync\] spool_max \(2\.00 MB\)/);
    expect(await cut.get('/endless')).toBe(true);
    expect(await readdir(spoolDir)).toEqual([]);
    expect(spool.used).toBe(0);
  });

  test('a download crowded out of the spool by other downloads is retried later', async () => {
    const spool: SpoolBudget = createSpoolBudget(2 * 10 ** 6);
    spool.used = 1_500_000; // another download's 1.5 MB spool file waits for its upload
    const error = await failure(`${base}/endless`, options({ spool }));
    expect(error).toMatchObject({ code: 'DOWNLOAD_FAILED', retryable: true, details: { limit: 'spool_max' } });
    expect(error.message).toMatch(/the spool is full .*retried later/);
    expect(spool.used).toBe(1_500_000);
  });
});

describe('redirects', () => {
  test('a redirect loop fails permanently and says so', async () => {
    const error = await failure(`${base}/loop-a`, options());
    expect(error).toMatchObject({ code: 'DOWNLOAD_FAILED', retryable: false });
    expect(error.message).toMatch(/redirect loop.*fix the resource URL in CKAN/);
  });
});

describe('cleanSpool', () => {
  test('removes spool files of stopped processes and keeps live ones, including a download in progress', async () => {
    const opened = openSource(`${base}/held`, options({ limits: { timeoutMs: 60_000, minRate: 0, minRateWindowMs: 1000 } }));
    // Wait until the download in progress has created its spool file.
    let live: string | undefined;
    while (live === undefined) {
      live = (await readdir(spoolDir))[0];
      if (live === undefined) await new Promise((r) => setImmediate(r));
    }
    const m = /^spool-([0-9a-f]{8})-(\d+)-([0-9a-z]+)-/.exec(live);
    expect(m, live).not.toBeNull();
    const [, host, pid] = m!;
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const old = new Date(Date.now() - 3600_000);
    const files: [string, boolean, Date?][] = [
      [`spool-${host}-${dead}-abc-00000000-0000-4000-8000-000000000001`, false], // its process is gone
      [`spool-${host}-${pid}-zzzzzz-00000000-0000-4000-8000-000000000002`, false], // our pid, an earlier start (a container's pid 1)
      [`spool-${host}-${process.ppid}-abc-00000000-0000-4000-8000-000000000003`, true], // a live process on this host
      [`spool-${host}-${process.ppid}-abc-00000000-0000-4000-8000-000000000004`, false, old], // "live" pid, but no heartbeat for an hour: reused pid
      ['spool-0badc0de-1-abc-00000000-0000-4000-8000-000000000005', true], // another host, recently touched
      ['spool-0badc0de-1-abc-00000000-0000-4000-8000-000000000006', false, old], // another host, abandoned
      ['spool-8d4e1c2a-3b5f-4c6d-9e7f-0a1b2c3d4e5f', false, old], // the old naming, abandoned
      ['spool-8d4e1c2a-3b5f-4c6d-9e7f-0a1b2c3d4e60', true], // the old naming, maybe still in use
      ['notes.txt', true, old], // not ours
    ];
    for (const [name, , mtime] of files) {
      await writeFile(join(spoolDir, name), 'x');
      if (mtime) await utimes(join(spoolDir, name), mtime, mtime);
    }
    const removed = await cleanSpool(spoolDir, silentLogger());
    const left = new Set(await readdir(spoolDir));
    for (const [name, kept] of files) expect(left.has(name), name).toBe(kept);
    expect(left.has(live)).toBe(true);
    expect(removed).toBe(files.filter(([, kept]) => !kept).length);
    // The download in progress was not disturbed.
    release();
    const source = await opened;
    expect(await text(source.body)).toBe('a,b\n1,2\n');
    await source.cleanup();
    expect((await readdir(spoolDir)).includes(live)).toBe(false);
  });

  test('a missing spool folder is nothing to clean', async () => {
    expect(await cleanSpool(join(spoolDir, 'absent'), silentLogger())).toBe(0);
  });
});

describe('preflightResource: refused before any draft exists', () => {
  const none = { policy: { allowedHosts: [] as string[] }, resolve: () => Promise.reject(new Error('no DNS in tests')) };
  test.each([
    ['javascript:alert(1)', /javascript: scheme; only http and https/],
    ['file:///etc/passwd', /file: scheme/],
    ['ftp://ftp.example.org/data.csv', /ftp: scheme/],
    ['data:text/csv,a,b', /data: scheme/],
    ['http://[not-an-address/x', /is not a valid URL/],
    ['not a url at all', /is not a valid URL/],
    ['http://10.0.0.5/data.csv', /10\.0\.0\.5.*add it to \[sync\] allowed_hosts/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['http://[::ffff:127.0.0.1]/x', /loopback/],
    ['http://localhost:5432/x', /loopback/],
  ])('%s', async (url, message) => {
    const error = await preflightResource(url, none);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'SSRF_REFUSED', retryable: false });
    expect(error!.message).toMatch(message);
  });

  test('credentials in the URL are refused without repeating them, saying how to fix it', async () => {
    const error = await preflightResource('https://alice:s3cret@files.example.org/data.csv', none);
    expect(error).toMatchObject({ code: 'SSRF_REFUSED', retryable: false });
    expect(error!.message).not.toContain('s3cret');
    expect(error!.message).toMatch(/carries credentials.*CKAN API token/);
  });

  test('an unparseable URL with credentials does not repeat them either', async () => {
    const error = await preflightResource('http://bob:hunter2@[broken/x', none);
    expect(error!.message).not.toContain('hunter2');
  });

  test('a name resolving to a private address is refused; allow-listed, it passes', async () => {
    const resolve = (): Promise<{ address: string }[]> => Promise.resolve([{ address: '93.184.216.34' }, { address: '10.1.2.3' }]);
    const error = await preflightResource('https://files.internal.example/data.csv', { policy: { allowedHosts: [] }, resolve });
    expect(error).toMatchObject({ code: 'SSRF_REFUSED', details: { host: 'files.internal.example', address: '10.1.2.3' } });
    expect(await preflightResource('https://files.internal.example/data.csv', { policy: { allowedHosts: ['files.internal.example'] }, resolve })).toBeUndefined();
  });

  test.each([
    ['a public address', 'https://93.184.216.34/data.csv'],
    ['a public name', 'https://data.example.org/data.csv'],
    ['an allow-listed loopback host', `http://127.0.0.1:8080/x`],
  ])('%s passes', async (_what, url) => {
    const resolve = (): Promise<{ address: string }[]> => Promise.resolve([{ address: '93.184.216.34' }]);
    expect(await preflightResource(url, { policy: { allowedHosts: ['127.0.0.1'] }, resolve })).toBeUndefined();
  });

  test('a name that does not resolve now is left to the download (DNS may be back by then)', async () => {
    expect(await preflightResource('https://data.example.org/x.csv', none)).toBeUndefined();
  });
});
