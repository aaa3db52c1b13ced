/* eslint-disable @typescript-eslint/no-unsafe-member-access --
   CKAN answers are untyped JSON; their shape is exactly what these tests assert. */
/**
 * CKAN emulator: paging and sorting with ties, generated file content, the in-process and
 * `/__emulator/` test APIs, and fault injection.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedBytes } from '../../../src/emulators/ckan/content.js';
import { generateDatasets, startCkanEmulator, type CkanEmulator } from '../../../src/emulators/ckan/server.js';
import { action, call, post, SAMPLES, SYSADMIN } from './helpers.js';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

describe('paging and sorting', () => {
  let emu: CkanEmulator;
  // 60 datasets in 6 groups sharing one millisecond each (a bulk harvest), ids out of order.
  const datasets = Array.from({ length: 60 }, (_, i) => ({
    id: `id-${String((i * 37) % 60).padStart(2, '0')}`,
    name: `ds-${i}`,
    metadata_modified: `2025-01-0${1 + Math.floor(i / 10)}T00:00:00.000${String(100 + i).slice(-3)}`,
    tags: [{ name: i % 3 === 0 ? 'zenodo' : 'other' }],
  }));
  beforeAll(async () => {
    emu = await startCkanEmulator({ datasets });
  });
  afterAll(async () => {
    await emu.close();
  });

  const page = async (params: Record<string, string>): Promise<string[]> =>
    ((await action(emu, 'package_search', params)).body.result.results as { id: string }[]).map((d) => d.id);

  it('metadata_modified asc, id asc: ties broken by id, pages of 7 cover everything exactly once in order', async () => {
    const seen: string[] = [];
    for (let start = 0; ; start += 7) {
      const ids = await page({ sort: 'metadata_modified asc, id asc', rows: '7', start: String(start) });
      seen.push(...ids);
      if (ids.length < 7) break;
    }
    const expected = [...datasets].sort((a, b) => a.metadata_modified.slice(0, 23).localeCompare(b.metadata_modified.slice(0, 23)) || a.id.localeCompare(b.id)).map((d) => d.id);
    expect(seen).toEqual(expected);
  });

  it('multiple keys and directions; repeated queries give the same order', async () => {
    const a = await page({ sort: 'metadata_modified desc, name asc', rows: '60' });
    const b = await page({ sort: 'metadata_modified desc, name asc', rows: '60' });
    expect(a).toEqual(b);
    expect(a.slice(0, 10).sort()).toEqual(datasets.slice(50).map((d) => d.id).sort());
    const byId = await page({ sort: 'id desc', rows: '3' });
    expect(byId).toEqual(['id-59', 'id-58', 'id-57']);
  });

  it('a keyset scan with fq metadata_modified:[X TO *] and a filter returns the matches from X on', async () => {
    const ids = await page({ fq: 'tags:zenodo AND metadata_modified:[2025-01-05T00:00:00.000Z TO *]', sort: 'metadata_modified asc, id asc', rows: '100' });
    const expected = datasets.filter((d, i) => i % 3 === 0 && i >= 40).sort((x, y) => x.metadata_modified.slice(0, 23).localeCompare(y.metadata_modified.slice(0, 23)) || x.id.localeCompare(y.id)).map((d) => d.id);
    expect(ids).toEqual(expected);
  });

  it('an edit moves the dataset to the end of metadata_modified asc', async () => {
    const first = (await page({ sort: 'metadata_modified asc, id asc', rows: '1' }))[0]!;
    emu.updateDataset(first, { title: 'edited' });
    const all = await page({ sort: 'metadata_modified asc, id asc', rows: '100' });
    expect(all.at(-1)).toBe(first);
    expect(all).toHaveLength(60);
  });
});

describe('file content', () => {
  let emu: CkanEmulator;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckan-emu-'));
    await mkdir(join(dir, 'files'));
    await writeFile(join(dir, 'files', 'r-file'), 'real,bytes\n1,2\n');
    await writeFile(join(dir, 'ds.json'), JSON.stringify({
      id: 'ds', name: 'ds',
      resources: [
        { id: 'r-sized', url: 'https://elsewhere.example/x/Data File.CSV', url_type: 'upload', size: 200_000, format: 'CSV' },
        { id: 'r-null', url: 'https://elsewhere.example/y.bin', url_type: 'upload', size: null },
        { id: 'r-file', url: 'https://elsewhere.example/z.csv', url_type: 'upload', size: 1 },
      ],
    }));
    await writeFile(join(dir, 'not-a-dataset.json'), '{"result": {"records": []}}');
    await writeFile(join(dir, 'broken.json'), '{');
    emu = await startCkanEmulator({ seedDir: dir, defaultFileSize: 3000 });
  });
  afterAll(async () => {
    await emu.close();
    await rm(dir, { recursive: true, force: true });
  });

  const download = async (rid: string): Promise<{ status: number; length: string | undefined; body: Buffer }> => {
    const resource = (await action(emu, 'resource_show', { id: rid })).body.result as { url: string };
    const res = await request(resource.url);
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, length: res.headers['content-length'] as string | undefined, body };
  };

  it('is deterministic per resource id, matches the size field, and Content-Length is set', async () => {
    const a = await download('r-sized');
    const b = await download('r-sized');
    expect(a.status).toBe(200);
    expect(a.length).toBe('200000');
    expect(a.body.length).toBe(200_000);
    expect(md5(a.body)).toBe(md5(b.body));
    expect(md5(a.body)).toBe(md5(generatedBytes('r-sized', 200_000)));
    expect(md5(generatedBytes('r-null', 200_000))).not.toBe(md5(a.body));
    expect(emu.getDataset('ds')!.resources).toMatchObject([{ url: `${emu.url}/dataset/ds/resource/r-sized/download/data-file.csv` }, {}, {}]);
  });

  it('uses defaultFileSize when size is null and the seed file when there is one (size field corrected)', async () => {
    expect((await download('r-null')).body.length).toBe(3000);
    const file = await download('r-file');
    expect(file.body.toString()).toBe('real,bytes\n1,2\n');
    expect((await action(emu, 'resource_show', { id: 'r-file' })).body.result.size).toBe(15);
  });

  it('setResourceContent behaves like a re-upload: new bytes, size, hash, last_modified and metadata_modified', async () => {
    const before = emu.getDataset('ds')!;
    const after = emu.setResourceContent('r-null', Buffer.from('new content'));
    const r = (after.resources as Record<string, unknown>[])[1]!;
    expect(r).toMatchObject({ size: 11, hash: md5('new content') });
    expect(String(r.last_modified) > String((before.resources as Record<string, unknown>[])[1]!.metadata_modified)).toBe(true);
    expect(String(after.metadata_modified) > String(before.metadata_modified)).toBe(true);
    expect((await download('r-null')).body.toString()).toBe('new content');
    emu.setResourceContent('r-null', { size: 5_000_000, seed: 'v2' });
    const big = await download('r-null');
    expect(big.length).toBe('5000000');
    expect(md5(big.body)).toBe(md5(generatedBytes('v2', 5_000_000)));
  });

  it('streams a multi-GiB file with flat memory (first 64 MiB read, then the connection dropped)', async () => {
    emu.setResourceContent('r-sized', { size: 3 * 1024 ** 3, seed: 'huge' });
    const resource = (await action(emu, 'resource_show', { id: 'r-sized' })).body.result as { url: string };
    const res = await request(resource.url);
    expect(res.headers['content-length']).toBe(String(3 * 1024 ** 3));
    let read = 0;
    for await (const chunk of res.body) {
      read += (chunk as Buffer).length;
      if (read >= 64 * 1024 * 1024) break;
    }
    res.body.destroy();
    expect(read).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    expect(process.memoryUsage().rss).toBeLessThan(1.5 * 1024 ** 3);
  });
});

describe('test API over HTTP (/__emulator/)', () => {
  let emu: CkanEmulator;
  beforeAll(async () => {
    emu = await startCkanEmulator({ seedDir: SAMPLES });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('adds, patches, replaces content of, and deletes datasets like the in-process methods', async () => {
    const added = await call(emu, 'POST', '/__emulator/datasets', { json: { id: 'new-1', name: 'new-one', tags: ['zenodo'], resources: [{ id: 'nr-1', url: 'x.csv', url_type: 'upload', size: 10 }] } });
    expect(added.status).toBe(201);
    expect(added.body.resources[0].url).toBe(`${emu.url}/dataset/new-1/resource/nr-1/download/x.csv`);
    expect((await action(emu, 'package_search', { fq: 'name:new-one' })).body.result.count).toBe(1);

    const patched = await call(emu, 'PATCH', '/__emulator/datasets/new-one', { json: { title: 'Renamed' } });
    expect(patched.body.title).toBe('Renamed');
    expect(patched.body.metadata_modified > added.body.metadata_modified).toBe(true);

    const resourcePatch = await call(emu, 'PATCH', '/__emulator/datasets/new-1/resources/nr-1', { json: { size: 99 } });
    expect(resourcePatch.body.resources[0].size).toBe(99);

    const content = await call(emu, 'PUT', '/__emulator/resources/nr-1/content', { body: 'hello', headers: { 'content-type': 'application/octet-stream' } });
    expect(content.body.resources[0]).toMatchObject({ size: 5, hash: md5('hello') });
    const file = await call(emu, 'GET', '/dataset/new-1/resource/nr-1/download/x.csv');
    expect(file.text).toBe('hello');

    expect((await call(emu, 'DELETE', '/__emulator/datasets/new-1')).status).toBe(204);
    expect((await action(emu, 'package_search', { fq: 'name:new-one' })).body.result.count).toBe(0);
    expect((await action(emu, 'package_show', { id: 'new-1' })).status).toBe(403); // deleted, not purged
    expect((await action(emu, 'package_show', { id: 'new-1' }, SYSADMIN)).body.result.state).toBe('deleted');
    await call(emu, 'DELETE', '/__emulator/datasets/new-1?purge=true');
    expect((await action(emu, 'package_show', { id: 'new-1' }, SYSADMIN)).status).toBe(404);
    expect((await call(emu, 'PATCH', '/__emulator/datasets/nope', { json: {} })).status).toBe(404);
  });

  it('sets faults and exposes the request log', async () => {
    const set = await call(emu, 'POST', '/__emulator/faults', { body: 'package_show:503:1:count=1', headers: { 'content-type': 'text/plain' } });
    expect(set.status).toBe(200);
    expect((await action(emu, 'package_show', { id: 'harbour-budget-2024' })).status).toBe(503);
    expect((await action(emu, 'package_show', { id: 'harbour-budget-2024' })).status).toBe(200);
    const bad = await call(emu, 'POST', '/__emulator/faults', { json: [{ route: 'nope', kind: '503', probability: 1 }] });
    expect(bad.status).toBe(400);
    const log = (await call(emu, 'GET', '/__emulator/requests')).body as { path: string; action?: string; status: number }[];
    expect(log.filter((r) => r.action === 'package_show').map((r) => r.status).slice(-2)).toEqual([503, 200]);
  });
});

describe('faults', () => {
  let emu: CkanEmulator;
  beforeAll(async () => {
    emu = await startCkanEmulator({ seedDir: SAMPLES });
  });
  afterAll(async () => {
    await emu.close();
  });
  const FILE = '/dataset/ocean-temperatures-galway-bay/resource/a1e2c3d4-0001-4a5b-8c6d-7e8f9a0b1c01/download/x.csv';

  it('5xx and 429 with Retry-After, for the chosen route only', async () => {
    emu.setFaults([{ route: 'package_search', kind: '502', probability: 1, count: 1 }, { route: 'download', kind: '429', probability: 1, count: 1, retryAfterSeconds: 7 }]);
    expect((await action(emu, 'package_show', { id: 'harbour-budget-2024' })).status).toBe(200);
    expect((await action(emu, 'package_search')).status).toBe(502);
    expect((await action(emu, 'package_search')).status).toBe(200);
    const limited = await call(emu, 'GET', FILE);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
  });

  it('connection reset', async () => {
    emu.setFaults([{ route: 'any', kind: 'reset', probability: 1, count: 1 }]);
    await expect(action(emu, 'status_show')).rejects.toThrow();
    expect((await action(emu, 'status_show')).status).toBe(200);
    expect(emu.requests.some((r) => r.action === 'status_show' && r.status === 0)).toBe(true);
  });

  it('truncated download: full Content-Length promised, a prefix delivered, connection closed', async () => {
    emu.setFaults([{ route: 'download', kind: 'truncate', probability: 1, count: 1, fraction: 0.25 }]);
    const res = await request(`${emu.url}${FILE}`);
    expect(res.headers['content-length']).toBe('48213');
    let got = 0;
    await expect(
      (async () => {
        for await (const chunk of res.body) got += (chunk as Buffer).length;
      })(),
    ).rejects.toThrow();
    expect(got).toBe(Math.floor(48213 * 0.25));
    const whole = await call(emu, 'GET', FILE);
    expect(whole.status).toBe(200);
  });

  it('status after the action ran: the patch is applied although the client saw 504', async () => {
    emu.setFaults([{ route: 'package_patch', kind: '504-after', probability: 1, count: 1 }]);
    const res = await post(emu, 'package_patch', { id: 'harbour-budget-2024', title: 'Patched anyway' }, SYSADMIN);
    expect(res.status).toBe(504);
    expect(emu.getDataset('harbour-budget-2024')!.title).toBe('Patched anyway');
  });

  it('slow responses still answer', async () => {
    emu.setFaults([{ route: 'status_show', kind: 'slow', probability: 1, count: 1, delayMs: 50 }]);
    expect((await action(emu, 'status_show')).status).toBe(200);
  });
});

describe('generateDatasets', () => {
  it('is deterministic, tags the requested share and loads into the emulator', async () => {
    const a = generateDatasets({ count: 2000, taggedShare: 0.1, seed: 5, resourcesPerDataset: 3 });
    const b = generateDatasets({ count: 2000, taggedShare: 0.1, seed: 5, resourcesPerDataset: 3 });
    expect(a).toEqual(b);
    const tagged = a.filter((d) => d.tags.some((t) => t.name === 'zenodo')).length;
    expect(tagged).toBeGreaterThan(150);
    expect(tagged).toBeLessThan(250);
    expect(new Set(a.map((d) => d.id)).size).toBe(2000);
    expect(a.every((d) => d.resources.length === 3)).toBe(true);
    const emu = await startCkanEmulator({ datasets: a });
    try {
      const res = await action(emu, 'package_search', { fq: 'tags:zenodo', rows: '0' });
      expect(res.body.result.count).toBe(tagged);
    } finally {
      await emu.close();
    }
  });
});
