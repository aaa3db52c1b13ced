import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { createCkanClient, type CkanClient } from '../../src/scanner/ckan-client.js';

interface Seen { path: string; method: string; authorization: string | undefined }

/** A real HTTP server on loopback whose answers each test scripts. */
async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', method: req.method ?? '', authorization: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

let script: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => json(res, 500, {});
let ckan: Awaited<ReturnType<typeof listen>>;
let other: Awaited<ReturnType<typeof listen>>;
let client: CkanClient;

beforeAll(async () => {
  ckan = await listen((req, res) => script(req, res));
  other = await listen((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/csv', 'content-length': '4' });
    res.end('a,b\n');
  });
  client = createCkanClient({ baseUrl: ckan.url, apiToken: 'secret-token', log: silentLogger(), timeoutMs: 5000, retry: { attempts: 3, baseDelayMs: 1 } });
});
afterAll(async () => {
  await client.close();
  ckan.server.close();
  other.server.close();
});
beforeEach(() => {
  ckan.seen.length = 0;
  other.seen.length = 0;
});

const dataset = { id: 'd1', name: 'one', metadata_modified: '2024-01-01T00:00:00', resources: [] };

describe('CKAN client', () => {
  it('sends the raw token to CKAN and never to a resource on another host, even via a CKAN redirect', async () => {
    script = (req, res) => {
      if (req.url?.startsWith('/dataset/')) {
        res.writeHead(302, { location: `${other.url}/file.csv` });
        res.end();
      } else json(res, 200, { success: true, result: dataset });
    };
    await client.packageShow('d1');
    expect(ckan.seen[0]?.authorization).toBe('secret-token');
    const direct = await client.download(`${other.url}/direct.csv`);
    expect(await text(direct.body)).toBe('a,b\n');
    const redirected = await client.download(`${ckan.url}/dataset/d1/resource/r1/download/file.csv`);
    expect(redirected.size).toBe(4);
    await text(redirected.body);
    expect(ckan.seen.at(-1)?.authorization).toBe('secret-token');
    expect(other.seen.map((s) => s.authorization)).toEqual([undefined, undefined]);
  });

  it('retries reads on 5xx and gives up with a retryable CKAN_UNAVAILABLE', async () => {
    let calls = 0;
    script = (_req, res) => (++calls < 3 ? json(res, 503, {}) : json(res, 200, { success: true, result: { count: 1, results: [dataset] } }));
    const page = await client.packageSearch({ fq: 'tags:"a b"', rows: 10, start: 0 });
    expect(page.datasets.map((d) => d.id)).toEqual(['d1']);
    expect(calls).toBe(3);
    expect(new URL(ckan.seen[0]?.path ?? '', ckan.url).searchParams.get('fq')).toBe('tags:"a b"');
    script = (_req, res) => json(res, 500, { success: false, error: { __type: 'Internal Server Error' } });
    const error = await client.packageShow('d1').catch((e: unknown) => e);
    expect(isAppError(error, 'CKAN_UNAVAILABLE') && error.retryable).toBe(true);
  });

  it('does not retry writes', async () => {
    script = (_req, res) => json(res, 502, {});
    await expect(client.packagePatch('d1', { extras: [] })).rejects.toMatchObject({ code: 'CKAN_UNAVAILABLE' });
    expect(ckan.seen.map((s) => s.method)).toEqual(['POST']);
  });

  it.each([
    [403, { __type: 'Authorization Error', message: 'Access denied' }, 'CKAN_AUTH'],
    [404, { __type: 'Not Found Error', message: 'Not found' }, 'CKAN_NOT_FOUND'],
    [409, { __type: 'Validation Error', name_or_id: ['Missing value'] }, 'CKAN_VALIDATION'],
    [400, { __type: 'Search Query Error', message: 'Invalid' }, 'CKAN_VALIDATION'],
  ])('maps HTTP %i to its error code', async (status, error, code) => {
    script = (_req, res) => json(res, status, { success: false, error });
    await expect(client.packageShow('x')).rejects.toMatchObject({ code, retryable: false });
  });

  it('reports a body that is not a CKAN envelope as CKAN_BAD_RESPONSE', async () => {
    script = (_req, res) => json(res, 200, { hello: 'world' });
    await expect(client.userShow()).rejects.toMatchObject({ code: 'CKAN_BAD_RESPONSE' });
  });
});
