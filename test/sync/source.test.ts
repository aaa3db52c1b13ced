import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDownloadDispatcher, createSpoolBudget, openSource, type SourceOptions } from '../../src/sync/source.js';
import { checkUrl, guardedLookup, isPublicAddress } from '../../src/sync/url-guard.js';
import { isAppError } from '../../src/errors.js';

interface Recorder { server: Server; url: string; seen: { path: string; headers: IncomingHttpHeaders }[] }

async function recorder(host: string, handler: (path: string, res: import('node:http').ServerResponse) => void): Promise<Recorder> {
  const seen: Recorder['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    handler(req.url ?? '', res);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { server, url: `http://${host}:${port}`, seen };
}

let ckan: Recorder;
let other: Recorder;
let spoolDir: string;
const TOKEN = 'ckan-secret-token-123';

function options(allowedHosts: string[] = ['127.0.0.1', '127.0.0.2']): SourceOptions {
  const policy = { allowedHosts };
  return {
    ckanUrl: ckan.url, ckanToken: TOKEN, policy, spoolDir, userAgent: 'test', timeoutMs: 5000, dispatcher: createDownloadDispatcher(policy, 5000),
    limits: { timeoutMs: 60_000, minRate: 0, minRateWindowMs: 60_000 }, spool: createSpoolBudget(10 ** 9),
  };
}

beforeAll(async () => {
  spoolDir = await mkdtemp(join(tmpdir(), 'czs-spool-'));
  other = await recorder('127.0.0.2', (path, res) => {
    if (path === '/to-ckan-private') {
      res.writeHead(302, { location: 'http://127.0.0.1:1/never' }).end();
      return;
    }
    res.writeHead(200, { 'content-length': '5' }).end('other');
  });
  ckan = await recorder('127.0.0.1', (path, res) => {
    if (path.startsWith('/datastore/dump/')) {
      res.writeHead(200, { 'content-type': 'text/csv' }); // chunked: no Content-Length
      for (let i = 0; i < 1000; i++) res.write(`${i},row ${i}\n`);
      res.end();
    } else if (path === '/redirect-away') {
      res.writeHead(302, { location: `${other.url}/file.bin` }).end();
    } else if (path === '/redirect-metadata') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    } else if (path === '/missing') {
      res.writeHead(404).end('nope');
    } else {
      res.writeHead(200, { 'content-length': '4' }).end('ckan');
    }
  });
});

afterAll(() => {
  ckan.server.close();
  other.server.close();
});

describe('resource downloads', () => {
  test('the CKAN token goes to the CKAN origin only, never to a resource on another host', async () => {
    const a = await openSource(`${ckan.url}/dataset/d/resource/r/download/a.csv`, options());
    expect(await text(a.body)).toBe('ckan');
    const b = await openSource(`${other.url}/file.bin`, options());
    expect(await text(b.body)).toBe('other');
    expect(ckan.seen.at(-1)?.headers.authorization).toBe(TOKEN);
    expect(other.seen.at(-1)?.headers.authorization).toBeUndefined();
  });

  test('a redirect from CKAN to another host does not carry the token', async () => {
    const before = other.seen.length;
    const source = await openSource(`${ckan.url}/redirect-away`, options());
    expect(await text(source.body)).toBe('other');
    expect(other.seen.length).toBe(before + 1);
    expect(other.seen.at(-1)?.headers.authorization).toBeUndefined();
  });

  test('a source without Content-Length is spooled to disk, measured, and the spool removed afterwards', async () => {
    const source = await openSource(`${ckan.url}/datastore/dump/r1`, options());
    expect(source.spooled).toBe(true);
    const body = await text(source.body);
    expect(Buffer.byteLength(body)).toBe(source.size);
    expect(body.split('\n')[999]).toBe('999,row 999');
    await source.cleanup();
    expect(await readdir(spoolDir)).toEqual([]);
  });

  test('an HTTP error says what failed, and a 404 is not retried', async () => {
    const error = await openSource(`${ckan.url}/missing`, options()).catch((e: unknown) => e);
    expect(isAppError(error, 'DOWNLOAD_FAILED')).toBe(true);
    expect((error as Error).message).toContain('HTTP 404');
    expect((error as { retryable: boolean }).retryable).toBe(false);
  });
});

describe('SSRF guard', () => {
  test.each([
    'http://127.0.0.1/admin',
    'http://10.0.0.5/x',
    'http://172.16.3.4/x',
    'http://192.168.1.1/x',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/x',
    'http://[::ffff:127.0.0.1]/x',
    'http://[::ffff:7f00:1]/x',
    'http://[fd00::1]/x',
    'http://[fe80::1]/x',
    'http://0.0.0.0/x',
    'http://localhost:5432/x',
    'file:///etc/passwd',
    'ftp://ftp.example.org/data.csv',
    'gopher://example.org/x',
    'http://user:pass@example.org/x',
  ])('%s is refused without an allow-list entry', async (url) => {
    const error = await openSource(url, options([])).catch((e: unknown) => e);
    expect(isAppError(error, 'SSRF_REFUSED')).toBe(true);
    expect((error as Error).message).not.toContain('pass@');
  });

  test('the refusal tells the operator how to allow the host', () => {
    expect(() => checkUrl('http://169.254.169.254/', { allowedHosts: [] })).toThrow(/add it to \[sync\] allowed_hosts/);
  });

  test('an allow-listed loopback host is reachable', async () => {
    const source = await openSource(`${ckan.url}/ok`, options([`127.0.0.1`]));
    expect(await text(source.body)).toBe('ckan');
  });

  test('a redirect into a private address is refused, even from an allowed host', async () => {
    const error = await openSource(`${ckan.url}/redirect-metadata`, options(['127.0.0.1'])).catch((e: unknown) => e);
    expect(isAppError(error, 'SSRF_REFUSED')).toBe(true);
  });

  test('a redirect to a loopback host that is not allow-listed is refused', async () => {
    const error = await openSource(`${other.url}/to-ckan-private`, options(['127.0.0.2'])).catch((e: unknown) => e);
    expect(isAppError(error, 'SSRF_REFUSED')).toBe(true);
  });

  test('names that resolve to private addresses are refused at connection time (DNS rebinding)', async () => {
    const lookup = guardedLookup({ allowedHosts: [] });
    const error = await new Promise((resolve) => lookup('localhost', { all: true }, (err) => resolve(err)));
    expect(isAppError(error, 'SSRF_REFUSED')).toBe(true);
  });

  test.each([
    ['8.8.8.8', true],
    ['2001:4860:4860::8888', true],
    ['100.64.0.1', false],
    ['64:ff9b::a00:1', false],
    ['2002:c0a8:0101::1', false],
    ['224.0.0.1', false],
  ])('isPublicAddress(%s) = %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});
