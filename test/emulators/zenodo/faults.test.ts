/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument --
   Zenodo answers are untyped JSON; their shape is exactly what these tests assert. */
/**
 * Fault injection, rate limits per token, streaming uploads: what client tests and benchmarks rely on.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request } from 'undici';
import { createFaultInjector, parseFaultSpec } from '../../../src/emulators/faults.js';
import { startZenodoEmulator, zenodoRoutes, type ZenodoEmulator, type ZenodoEmulatorOptions } from '../../../src/emulators/zenodo/server.js';
import { call, createDraft, publishedRecord, TOKEN, upload } from './helpers.js';

const dep = '/api/deposit/depositions';
const running: ZenodoEmulator[] = [];

async function start(opts: ZenodoEmulatorOptions = {}): Promise<ZenodoEmulator> {
  const emu = await startZenodoEmulator({ rateLimit: false, ...opts });
  running.push(emu);
  return emu;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

const md5 = (data: Buffer | string): string => createHash('md5').update(data).digest('hex');

describe('fault kinds', () => {
  test('429 fault answers 429 with Retry-After and does not run the request', async () => {
    const emu = await start({ faults: [{ route: 'create', kind: '429', probability: 1, count: 1, retryAfterSeconds: 7 }] });
    const res = await call(emu, 'POST', dep, { json: {} });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(emu.state.depositions).toHaveLength(0);
    expect((await call(emu, 'POST', dep, { json: {} })).status).toBe(201);
  });

  test.each(['500', '502', '503', '504'] as const)('%s fault answers that status and changes nothing', async (kind) => {
    const emu = await start({ faults: [{ route: 'create', kind, probability: 1, count: 1 }] });
    const res = await call(emu, 'POST', dep, { json: {} });
    expect(res.status).toBe(Number(kind));
    expect(res.body).toMatchObject({ status: Number(kind) });
    expect(emu.state.depositions).toHaveLength(0);
    expect((await call(emu, 'POST', dep, { json: {} })).status).toBe(201);
    expect(emu.requests.map((r) => r.status)).toEqual([Number(kind), 201]);
  });

  test('reset destroys the connection and changes nothing', async () => {
    const emu = await start({ faults: parseFaultSpec('create:reset:1:count=1', zenodoRoutes) });
    await expect(call(emu, 'POST', dep, { json: {} })).rejects.toThrow();
    expect(emu.state.depositions).toHaveLength(0);
    expect(emu.requests[0]).toMatchObject({ method: 'POST', path: dep, route: 'create', status: 0 });
    expect((await call(emu, 'POST', dep, { json: {} })).status).toBe(201);
  });

  test('truncated upload keeps part of the body, answers 502, and the stored checksum shows it', async () => {
    const emu = await start();
    const draft = await createDraft(emu);
    emu.setFaults([{ route: 'upload', kind: 'truncate', probability: 1, count: 1 }]);
    const content = randomBytes(1000);
    const res = await upload(emu, draft.links.bucket, 'data.bin', content);
    expect(res.status).toBe(502);
    const stored = (await call(emu, 'GET', `${dep}/${draft.id}/files`)).body;
    expect(stored).toHaveLength(1);
    expect(stored[0].filesize).toBe(500);
    expect(stored[0].checksum).toBe(md5(content.subarray(0, 500)));
    expect(stored[0].checksum).not.toBe(md5(content));
    // The retry (overwrite by key) repairs it.
    const retry = await upload(emu, draft.links.bucket, 'data.bin', content);
    expect(retry.status).toBe(201);
    expect(retry.body.checksum).toBe(`md5:${md5(content)}`);
  });

  test('truncate on a download sends a prefix of the announced length and drops the connection', async () => {
    const emu = await start();
    const draft = await createDraft(emu);
    await upload(emu, draft.links.bucket, 'data.bin', randomBytes(4000));
    emu.setFaults([{ route: 'files', kind: 'truncate', probability: 1, count: 1 }]);
    const res = await request(`${draft.links.bucket}/data.bin`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe('4000');
    await expect(res.body.arrayBuffer()).rejects.toThrow();
  });

  test('slow delays a response without failing it (a concurrent request is answered first)', async () => {
    const emu = await start({ faults: [{ route: 'create', kind: 'slow', probability: 1, delayMs: 1500 }] });
    let slowDone = false;
    const slow = call(emu, 'POST', dep, { json: {} }).then((r) => {
      slowDone = true;
      return r;
    });
    const fast = await call(emu, 'GET', dep);
    expect(fast.status).toBe(200);
    expect(slowDone).toBe(false);
    expect((await slow).status).toBe(201);
  });

  test('504-after-publish publishes, then answers 504; re-reading shows the record published', async () => {
    const emu = await start({ faults: parseFaultSpec('publish:504-after-publish:1:count=1', zenodoRoutes) });
    const draft = await createDraft(emu);
    await upload(emu, draft.links.bucket, 'a.csv', 'abc');
    const res = await call(emu, 'POST', `${dep}/${draft.id}/actions/publish`);
    expect(res.status).toBe(504);
    const after = (await call(emu, 'GET', `${dep}/${draft.id}`)).body;
    expect(after).toMatchObject({ state: 'done', submitted: true, doi: `10.5281/zenodo.${draft.id}` });
    // Blindly publishing again is a 404 in RDM (Q8).
    expect((await call(emu, 'POST', `${dep}/${draft.id}/actions/publish`)).status).toBe(404);
  });

  test('faults are deterministic for a seed', async () => {
    const statuses = async (seed: number): Promise<number[]> => {
      const emu = await start({ faults: parseFaultSpec('any:503:0.5'), faultSeed: seed });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await call(emu, 'GET', dep)).status);
      return out;
    };
    const a = await statuses(42);
    expect(await statuses(42)).toEqual(a);
    expect(a).toContain(503);
    expect(a).toContain(200);
  });

  test('count limits a fault to the first N matching requests; other routes are untouched', () => {
    const injector = createFaultInjector([{ route: 'upload', kind: '502', probability: 1, count: 2 }]);
    expect(injector.decide('publish')).toBeUndefined();
    expect(injector.decide('upload')).toMatchObject({ type: 'status', status: 502 });
    expect(injector.decide('upload')).toMatchObject({ type: 'status', status: 502 });
    expect(injector.decide('upload')).toBeUndefined();
  });
});

describe('parseFaultSpec', () => {
  test('parses the compact form', () => {
    expect(parseFaultSpec('upload:reset:0.2,publish:504-after-publish:1:count=1,any:503:0.1, create:slow:1:delayMs=250', zenodoRoutes)).toEqual([
      { route: 'upload', kind: 'reset', probability: 0.2 },
      { route: 'publish', kind: '504-after-publish', probability: 1, count: 1 },
      { route: 'any', kind: '503', probability: 0.1 },
      { route: 'create', kind: 'slow', probability: 1, delayMs: 250 },
    ]);
  });

  test.each([
    ['uplod:reset:0.2', /unknown fault route "uplod"/],
    ['upload:explode:0.2', /unknown fault kind "explode"/],
    ['upload:reset:1.5', /between 0 and 1/],
    ['upload:reset', /expected route:kind:probability/],
    ['upload:reset:x', /probability "x" is not a number/],
    ['upload:reset:1:times=3', /unknown option "times"/],
    ['upload:reset:1:count=-1', /count must be a non-negative integer/],
  ])('refuses %s with a clear message', (text, message) => {
    expect(() => parseFaultSpec(text, zenodoRoutes)).toThrow(message);
  });
});

describe('rate limits and uploads', () => {
  test('each token has its own budget', async () => {
    const emu = await start({ tokens: ['alice', 'bob'], rateLimit: { perMinute: 1, perHour: 10 } });
    expect((await call(emu, 'GET', dep, { token: 'alice' })).status).toBe(200);
    expect((await call(emu, 'GET', dep, { token: 'alice' })).status).toBe(429);
    expect((await call(emu, 'GET', dep, { token: 'bob' })).status).toBe(200);
  });

  test('another user cannot read or upload to a draft (403)', async () => {
    const emu = await start({ tokens: ['alice', 'bob'] });
    const draft = (await call(emu, 'POST', dep, { json: {}, token: 'alice' })).body;
    expect((await call(emu, 'GET', `${dep}/${draft.id}`, { token: 'bob' })).status).toBe(403);
    const up = await call(emu, 'PUT', `${draft.links.bucket}/x`, { body: 'x', token: 'bob', headers: { 'content-type': 'application/octet-stream' } });
    expect(up.status).toBe(403);
    expect((await call(emu, 'GET', dep, { token: 'bob' })).body).toEqual([]);
  });

  test('a large upload is streamed to disk with its md5; a chunked upload without Content-Length is refused', async () => {
    const emu = await start();
    const draft = await createDraft(emu);
    const content = randomBytes(8 * 1024 * 1024);
    const res = await upload(emu, draft.links.bucket, 'big.bin', content);
    expect(res.status).toBe(201);
    expect(res.body.checksum).toBe(`md5:${md5(content)}`);
    const file = emu.state.depositions[0]!.files[0]!;
    expect(file).toMatchObject({ key: 'big.bin', size: content.length, md5: md5(content) });
    expect(md5(await readFile(file.path))).toBe(md5(content));

    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${draft.links.bucket}/chunked.bin`, {
        method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      }, (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('some data');
      req.end('more');
    });
    expect(chunked.status).toBe(400);
    expect(JSON.parse(chunked.body).message).toBe('Empty files are not accepted.');
    expect(emu.state.depositions[0]!.files.map((f) => f.key)).toEqual(['big.bin']);
  });

  test('hostile input gets clear 4xx answers and never stops the emulator', async () => {
    const emu = await start();
    const draft = await createDraft(emu);
    const badJson = await call(emu, 'POST', dep, { body: '{"metadata":', headers: { 'content-type': 'application/json' } });
    expect(badJson.body).toEqual({ status: 400, message: 'Unable to decode JSON data in request body.' });
    expect((await call(emu, 'PUT', `${draft.links.bucket}/%E0%A4%A`, { body: 'x', headers: { 'content-type': 'application/octet-stream' } })).status).toBe(400);
    expect((await call(emu, 'GET', `${dep}/not-a-number`)).status).toBe(404);
    expect((await call(emu, 'GET', '/api/nothing/here')).body).toMatchObject({ status: 404 });
    expect((await call(emu, 'POST', dep, { json: { metadata: 'a string' } })).status).toBe(400);
    expect((await call(emu, 'POST', dep, { json: [1, 2] })).status).toBe(400);
    const huge = await call(emu, 'PUT', `${dep}/${draft.id}`, { json: { metadata: { title: 'x'.repeat(11 * 1024 * 1024) } } });
    expect(huge.status).toBe(413);
    // An upload cut off by the client stores nothing.
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${draft.links.bucket}/cut.bin`, {
        method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream', 'content-length': '100000' },
      });
      req.on('error', () => resolve());
      req.write(randomBytes(1000), () => req.destroy());
    });
    const files = await call(emu, 'GET', `${dep}/${draft.id}/files`);
    expect(files.status).toBe(200);
    expect(files.body).toEqual([]);
  });

  test('the records API finds the latest version and serves published files', async () => {
    const emu = await start();
    const rec = await publishedRecord(emu, { 'a.csv': '1, 2, 3' });
    const got = await call(emu, 'GET', `/api/records/${rec.id}`, { token: null });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: rec.id, conceptrecid: rec.conceptrecid, doi: rec.doi, conceptdoi: rec.conceptdoi });
    expect(got.body.files[0]).toMatchObject({ key: 'a.csv', size: 7, checksum: 'md5:66ce05ea43c73b8e33c74c12d0371bc9' });
    const content = await call(emu, 'GET', got.body.files[0].links.self, { token: null });
    expect(content.text).toBe('1, 2, 3');
    const draft = await createDraft(emu);
    expect((await call(emu, 'GET', `/api/records/${draft.id}`)).status).toBe(404);
  });

  test('reset forgets everything and ids start over', async () => {
    const emu = await start();
    const first = await createDraft(emu);
    emu.reset();
    expect(emu.state).toEqual({ depositions: [], records: [], concepts: [], buckets: [] });
    expect(emu.requests).toHaveLength(0);
    expect((await createDraft(emu)).id).toBe(first.id);
  });
});
