/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call --
   CKAN answers are untyped JSON; their shape is exactly what these tests assert. */
/**
 * The CKAN emulator against reference ckan-api.md: every recorded real payload loads, and each
 * item of the §11 emulator checklist has a test named by its number.
 */
import { readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCkanEmulator, type CkanEmulator } from '../../../src/emulators/ckan/server.js';
import { createLogger } from '../../../src/log.js';
import { action, call, FIXTURES, post, SAMPLES, SYSADMIN } from './helpers.js';

const TOKENS = {
  [SYSADMIN]: { user: 'archiver', sysadmin: true },
  'yuki-token': { user: 'yuki' },
  'nikos-token': { user: 'nikos' },
};
const PRIVATE_ID = 'e5d4c3b2-a190-4f8e-8d7c-6b5a49382701';
const GALWAY = '0d7a5e2c-3f41-4b8e-9a6d-1c2b3e4f5a60';
const BUS = '7c6b5a49-3827-4165-a4f3-e2d1c0b9a801';
const BUS_TABLE = 'c3d4e5f6-0001-4a7b-8c9d-0e1f2a3b4c01';

let emu: CkanEmulator;
beforeAll(async () => {
  emu = await startCkanEmulator({ seedDir: SAMPLES, tokens: TOKENS });
});
afterAll(async () => {
  await emu.close();
});

describe('seeding', () => {
  it('loads every real fixture file (bare dicts, show and search envelopes) and skips the datastore_search one with a note', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
    const fixtures = await startCkanEmulator({ seedDir: FIXTURES, log: createLogger({ level: 'info', destination: sink }) });
    try {
      const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
      expect(files.length).toBeGreaterThanOrEqual(7);
      // 10 + 2 search results, 4 package_show/bare dicts.
      expect(fixtures.datasets().length).toBe(16);
      for (const id of ['17be64bb-da74-4195-9bb8-565c39846af2', 'f5d0ab3b-5549-486e-a619-1fc5702237f7', '91c9414e-13ce-49c2-9b1e-3ccc9e4a5314', '312c1ce8-e90e-4661-a28d-37204f3dfa44', 'cf552d08-cee9-43bf-8c0f-3196a9311799']) {
        const res = await action(fixtures, 'package_show', { id });
        expect(res.status, id).toBe(200);
        expect(res.body.result.id).toBe(id);
      }
      const skipped = lines.map((l) => JSON.parse(l) as { msg: string; file?: string }).filter((l) => l.msg.includes('skipped'));
      expect(skipped.map((l) => l.file)).toEqual([`${FIXTURES}/data.gov.il-datastore_search-1.json`]);
    } finally {
      await fixtures.close();
    }
  });

  it('keeps fields it does not know (custom schemas) and serves uploads from its own download route', async () => {
    const fixtures = await startCkanEmulator({ seedDir: FIXTURES });
    try {
      const hdx = (await action(fixtures, 'package_show', { id: 'unesco-data-for-zimbabwe' })).body.result;
      expect(hdx.dataset_source).toBe('UNESCO Institute for Statistics (UIS)');
      expect(hdx.extras).toBeUndefined(); // absent stays absent (§4)
      const demo = (await action(fixtures, 'package_show', { id: '17be64bb-da74-4195-9bb8-565c39846af2' })).body.result;
      expect(demo.resources[0].url).toBe(`${fixtures.url}/dataset/17be64bb-da74-4195-9bb8-565c39846af2/resource/a5cd573b-5565-48f1-9b2d-8726004cb020/download/20161231_rase.csv`);
      expect(demo.extras).toEqual([{ key: 'Anno', value: expect.any(String) }]);
      const hk = (await action(fixtures, 'package_show', { id: 'hk-pland-pland1-2021-based-tpedm' })).body.result;
      expect(hk.resources[0].url_type).toBeNull();
      expect(hk.resources[0].url).toMatch(/^https?:\/\/(?!127\.0\.0\.1)/); // links stay links
    } finally {
      await fixtures.close();
    }
  });
});

describe('§11 emulator checklist', () => {
  it('§11.1 envelope with an absolute help URL; 403/404/409/400 error shapes; bare-string 400s', async () => {
    const ok = await action(emu, 'package_show', { id: GALWAY });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/json;charset=utf-8');
    expect(ok.body).toMatchObject({ help: `${emu.url}/api/3/action/help_show?name=package_show`, success: true });
    const fr = await call(emu, 'GET', `/fr/api/3/action/package_show?id=${GALWAY}`);
    expect(fr.body.help).toBe(`${emu.url}/fr/api/3/action/help_show?name=package_show`);
    expect((await call(emu, 'GET', `/api/action/package_show?id=${GALWAY}`)).status).toBe(200);

    const missing = await action(emu, 'package_show', { id: 'no-such-dataset' });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ help: expect.any(String), success: false, error: { __type: 'Not Found Error', message: 'Not found' } });
    const forbidden = await action(emu, 'package_show', { id: PRIVATE_ID });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toEqual({ __type: 'Authorization Error', message: `Access denied: User  not authorized to read package ${PRIVATE_ID}` });
    const noId = await action(emu, 'package_show');
    expect(noId.status).toBe(409);
    expect(noId.body.error).toEqual({ __type: 'Validation Error', name_or_id: ['Missing value'] });
    const badSort = await action(emu, 'package_search', { sort: 'metadata_modified sideways' });
    expect(badSort.status).toBe(400);
    expect(badSort.body.error).toEqual({ __type: 'Search Query Error', message: 'Search Query is invalid: (\'Invalid "sort" parameter\',)' });

    const unknown = await action(emu, 'package_frobnicate');
    expect(unknown.status).toBe(400);
    expect(unknown.body).toBe('Bad request - Action name not known: package_frobnicate');
    const getWrite = await action(emu, 'package_patch', { id: GALWAY }, SYSADMIN);
    expect(getWrite.status).toBe(400);
    expect(getWrite.body).toBe('Bad request - JSON Error: Invalid request. Please use POST method for your request');
    const badJson = await call(emu, 'POST', '/api/3/action/package_show', { body: '{nope', headers: { 'content-type': 'application/json' } });
    expect(badJson.status).toBe(400);
    expect(typeof badJson.body).toBe('string');
  });

  it('§11.2 rows default 10 and silently clamped to 1000; start; count; sort echoed; facets empty unless facet.field', async () => {
    const many = await startCkanEmulator({ datasets: Array.from({ length: 1205 }, (_, i) => ({ id: `id-${String(i).padStart(5, '0')}`, name: `ds-${i}`, tags: i % 2 ? ['odd'] : ['even'] })) });
    try {
      const byDefault = await action(many, 'package_search');
      expect(byDefault.body.result.results).toHaveLength(10);
      expect(byDefault.body.result).toMatchObject({ count: 1205, sort: 'score desc, metadata_modified desc', facets: {}, search_facets: {} });
      const clamped = await action(many, 'package_search', { rows: '5000', sort: 'id asc' });
      expect(clamped.status).toBe(200);
      expect(clamped.body.result.results).toHaveLength(1000);
      expect(clamped.body.result.sort).toBe('id asc');
      const last = await action(many, 'package_search', { rows: '1000', start: '1000', sort: 'id asc' });
      expect(last.body.result.results).toHaveLength(205);
      expect(last.body.result.results[0].id).toBe('id-01000');
      const zero = await action(many, 'package_search', { rows: '0' });
      expect(zero.body.result).toMatchObject({ count: 1205, results: [] });
      expect((await action(many, 'package_search', { rows: 'ten' })).body.error).toEqual({ __type: 'Validation Error', rows: ['Invalid integer'] });
      expect((await action(many, 'package_search', { start: '-1' })).body.error).toEqual({ __type: 'Validation Error', start: ['Must be a natural number'] });
      const facets = await action(many, 'package_search', { 'facet.field': '["tags"]', rows: '0' });
      expect(facets.body.result.facets).toEqual({ tags: { even: 603, odd: 602 } });
      expect(facets.body.result.search_facets.tags.items[0]).toEqual({ name: 'even', display_name: 'even', count: 603 });
    } finally {
      await many.close();
    }
  });

  it('§11.3 fq over HTTP: tags, organization, owner_org, extras, date ranges with * and NOW, negation, quoting; unknown params refused', async () => {
    const ids = async (fq: string): Promise<string[]> => {
      const res = await action(emu, 'package_search', { fq, rows: '100', sort: 'id asc', include_private: 'true' }, SYSADMIN);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return (res.body.result.results as { name: string }[]).map((d) => d.name).sort();
    };
    expect(await ids('tags:zenodo')).toEqual(['aegean-salinity-profiles', 'bus-punctuality-2024', 'ocean-temperatures-galway-bay', 'seabird-nesting-sites']);
    expect(await ids('tags:zenodo AND -capacity:private')).toHaveLength(3);
    expect(await ids('organization:"hellenic-centre-marine-research"')).toEqual(['aegean-salinity-profiles']);
    expect(await ids('owner_org:6e0c1d2a-7b8c-4d9e-a0f1-b2c3d4e5f601')).toEqual(['ocean-temperatures-galway-bay', 'seabird-nesting-sites']);
    expect(await ids('extras_archive:true OR archive:"true"')).toEqual(['aegean-salinity-profiles']);
    expect(await ids('tags:Αιγαίο')).toEqual(['aegean-salinity-profiles']);
    expect(await ids('extras_update_frequency:[* TO *]')).toEqual(['ocean-temperatures-galway-bay']);
    expect(await ids('metadata_modified:[2025-01-01T00:00:00Z TO *] AND NOT tags:transport')).toEqual(['aegean-salinity-profiles', 'ocean-temperatures-galway-bay']);
    expect(await ids('metadata_modified:[* TO NOW]')).toHaveLength(5);
    expect(await ids('metadata_modified:[NOW TO *]')).toEqual([]);
    const invalid = await action(emu, 'package_search', { fq: 'tags:(zenodo' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.__type).toBe('Search Query Error');
    expect(invalid.body.error.message).toMatch(/^Search Query is invalid: /);
    const unknownParam = await action(emu, 'package_search', { cursorMark: '*' });
    expect(unknownParam.status).toBe(400);
    expect(unknownParam.body.error.message).toBe('Search Query is invalid: ("Invalid search parameters: [\'cursorMark\']",)');
  });

  it('§11.4 private datasets: invisible to anonymous/invalid tokens, 403 (not 404) on package_show; visible to members and sysadmins only with include_private', async () => {
    const search = async (token: string | null, includePrivate: boolean): Promise<string[]> =>
      ((await action(emu, 'package_search', { fq: 'tags:zenodo', include_private: String(includePrivate), rows: '50' }, token)).body.result.results as { id: string }[]).map((d) => d.id);
    expect(await search(null, true)).not.toContain(PRIVATE_ID);
    expect(await search('not-a-token', true)).not.toContain(PRIVATE_ID);
    expect(await search(`Bearer ${SYSADMIN}`, true)).not.toContain(PRIVATE_ID); // no Bearer parsing (§2.1)
    expect(await search(SYSADMIN, false)).not.toContain(PRIVATE_ID);
    expect(await search(SYSADMIN, true)).toContain(PRIVATE_ID);
    expect(await search('yuki-token', true)).toContain(PRIVATE_ID); // member of the owning org
    expect(await search('nikos-token', true)).not.toContain(PRIVATE_ID); // member of another org
    expect((await action(emu, 'package_show', { id: PRIVATE_ID }, 'not-a-token')).status).toBe(403);
    expect((await action(emu, 'package_show', { id: PRIVATE_ID }, 'nikos-token')).status).toBe(403);
    expect((await action(emu, 'package_show', { id: PRIVATE_ID }, 'yuki-token')).status).toBe(200);
    const legacyHeader = await call(emu, 'GET', `/api/3/action/package_show?id=${PRIVATE_ID}`, { headers: { 'x-ckan-api-key': SYSADMIN } });
    expect(legacyHeader.status).toBe(200);

    const drafts = await startCkanEmulator({ datasets: [{ id: 'draft-1', name: 'draft-one', state: 'draft' }] });
    try {
      expect((await action(drafts, 'package_search', { include_drafts: 'true' }, SYSADMIN)).body.result.count).toBe(1);
      expect((await action(drafts, 'package_search', { include_drafts: 'true' })).body.result.count).toBe(0);
      expect((await action(drafts, 'package_search', {}, SYSADMIN)).body.result.count).toBe(0);
    } finally {
      await drafts.close();
    }
  });

  it('§11.5 timestamps are naive UTC isoformat (fraction dropped when zero), strictly increasing on edits; Solr sorts and filters at milliseconds', async () => {
    let clock = Date.UTC(2026, 0, 2, 3, 4, 5); // a whole second: microseconds == 0
    const timed = await startCkanEmulator({ now: () => clock, datasets: [{ id: 'a', name: 'a' }, { id: 'b', name: 'b' }] });
    try {
      const a = timed.getDataset('a')!;
      expect(a.metadata_modified).toBe('2026-01-02T03:04:05');
      expect(a.metadata_created).toBe('2026-01-02T03:04:05');
      expect(timed.getDataset('b')!.metadata_modified).toBe('2026-01-02T03:04:05.000001');
      const stamps = [1, 2, 3].map((i) => timed.updateDataset('a', { title: `v${i}` }).metadata_modified as string);
      expect(stamps).toEqual(['2026-01-02T03:04:05.000002', '2026-01-02T03:04:05.000003', '2026-01-02T03:04:05.000004']);
      // Same Solr millisecond for all of them: the id tie-breaker decides, and an exact ms filter finds both.
      const tied = await action(timed, 'package_search', { fq: 'metadata_modified:"2026-01-02T03:04:05.000Z"', sort: 'metadata_modified desc, id desc' });
      expect((tied.body.result.results as { id: string }[]).map((d) => d.id)).toEqual(['b', 'a']);
      clock += 1234;
      expect(timed.updateDataset('b', {}).metadata_modified).toBe('2026-01-02T03:04:06.234000');
      const fl = await action(timed, 'package_search', { fl: 'id metadata_modified', sort: 'id asc' });
      expect(fl.body.result.results).toEqual([{ id: 'a', metadata_modified: '2026-01-02T03:04:05.000Z' }, { id: 'b', metadata_modified: '2026-01-02T03:04:06.234Z' }]);
    } finally {
      await timed.close();
    }
  });

  it('§11.6 package_patch: shallow merge (extras list replaced), metadata_modified bump, rights, scheming "schema field with the same name"', async () => {
    const own = await startCkanEmulator({ seedDir: SAMPLES, tokens: TOKENS, schemingFields: ['doi'] });
    try {
      const before = (await action(own, 'package_show', { id: GALWAY })).body.result;
      const res = await post(own, 'package_patch', { id: GALWAY, extras: [{ key: 'zenodo_doi', value: '10.5281/zenodo.42' }] }, SYSADMIN);
      expect(res.status).toBe(200);
      expect(res.body.result.extras).toEqual([{ key: 'zenodo_doi', value: '10.5281/zenodo.42' }]); // spatial, update_frequency gone
      expect(res.body.result.title).toBe(before.title);
      expect(res.body.result.resources).toEqual(before.resources);
      expect(res.body.result.metadata_modified > before.metadata_modified).toBe(true);
      expect((await action(own, 'package_show', { id: GALWAY })).body.result).toEqual(res.body.result);
      const inSearch = await action(own, 'package_search', { fq: 'extras_zenodo_doi:[* TO *]' });
      expect(inSearch.body.result.results[0].id).toBe(GALWAY);

      const tags = await post(own, 'package_patch', { id: GALWAY, tags: [{ name: 'ocean' }] }, SYSADMIN);
      expect(tags.body.result.tags.map((t: { name: string }) => t.name)).toEqual(['ocean']);
      expect(tags.body.result.num_tags).toBe(1);

      expect((await post(own, 'package_patch', { id: GALWAY, title: 'x' })).status).toBe(403);
      expect((await post(own, 'package_patch', { id: GALWAY, title: 'x' }, 'yuki-token')).body.error.message).toBe(`Access denied: User yuki not authorized to edit package ${GALWAY}`);
      expect((await post(own, 'package_patch', { id: GALWAY, title: 'by the admin' }, SYSADMIN)).status).toBe(200);
      const scheming = await post(own, 'package_patch', { id: GALWAY, extras: [{ key: 'a', value: '1' }, { key: 'doi', value: '10/x' }] }, SYSADMIN);
      expect(scheming.status).toBe(409);
      expect(scheming.body.error).toEqual({ __type: 'Validation Error', extras: [{}, { key: ['There is a schema field with the same name'] }] });
      const topLevel = await post(own, 'package_patch', { id: GALWAY, doi: '10.5281/zenodo.42' }, SYSADMIN);
      expect(topLevel.body.result.doi).toBe('10.5281/zenodo.42');
      const clash = await post(own, 'package_patch', { id: GALWAY, name: 'harbour-budget-2024' }, SYSADMIN);
      expect(clash.body.error).toEqual({ __type: 'Validation Error', name: ['That URL is already in use.'] });
    } finally {
      await own.close();
    }
  });

  it('§11.7 upload URLs use the dataset UUID and munged filename; the download route enforces the same auth with HTML errors', async () => {
    const galway = (await action(emu, 'package_show', { id: 'ocean-temperatures-galway-bay' })).body.result;
    const url = galway.resources[0].url as string;
    expect(url).toBe(`${emu.url}/dataset/${GALWAY}/resource/a1e2c3d4-0001-4a5b-8c6d-7e8f9a0b1c01/download/galway_bay_sst_2015_2024.csv`);
    const file = await call(emu, 'GET', url.slice(emu.url.length));
    expect(file.status).toBe(200);
    expect(file.headers['content-length']).toBe('48213');
    expect(file.headers['content-type']).toBe('text/csv');

    const privateUrl = `/dataset/${PRIVATE_ID}/resource/d4e5f6a7-0001-4b8c-9d0e-1f2a3b4c5d01/download/nesting_sites.xlsx`;
    const denied = await call(emu, 'GET', privateUrl);
    expect(denied.status).toBe(403);
    expect(denied.headers['content-type']).toMatch(/^text\/html/);
    expect(denied.text).toContain('Not authorized to download resource');
    expect((await call(emu, 'GET', privateUrl, { token: 'yuki-token' })).status).toBe(200);
    const wrong = await call(emu, 'GET', `/dataset/${GALWAY}/resource/not-a-resource/download/x.csv`);
    expect(wrong.status).toBe(404);
    expect(wrong.text).toContain('Resource not found');
    const link = await call(emu, 'GET', '/dataset/aegean-salinity-profiles/resource/b2f3a4c5-0002-4d6e-9f70-8a9b0c1d2e02/download');
    expect(link.status).toBe(302);
    expect(link.headers.location).toBe('https://cruises.hcmr.example.gr/api/stations.json');
  });

  it('§11.8 datastore_search: limit clamp, relative _links with next always present, compact raw records; dump streams CSV with _id first', async () => {
    const res = await action(emu, 'datastore_search', { resource_id: BUS_TABLE, limit: '99999' });
    expect(res.status).toBe(200);
    expect(res.body.result).toMatchObject({ limit: 32000, total: 250, records_format: 'objects', include_total: true, total_estimation_threshold: null, total_was_estimated: false });
    expect(res.body.result._links).toEqual({
      start: `/api/3/action/datastore_search?resource_id=${BUS_TABLE}&limit=99999`,
      next: `/api/3/action/datastore_search?resource_id=${BUS_TABLE}&limit=99999&offset=32000`,
    });
    expect(res.body.result.fields[0]).toEqual({ id: '_id', type: 'int' });
    expect(res.text).toContain('"records": [{"_id":1,'); // compact, unescaped
    expect(res.text).toMatch(/Zürich|Αθήνα|東京/);
    const paged = await post(emu, 'datastore_search', { resource_id: BUS_TABLE, limit: 10, offset: 240, sort: '_id desc' });
    expect(paged.body.result.records.map((r: { _id: number }) => r._id)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(paged.body.result._links).toEqual({ start: '/api/3/action/datastore_search', next: '/api/3/action/datastore_search?offset=250' });
    const none = await action(emu, 'datastore_search', { resource_id: 'a1e2c3d4-0001-4a5b-8c6d-7e8f9a0b1c01' });
    expect(none.status).toBe(404);
    expect(none.body.error.message).toBe('Not found: Resource "a1e2c3d4-0001-4a5b-8c6d-7e8f9a0b1c01" was not found.');

    const dump = await call(emu, 'GET', `/datastore/dump/${BUS_TABLE}`);
    expect(dump.status).toBe(200);
    expect(dump.headers['content-length']).toBeUndefined();
    expect(dump.headers['transfer-encoding']).toBe('chunked');
    expect(dump.headers['content-disposition']).toBe(`attachment; filename="${BUS_TABLE}.csv"`);
    const lines = dump.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('_id,station,observed,value,valid');
    expect(lines).toHaveLength(251);
    expect(lines[1]?.startsWith('1,')).toBe(true);
    const datastoreOnly = (await action(emu, 'resource_show', { id: 'c3d4e5f6-0003-4a7b-8c9d-0e1f2a3b4c03' })).body.result;
    expect(datastoreOnly.url).toBe(`${emu.url}/datastore/dump/c3d4e5f6-0003-4a7b-8c9d-0e1f2a3b4c03`);
    expect((await call(emu, 'GET', '/datastore/dump/d4e5f6a7-0001-4b8c-9d0e-1f2a3b4c5d01')).status).toBe(404);
  });

  it('§11.9 version switch: 2.11 reads only Authorization, not X-CKAN-API-Key', async () => {
    const v211 = await startCkanEmulator({ seedDir: SAMPLES, ckanVersion: '2.11' });
    try {
      const legacy = await call(v211, 'GET', `/api/3/action/package_show?id=${PRIVATE_ID}`, { headers: { 'x-ckan-api-key': SYSADMIN } });
      expect(legacy.status).toBe(403);
      expect((await action(v211, 'package_show', { id: PRIVATE_ID }, SYSADMIN)).status).toBe(200);
      expect((await action(v211, 'status_show')).body.result.ckan_version).toBe('2.11.5');
    } finally {
      await v211.close();
    }
  });
});

describe('owners', () => {
  it('user_show: email only for the user themselves or a sysadmin; no id = the token owner; anonymous without id = Not Found', async () => {
    expect((await action(emu, 'user_show', { id: 'yuki' })).body.result.email).toBeUndefined();
    expect((await action(emu, 'user_show', { id: 'yuki' }, 'nikos-token')).body.result.email).toBeUndefined();
    expect((await action(emu, 'user_show', { id: 'yuki' }, 'yuki-token')).body.result.email).toBe('yuki.tanaka@example.jp');
    expect((await action(emu, 'user_show', { id: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c03' }, SYSADMIN)).body.result).toMatchObject({ name: 'yuki', fullname: '田中 由紀', email: 'yuki.tanaka@example.jp' });
    expect((await action(emu, 'user_show', {}, SYSADMIN)).body.result).toMatchObject({ name: 'archiver', sysadmin: true });
    const anon = await action(emu, 'user_show');
    expect(anon.status).toBe(404);
    expect(anon.body.error.__type).toBe('Not Found Error');
  });

  it('organization_show lists users with raw capacity; member_list gives translated 3-element arrays', async () => {
    const org = (await action(emu, 'organization_show', { id: 'marine-institute' }, SYSADMIN)).body.result;
    expect(org).toMatchObject({ name: 'marine-institute', title: 'Marine Institute', is_organization: true, package_count: 2 });
    const members = (org.users as { name: string; capacity: string; email?: string }[]).map((u) => [u.name, u.capacity, u.email]).sort();
    expect(members).toEqual([['aoife', 'admin', 'aoife.byrne@marine.example.org'], ['yuki', 'member', 'yuki.tanaka@example.jp']]);
    const anonymous = (await action(emu, 'organization_show', { id: 'marine-institute' })).body.result;
    expect(anonymous.package_count).toBe(1);
    expect((anonymous.users as { email?: string }[]).every((u) => u.email === undefined)).toBe(true);
    const list = (await action(emu, 'member_list', { id: 'marine-institute', object_type: 'user' })).body.result;
    expect(list).toContainEqual(['5b1f9c1e-2a44-4c1b-9d2e-7f3a1c0e9b01', 'user', 'Admin']);
    expect((await action(emu, 'organization_show', { id: 'nope' })).status).toBe(404);
  });
});

it('resource_show shares package_show auth; package_search by name/license', async () => {
  expect((await action(emu, 'resource_show', { id: 'd4e5f6a7-0001-4b8c-9d0e-1f2a3b4c5d01' })).status).toBe(403);
  expect((await action(emu, 'resource_show', { id: 'a1e2c3d4-0002-4a5b-8c6d-7e8f9a0b1c02' })).body.result).toMatchObject({ format: 'PDF', package_id: GALWAY, position: 1 });
  expect((await action(emu, 'resource_show', { id: 'nope' })).body.error).toEqual({ __type: 'Not Found Error', message: 'Not found: Resource was not found.' });
  const byName = await action(emu, 'package_search', { fq: 'name:bus-punctuality-2024 AND license_id:cc-zero' });
  expect(byName.body.result.results.map((d: { id: string }) => d.id)).toEqual([BUS]);
});
