/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-explicit-any --
   Zenodo answers are untyped JSON; their shape is exactly what these tests assert. */
/**
 * One test per item of the conformance checklist in reference/zenodo-api.md §11, named by its
 * number, over real HTTP against the emulator on a loopback port.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { startZenodoEmulator, type ZenodoEmulator } from '../../../src/emulators/zenodo/server.js';
import { call, createDraft, publishedRecord, today, TOKEN, upload, validMetadata } from './helpers.js';

let emu: ZenodoEmulator;
const dep = '/api/deposit/depositions';

beforeAll(async () => {
  // A budget far above what the suite sends, so the headers are present but never bite.
  emu = await startZenodoEmulator({ rateLimit: { perMinute: 100_000, perHour: 1_000_000 } });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  emu.reset();
});

const md5 = (text: string | Buffer): string => createHash('md5').update(text).digest('hex');

describe('auth and transport', () => {
  test('11.1 no valid token gets 403 JSON; Bearer and ?access_token= authenticate', async () => {
    const draft = await createDraft(emu);
    for (const [method, path] of [['GET', dep], ['POST', dep], ['GET', `${dep}/${draft.id}`], ['PUT', `${dep}/${draft.id}`], ['DELETE', `${dep}/${draft.id}`]] as const) {
      for (const token of [null, 'wrong-token']) {
        const res = await call(emu, method, path, { token, ...(method === 'POST' || method === 'PUT' ? { json: {} } : {}) });
        expect(res.status, `${method} ${path} token=${token}`).toBe(403);
        expect(res.body).toMatchObject({ status: 403, message: expect.any(String) });
      }
    }
    expect((await call(emu, 'GET', dep)).status).toBe(200);
    const viaQuery = await call(emu, 'GET', `${dep}/${draft.id}?access_token=${TOKEN}`, { token: null });
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.body.id).toBe(draft.id);
    expect(emu.state.depositions).toHaveLength(1);
  });

  test('11.2 create and PUT need exactly application/json (415 otherwise); none is accepted as JSON', async () => {
    const wrong = await call(emu, 'POST', dep, { body: '{}', headers: { 'content-type': 'text/plain' } });
    expect(wrong.status).toBe(415);
    expect(wrong.body).toEqual({ status: 415, message: "Invalid 'Content-Type' header. Expected one of: application/json" });
    const draft = await createDraft(emu);
    const charset = await call(emu, 'PUT', `${dep}/${draft.id}`, { body: JSON.stringify({ metadata: validMetadata() }), headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(charset.status).toBe(415);
    const none = await call(emu, 'POST', dep, { body: '{}' });
    expect(none.status).toBe(201);
    expect(emu.state.depositions).toHaveLength(2);
  });

  test('11.3 bucket PUT with a Content-Type other than application/octet-stream gets 415', async () => {
    const draft = await createDraft(emu);
    const zip = await call(emu, 'PUT', `${draft.links.bucket}/a.zip`, { body: 'PK..', headers: { 'content-type': 'application/zip' } });
    expect(zip.status).toBe(415);
    expect(zip.body.message).toBe("Invalid 'Content-Type' header. Expected one of: application/octet-stream");
    const none = await call(emu, 'PUT', `${draft.links.bucket}/b.bin`, { body: 'abc' });
    expect(none.status).toBe(201);
    expect(emu.state.depositions[0]!.files.map((f) => f.key)).toEqual(['b.bin']);
  });

  test('11.4 rate-limit headers on every response; 429 "<N> per 1 minute" past the budget; defaults 100 and 133', async () => {
    let clock = 1_800_000_000_000;
    const limited = await startZenodoEmulator({ rateLimit: { perMinute: 3, perHour: 100 }, now: () => clock });
    try {
      const first = await call(limited, 'GET', '/api/deposit/depositions/999');
      expect(first.status).toBe(404);
      expect(first.headers['x-ratelimit-limit']).toBe('3');
      expect(first.headers['x-ratelimit-remaining']).toBe('2');
      expect(first.headers['x-ratelimit-reset']).toBe(String(clock / 1000 + 60));
      expect(first.headers['retry-after']).toBe('60');
      clock += 10_000;
      expect((await call(limited, 'POST', dep, { json: {} })).headers['x-ratelimit-remaining']).toBe('1');
      expect((await call(limited, 'GET', dep)).headers['x-ratelimit-remaining']).toBe('0');
      const refused = await call(limited, 'GET', dep);
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({ status: 429, message: '3 per 1 minute' });
      // Moving window: the first hit ages out 60 s after it was made, 50 s from now.
      expect(refused.headers['retry-after']).toBe('50');
      expect(refused.headers['x-ratelimit-reset']).toBe(String((clock - 10_000) / 1000 + 60));
      clock += 50_001;
      expect((await call(limited, 'GET', dep)).status).toBe(200);
      // Another token has its own budget.
    } finally {
      await limited.close();
    }
    const defaults = await startZenodoEmulator();
    try {
      expect((await call(defaults, 'GET', dep)).headers['x-ratelimit-limit']).toBe('100');
      expect((await call(defaults, 'GET', dep, { token: null })).headers['x-ratelimit-limit']).toBe('133');
    } finally {
      await defaults.close();
    }
  });
});

describe('create, read, update', () => {
  test('11.5 POST {} gives a fresh unsubmitted draft', async () => {
    const res = await call(emu, 'POST', dep, { json: {} });
    expect(res.status).toBe(201);
    const d = res.body;
    expect(d).toMatchObject({ state: 'unsubmitted', submitted: false, title: '', files: [] });
    expect(Number.isInteger(d.id)).toBe(true);
    expect(d.record_id).toBe(d.id);
    expect(d.conceptrecid).toBe(String(d.id - 1));
    expect(d).not.toHaveProperty('doi');
    expect(d).not.toHaveProperty('doi_url');
    expect(d).not.toHaveProperty('conceptdoi');
    expect(d.metadata.prereserve_doi).toEqual({ doi: `10.5281/zenodo.${d.id}`, recid: d.id });
  });

  test('11.6 create and GET carry all draft links, latest_draft == self', async () => {
    const created = await createDraft(emu);
    const got = (await call(emu, 'GET', `${dep}/${created.id}`)).body;
    for (const d of [created, got]) {
      for (const link of ['self', 'html', 'badge', 'files', 'bucket', 'latest_draft', 'latest_draft_html', 'publish', 'edit', 'discard', 'newversion']) {
        expect(d.links[link], link).toEqual(expect.stringContaining(emu.url));
      }
      expect(d.links.self).toBe(`${emu.url}${dep}/${created.id}`);
      expect(d.links.latest_draft).toBe(d.links.self);
      expect(d.links.publish).toBe(`${emu.url}${dep}/${created.id}/actions/publish`);
      expect(d.links.bucket).toMatch(new RegExp(`^${emu.url}/api/files/[0-9a-f-]{36}$`));
    }
  });

  test('11.7 a top-level key other than metadata gives 400 and changes nothing', async () => {
    const bad = await call(emu, 'POST', dep, { json: { metadata: validMetadata(), id: 5 } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: 'id', messages: ['Unknown field.'] }]);
    expect(emu.state.depositions).toHaveLength(0);
    const draft = await createDraft(emu);
    const echoed = await call(emu, 'PUT', `${dep}/${draft.id}`, { json: { ...draft, metadata: { ...draft.metadata, title: 'Changed title' } } });
    expect(echoed.status).toBe(400);
    expect((await call(emu, 'GET', `${dep}/${draft.id}`)).body.metadata.title).toBe('Ocean temperatures');
  });

  test('11.8 PUT replaces metadata entirely; a missing publication_date becomes today', async () => {
    const draft = await createDraft(emu, validMetadata({ keywords: ['sea'], publication_date: '2020-02-02', version: '1' }));
    expect(draft.metadata.keywords).toEqual(['sea']);
    const put = await call(emu, 'PUT', `${dep}/${draft.id}`, { json: { metadata: { title: 'Only a title' } } });
    expect(put.status).toBe(200);
    const m = (await call(emu, 'GET', `${dep}/${draft.id}`)).body.metadata;
    expect(m.title).toBe('Only a title');
    expect(m).not.toHaveProperty('keywords');
    expect(m).not.toHaveProperty('version');
    expect(m).not.toHaveProperty('creators');
    expect(m.publication_date).toBe(today());
  });

  test('11.9 licence defaults: cc-zero for open datasets, cc-by-4.0 otherwise; access_right defaults to open', async () => {
    const dataset = await createDraft(emu, validMetadata());
    expect(dataset.metadata.license).toBe('cc-zero');
    expect(dataset.metadata.access_right).toBe('open');
    const software = await createDraft(emu, validMetadata({ upload_type: 'software' }));
    expect(software.metadata.license).toBe('cc-by-4.0');
    const given = await createDraft(emu, validMetadata({ license: 'CC0-1.0' }));
    expect(given.metadata.license).toBe('cc-zero');
  });

  test('11.10 an unknown licence gives 400 on metadata.license with a messages array', async () => {
    const res = await call(emu, 'POST', dep, { json: { metadata: validMetadata({ license: 'not-a-licence' }) } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('metadata.license');
    expect(res.body.errors[0].messages).toEqual(['Invalid license provided: not-a-licence']);
    expect(emu.state.depositions).toHaveLength(0);
  });

  test('11.11 embargoed without embargo_date gives 400; closed reads back as restricted', async () => {
    const res = await call(emu, 'POST', dep, { json: { metadata: validMetadata({ access_right: 'embargoed' }) } });
    expect(res.status).toBe(400);
    const ok = await call(emu, 'POST', dep, { json: { metadata: validMetadata({ access_right: 'embargoed', embargo_date: '2030-01-01' }) } });
    expect(ok.status).toBe(201);
    const closed = await createDraft(emu, validMetadata({ access_right: 'closed' }));
    expect(closed.metadata.access_right).toBe('restricted');
  });

  test('11.12 "Doe, John" round-trips; ORCID URLs and orcid: prefixes come back bare', async () => {
    const draft = await createDraft(emu, validMetadata({
      creators: [
        { name: 'Doe, John', orcid: 'https://orcid.org/0000-0002-1825-0097' },
        { name: 'Roe, Ann', orcid: 'orcid:0000-0001-5109-3700' },
      ],
    }));
    const got = (await call(emu, 'GET', `${dep}/${draft.id}`)).body;
    expect(got.metadata.creators).toEqual([
      { name: 'Doe, John', orcid: '0000-0002-1825-0097' },
      { name: 'Roe, Ann', orcid: '0000-0001-5109-3700' },
    ]);
  });

  test('11.13 related_identifiers of the wrong shape give 400 with field paths', async () => {
    const cases: [unknown, string][] = [
      ['10.1234/x', 'metadata.related_identifiers'],
      [['10.1234/x'], 'metadata.related_identifiers.0'],
      [[{ identifier: '10.1234/x', relation: 'cites' }, { identifier: '10.1234/y', relation: 7 }], 'metadata.related_identifiers.1.relation'],
    ];
    for (const [value, field] of cases) {
      const res = await call(emu, 'POST', dep, { json: { metadata: validMetadata({ related_identifiers: value }) } });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    const ok = await createDraft(emu, validMetadata({ related_identifiers: [{ identifier: 'https://ckan.example.org/dataset/x', relation: 'ISDERIVEDFROM' }] }));
    expect(ok.metadata.related_identifiers).toEqual([{ identifier: 'https://ckan.example.org/dataset/x', relation: 'isDerivedFrom', scheme: 'url' }]);
  });

  test('11.14 list is a bare array of drafts and latest versions; size=101 gives 400', async () => {
    const v1 = await publishedRecord(emu);
    const v2draft = (await call(emu, 'POST', `${dep}/${v1.id}/actions/newversion`)).body;
    await call(emu, 'POST', `${dep}/${v2draft.id}/actions/publish`);
    const draft = await createDraft(emu);
    const res = await call(emu, 'GET', dep);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.body.map((d: { id: number }) => d.id).sort()).toEqual([v2draft.id, draft.id].sort());
    const all = await call(emu, 'GET', `${dep}?all_versions=true`);
    expect(all.body).toHaveLength(3);
    const byConcept = await call(emu, 'GET', `${dep}?q=conceptrecid:${v1.conceptrecid}`);
    expect(byConcept.body.map((d: { id: number }) => d.id)).toEqual([v2draft.id]);
    expect((await call(emu, 'GET', `${dep}?status=draft`)).body.map((d: { id: number }) => d.id)).toEqual([draft.id]);
    const paged = await call(emu, 'GET', `${dep}?size=1&page=2&sort=-mostrecent`);
    expect(paged.body.map((d: { id: number }) => d.id)).toEqual([draft.id]);
    const big = await call(emu, 'GET', `${dep}?size=101`);
    expect(big.status).toBe(400);
    expect(big.body.errors[0].messages).toEqual(['Page size cannot be greater than 100.']);
  });
});

async function multipart(emuUrl: string, id: number, fields: { name?: string; filename: string; content: string }): Promise<{ status: number; body: any }> {
  const form = new FormData();
  if (fields.name !== undefined) form.append('name', fields.name);
  form.append('file', new Blob([fields.content]), fields.filename);
  const res = await fetch(`${emuUrl}${dep}/${id}/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, body: await res.json() };
}

describe('files', () => {
  test('11.15 multipart POST /files gives 201 with a bare md5 checksum', async () => {
    const draft = await createDraft(emu);
    const res = await multipart(emu.url, draft.id, { name: 'my_first_file.csv', filename: 'ignored.csv', content: '1, 2, 3' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ filename: 'my_first_file.csv', filesize: 7, checksum: '66ce05ea43c73b8e33c74c12d0371bc9' });
    expect(typeof res.body.id).toBe('string');
    expect(res.body.links.self).toBe(`${emu.url}${dep}/${draft.id}/files/${res.body.id}`);
    expect(res.body.links.download).toBe(`${emu.url}/api/records/${draft.id}/draft/files/my_first_file.csv/content`);
    const download = await call(emu, 'GET', res.body.links.download);
    expect(download.text).toBe('1, 2, 3');
  });

  test('11.16 multipart names go through secure_filename; the same key twice gives 400', async () => {
    const draft = await createDraft(emu);
    const first = await multipart(emu.url, draft.id, { name: 'a b.csv', filename: 'x', content: 'abc' });
    expect(first.body.filename).toBe('a_b.csv');
    const fromFile = await multipart(emu.url, draft.id, { filename: 'my data (v2).csv', content: 'abc' });
    expect(fromFile.body.filename).toBe('my_data_v2.csv');
    const again = await multipart(emu.url, draft.id, { name: 'a b.csv', filename: 'x', content: 'def' });
    expect(again.status).toBe(400);
    expect(again.body.message).toBe('File with key a_b.csv already exists.');
  });

  test('11.17 bucket PUT gives 201 with an md5: checksum; overwriting a key gives 201 too', async () => {
    const draft = await createDraft(emu);
    const res = await upload(emu, draft.links.bucket, 'my_third_file.csv', '4, 5, 6');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      key: 'my_third_file.csv', size: 7, mimetype: 'text/csv', checksum: 'md5:c2d626f8beba73ad0cf4e66214f7d949',
      is_head: true, delete_marker: false,
    });
    for (const k of ['version_id', 'created', 'updated']) expect(typeof res.body[k]).toBe('string');
    expect(res.body.links.self).toBe(`${draft.links.bucket}/my_third_file.csv`);
    expect(res.body.links.version).toContain('?version_id=');
    expect(res.body.links.uploads).toContain('?uploads=1');
    const again = await upload(emu, draft.links.bucket, 'my_third_file.csv', '1, 2, 3');
    expect(again.status).toBe(201);
    const files = (await call(emu, 'GET', `${dep}/${draft.id}/files`)).body;
    expect(files).toHaveLength(1);
    expect(files[0].checksum).toBe('66ce05ea43c73b8e33c74c12d0371bc9');
  });

  test('11.18 empty files, the 101st file and the quota give 400', async () => {
    const draft = await createDraft(emu);
    const empty = await upload(emu, draft.links.bucket, 'empty.csv', '');
    expect(empty.status).toBe(400);
    expect(empty.body.message).toBe('Empty files are not accepted.');
    for (let i = 0; i < 100; i++) expect((await upload(emu, draft.links.bucket, `f${i}.txt`, `${i}`)).status).toBe(201);
    const extra = await upload(emu, draft.links.bucket, 'f100.txt', 'x');
    expect(extra.status).toBe(400);
    expect(extra.body.message).toBe('Uploading selected files will result in exceeding the max amount per record.');
    expect((await upload(emu, draft.links.bucket, 'f0.txt', 'overwrite is fine')).status).toBe(201);
    const small = await startZenodoEmulator({ quotaBytes: 10, rateLimit: false });
    try {
      const d = await createDraft(small);
      expect((await upload(small, d.links.bucket, 'a', '12345678')).status).toBe(201);
      const over = await upload(small, d.links.bucket, 'b', '123');
      expect(over.status).toBe(400);
      expect(over.body.message).toBe('Bucket quota exceeded.');
      expect(small.state.depositions[0]!.files.map((f) => f.key)).toEqual(['a']);
    } finally {
      await small.close();
    }
  });

  test('11.19 DELETE /files/{id} on a draft gives 204 and the file is gone; unknown id gives 404', async () => {
    const draft = await createDraft(emu);
    await upload(emu, draft.links.bucket, 'a.csv', 'aaa');
    await upload(emu, draft.links.bucket, 'b.csv', 'bbb');
    const files = (await call(emu, 'GET', `${dep}/${draft.id}/files`)).body;
    const a = files.find((f: { filename: string }) => f.filename === 'a.csv');
    const del = await call(emu, 'DELETE', `${dep}/${draft.id}/files/${a.id}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await call(emu, 'GET', `${dep}/${draft.id}/files`)).body.map((f: { filename: string }) => f.filename)).toEqual(['b.csv']);
    expect((await call(emu, 'GET', `${dep}/${draft.id}`)).body.files.map((f: { filename: string }) => f.filename)).toEqual(['b.csv']);
    expect((await call(emu, 'DELETE', `${dep}/${draft.id}/files/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
  });

  test('11.20 sorting (PUT /files) and renaming (PUT /files/{id}) give 405', async () => {
    const draft = await createDraft(emu);
    const up = await multipart(emu.url, draft.id, { name: 'a.csv', filename: 'a.csv', content: 'abc' });
    expect((await call(emu, 'PUT', `${dep}/${draft.id}/files`, { json: [{ id: up.body.id }] })).status).toBe(405);
    expect((await call(emu, 'PUT', `${dep}/${draft.id}/files/${up.body.id}`, { json: { filename: 'b.csv' } })).status).toBe(405);
  });
});

describe('publish and edit', () => {
  test('11.21 publish without files gives 400 on files.enabled', async () => {
    const draft = await createDraft(emu);
    const res = await call(emu, 'POST', `${dep}/${draft.id}/actions/publish`);
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].field).toBe('files.enabled');
    expect(res.body.errors[0].messages[0]).toMatch(/^Missing uploaded files\. /);
    expect(emu.state.depositions[0]!.state).toBe('unsubmitted');
  });

  test('11.22 publish lists every missing required field although the PUT said 200; a 2-character title fails', async () => {
    const draft = await createDraft(emu);
    await upload(emu, draft.links.bucket, 'a.csv', 'abc');
    const put = await call(emu, 'PUT', `${dep}/${draft.id}`, { json: { metadata: { description: 'no title, creators or type' } } });
    expect(put.status).toBe(200);
    const res = await call(emu, 'POST', `${dep}/${draft.id}/actions/publish`);
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('A validation error occurred.');
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['metadata.title', 'metadata.creators', 'metadata.resource_type']));
    for (const e of res.body.errors) expect(Array.isArray(e.messages)).toBe(true);
    await call(emu, 'PUT', `${dep}/${draft.id}`, { json: { metadata: validMetadata({ title: 'ab' }) } });
    const short = await call(emu, 'POST', `${dep}/${draft.id}/actions/publish`);
    expect(short.status).toBe(400);
    expect(short.body.errors.map((e: { field: string }) => e.field)).toEqual(['metadata.title']);
  });

  test('11.23 publish gives 202 with DOIs (10.5072 in sandbox mode) and links.self on /api/records', async () => {
    const rec = await publishedRecord(emu);
    expect(rec).toMatchObject({ state: 'done', submitted: true, doi: `10.5281/zenodo.${rec.id}`, doi_url: `https://doi.org/10.5281/zenodo.${rec.id}`, conceptdoi: `10.5281/zenodo.${rec.conceptrecid}` });
    expect(rec.links.self).toBe(`${emu.url}/api/records/${rec.id}`);
    const viaSelf = await call(emu, 'GET', rec.links.self);
    expect(viaSelf.status).toBe(200);
    expect(viaSelf.body.doi).toBe(rec.doi);
    const sandbox = await startZenodoEmulator({ sandbox: true, rateLimit: false });
    try {
      const s = await publishedRecord(sandbox);
      expect(s.doi).toBe(`10.5072/zenodo.${s.id}`);
      expect(s.conceptdoi).toBe(`10.5072/zenodo.${s.conceptrecid}`);
      // prereserve_doi stays on 10.5281 even on the sandbox (Q20).
      expect(s.metadata.prereserve_doi.doi).toBe(`10.5281/zenodo.${s.id}`);
    } finally {
      await sandbox.close();
    }
  });

  test('11.24 on a published record: publish, PUT, DELETE and POST /files give 404; file DELETE and bucket PUT give 403', async () => {
    const rec = await publishedRecord(emu);
    expect((await call(emu, 'POST', `${dep}/${rec.id}/actions/publish`)).status).toBe(404);
    expect((await call(emu, 'PUT', `${dep}/${rec.id}`, { json: { metadata: validMetadata() } })).status).toBe(404);
    expect((await call(emu, 'DELETE', `${dep}/${rec.id}`)).status).toBe(404);
    expect((await multipart(emu.url, rec.id, { name: 'x.csv', filename: 'x.csv', content: 'x' })).status).toBe(404);
    expect((await call(emu, 'DELETE', `${dep}/${rec.id}/files/${rec.files[0].id}`)).status).toBe(403);
    expect((await upload(emu, rec.links.bucket, 'x.csv', 'x')).status).toBe(403);
    expect((await call(emu, 'GET', `${dep}/${rec.id}`)).body.files).toHaveLength(1);
  });

  test('11.25 edit gives 201 inprogress (idempotent); files locked; publish keeps id and DOI', async () => {
    const rec = await publishedRecord(emu);
    const edit = await call(emu, 'POST', `${dep}/${rec.id}/actions/edit`);
    expect(edit.status).toBe(201);
    expect(edit.body).toMatchObject({ id: rec.id, state: 'inprogress', submitted: true });
    const again = await call(emu, 'POST', `${dep}/${rec.id}/actions/edit`);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(rec.id);
    expect((await upload(emu, edit.body.links.bucket, 'new.csv', 'x')).status).toBe(403);
    expect((await call(emu, 'DELETE', `${dep}/${rec.id}/files/${rec.files[0].id}`)).status).toBe(403);
    expect((await call(emu, 'PUT', `${dep}/${rec.id}`, { json: { metadata: validMetadata({ title: 'Ocean temperatures, corrected' }) } })).status).toBe(200);
    const pub = await call(emu, 'POST', `${dep}/${rec.id}/actions/publish`);
    expect(pub.status).toBe(202);
    expect(pub.body).toMatchObject({ id: rec.id, doi: rec.doi, state: 'done', title: 'Ocean temperatures, corrected' });
    expect(pub.body.files.map((f: { checksum: string }) => f.checksum)).toEqual(rec.files.map((f: { checksum: string }) => f.checksum));
  });

  test('11.26 discarding or deleting an edit draft gives 204 and restores the published metadata', async () => {
    const rec = await publishedRecord(emu);
    for (const how of ['discard', 'delete'] as const) {
      await call(emu, 'POST', `${dep}/${rec.id}/actions/edit`);
      await call(emu, 'PUT', `${dep}/${rec.id}`, { json: { metadata: validMetadata({ title: 'Not kept' }) } });
      const res = how === 'discard' ? await call(emu, 'POST', `${dep}/${rec.id}/actions/discard`) : await call(emu, 'DELETE', `${dep}/${rec.id}`);
      expect(res.status).toBe(204);
      const got = (await call(emu, 'GET', `${dep}/${rec.id}`)).body;
      expect(got.state).toBe('done');
      expect(got.metadata.title).toBe('Ocean temperatures');
    }
  });

  test('11.27 discarding or deleting a never-published draft gives 204, then GET is 404', async () => {
    const a = await createDraft(emu);
    const b = await createDraft(emu);
    expect((await call(emu, 'POST', `${dep}/${a.id}/actions/discard`)).status).toBe(204);
    expect((await call(emu, 'DELETE', `${dep}/${b.id}`)).status).toBe(204);
    expect((await call(emu, 'GET', `${dep}/${a.id}`)).status).toBe(404);
    expect((await call(emu, 'GET', `${dep}/${b.id}`)).status).toBe(404);
    expect((await call(emu, 'DELETE', `${dep}/${b.id}`)).status).toBe(404);
    expect(emu.state.depositions).toHaveLength(0);
  });
});

describe('new version', () => {
  test('11.28 newversion gives 201 and the new draft itself', async () => {
    const rec = await publishedRecord(emu);
    const res = await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`);
    expect(res.status).toBe(201);
    expect(res.body.id).not.toBe(rec.id);
    expect(res.body).toMatchObject({ conceptrecid: rec.conceptrecid, state: 'unsubmitted', submitted: false, conceptdoi: rec.conceptdoi });
    expect(res.body).not.toHaveProperty('doi');
    expect(res.body.links.latest_draft).toBe(res.body.links.self);
    expect(res.body.links.self).toBe(`${emu.url}${dep}/${res.body.id}`);
  });

  test('11.29 the new draft copies the metadata without version, with publication_date today', async () => {
    const rec = await publishedRecord(emu, undefined, validMetadata({ version: '1.0', publication_date: '2020-01-01', keywords: ['sea'] }));
    const draft = (await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`)).body;
    const { prereserve_doi: _a, doi: _b, version, publication_date: oldDate, ...oldRest } = rec.metadata;
    expect(version).toBe('1.0');
    expect(oldDate).toBe('2020-01-01');
    const { prereserve_doi: _c, publication_date: newDate, ...newRest } = draft.metadata;
    expect(draft.metadata).not.toHaveProperty('version');
    expect(newDate).toBe(today());
    expect(newRest).toEqual(oldRest);
  });

  test('11.30 the new draft carries the latest files (same ids and checksums) in its own bucket', async () => {
    const rec = await publishedRecord(emu, { 'a.csv': 'aaa', 'b.csv': 'bbb' });
    const draft = (await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`)).body;
    const pick = (files: { id: string; filename: string; checksum: string }[]): unknown => files.map(({ id, filename, checksum }) => ({ id, filename, checksum }));
    expect(pick(draft.files)).toEqual(pick(rec.files));
    expect(draft.files.map((f: { checksum: string }) => f.checksum)).toEqual([md5('aaa'), md5('bbb')]);
    expect(draft.links.bucket).not.toBe(rec.links.bucket);
    // The carried files are the draft's own: deleting one leaves the published version intact.
    expect((await call(emu, 'DELETE', `${dep}/${draft.id}/files/${draft.files[0].id}`)).status).toBe(204);
    expect((await call(emu, 'GET', `/api/records/${rec.id}`)).body.files).toHaveLength(2);
  });

  test('11.31 a second newversion while the pending draft has files gives the 400 "Please remove all files first."', async () => {
    const rec = await publishedRecord(emu);
    const draft = (await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`)).body;
    await call(emu, 'PUT', `${dep}/${draft.id}`, { json: { metadata: validMetadata({ version: '2' }) } });
    const res = await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: 400, message: 'A validation error occurred.', errors: [{ field: 'files.enabled', messages: ['Please remove all files first.'] }] });
    const after = (await call(emu, 'GET', `${dep}/${draft.id}`)).body;
    expect(after.files).toEqual(draft.files);
    expect(after.metadata.version).toBe('2');
    expect(emu.state.depositions).toHaveLength(2);
  });

  test('11.32 after emptying the pending draft, newversion returns the same draft with the files re-imported', async () => {
    const rec = await publishedRecord(emu, { 'a.csv': 'aaa' });
    const draft = (await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`)).body;
    await call(emu, 'DELETE', `${dep}/${draft.id}/files/${draft.files[0].id}`);
    expect((await call(emu, 'GET', `${dep}/${draft.id}/files`)).body).toEqual([]);
    const res = await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`);
    expect(res.status).toBe(201);
    expect(res.body.id).toBe(draft.id);
    expect(res.body.files.map((f: { filename: string }) => f.filename)).toEqual(['a.csv']);
  });

  test('11.33 newversion on an older version bases the draft on the latest version', async () => {
    const v1 = await publishedRecord(emu, { 'a.csv': 'aaa' });
    const d2 = (await call(emu, 'POST', `${dep}/${v1.id}/actions/newversion`)).body;
    await call(emu, 'PUT', `${dep}/${d2.id}`, { json: { metadata: validMetadata({ title: 'Version two', version: '2' }) } });
    await call(emu, 'DELETE', `${dep}/${d2.id}/files/${d2.files[0].id}`);
    await upload(emu, d2.links.bucket, 'b.csv', 'bbb');
    expect((await call(emu, 'POST', `${dep}/${d2.id}/actions/publish`)).status).toBe(202);
    const d3 = (await call(emu, 'POST', `${dep}/${v1.id}/actions/newversion`)).body;
    expect(d3.metadata.title).toBe('Version two');
    expect(d3.files.map((f: { filename: string }) => f.filename)).toEqual(['b.csv']);
  });

  test('11.34 newversion on an unpublished draft gives 404', async () => {
    const draft = await createDraft(emu);
    expect((await call(emu, 'POST', `${dep}/${draft.id}/actions/newversion`)).status).toBe(404);
    const rec = await publishedRecord(emu);
    const pending = (await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`)).body;
    expect((await call(emu, 'POST', `${dep}/${pending.id}/actions/newversion`)).status).toBe(404);
  });

  test('11.35 the old version stays done and its latest_draft points at itself', async () => {
    const rec = await publishedRecord(emu);
    await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`);
    const old = (await call(emu, 'GET', `${dep}/${rec.id}`)).body;
    expect(old.state).toBe('done');
    expect(old.links.latest_draft).toBe(`${emu.url}${dep}/${rec.id}`);
  });

  test('11.36 publishing the new draft gives a new DOI under the same concept DOI; old latest redirects to it', async () => {
    const rec = await publishedRecord(emu);
    const draft = (await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`)).body;
    // Identical files are accepted (no "files must differ" check under RDM).
    const pub = await call(emu, 'POST', `${dep}/${draft.id}/actions/publish`);
    expect(pub.status).toBe(202);
    expect(pub.body.doi).toBe(`10.5281/zenodo.${draft.id}`);
    expect(pub.body.conceptdoi).toBe(rec.conceptdoi);
    const latest = await call(emu, 'GET', rec.links.latest);
    expect(latest.status).toBe(302);
    expect(latest.headers.location).toBe(`${emu.url}/api/records/${draft.id}`);
    const versions = (await call(emu, 'GET', `/api/records/${rec.id}/versions`)).body;
    expect(versions.hits.total).toBe(2);
    expect(versions.hits.hits[0].id).toBe(draft.id);
  });

  test('11.37 deleting the pending draft frees the slot; the next newversion gets yet another id', async () => {
    const rec = await publishedRecord(emu);
    const first = (await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`)).body;
    expect((await call(emu, 'DELETE', `${dep}/${first.id}`)).status).toBe(204);
    const second = await call(emu, 'POST', `${dep}/${rec.id}/actions/newversion`);
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.id);
    expect(second.body.id).not.toBe(rec.id);
    expect(second.body.files).toHaveLength(1);
  });
});
