import { CKAN_FIXTURES } from '../support/fixtures.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDataset, parseDatastoreResult, parseSearchResult } from '../../src/scanner/ckan-types.js';

const dir = CKAN_FIXTURES;
const load = (file: string): unknown => JSON.parse(readFileSync(join(dir, file), 'utf8'));
/** Some recorders kept the envelope, one (HDX) saved the bare dataset dict. */
const result = (json: unknown): unknown => (json !== null && typeof json === 'object' && 'result' in json ? (json).result : json);

describe('real CKAN payloads parse', () => {
  it.each(['demo.ckan.org-package_show-1.json', 'data.humdata.org-package_show-1.json', 'envidat.ch-package_show-1.json', 'data.gov.hk-package_show-1.json'])(
    'package_show %s',
    (file) => {
      const raw = result(load(file)) as { id: string; resources: unknown[] };
      const parsed = parseDataset(raw);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      expect(parsed.dataset.id).toBe(raw.id);
      expect(parsed.dataset.resources).toHaveLength(raw.resources.length);
      expect(parsed.dataset.resources.every((r) => typeof r.id === 'string')).toBe(true);
    },
  );

  it.each(['envidat.ch-package_search-1.json', 'data.birmingham.gov.uk-package_search-1.json'])('package_search %s', (file) => {
    const raw = result(load(file)) as { count: number; results: unknown[] };
    const page = parseSearchResult(raw);
    expect(page?.malformed).toEqual([]);
    expect(page?.datasets).toHaveLength(raw.results.length);
    expect(page?.count).toBe(raw.count);
  });

  it('keeps what the scanner needs from the quirky ones', () => {
    const envidat = parseDataset(result(load('envidat.ch-package_show-1.json')));
    if (!envidat.ok) throw new Error('envidat');
    expect(envidat.dataset.resources[0]?.mimetype_inner).toBeDefined();
    expect(typeof envidat.dataset['doi']).toBe('string'); // scheming top-level field kept
    const hdx = parseDataset(result(load('data.humdata.org-package_show-1.json')));
    if (!hdx.ok) throw new Error('hdx');
    expect(hdx.dataset.extras).toEqual([]);
    expect(hdx.dataset.tags.every((t) => t.vocabulary_id !== null)).toBe(true);
    const birmingham = parseSearchResult(result(load('data.birmingham.gov.uk-package_search-1.json')));
    const first = birmingham?.datasets[0];
    expect(first?.resources).toHaveLength(45);
    expect(first?.resources.filter((r) => r.datastore_active)).toHaveLength(27);
    const hk = parseDataset(result(load('data.gov.hk-package_show-1.json')));
    if (!hk.ok) throw new Error('hk');
    expect(hk.dataset.license_id).toBeNull();
  });

  it('datastore_search data.gov.il', () => {
    const ds = parseDatastoreResult(result(load('data.gov.il-datastore_search-1.json')));
    expect(ds?.records).toHaveLength(1268);
    expect(ds?.total).toBe(1268);
    expect(ds?.fields.length).toBeGreaterThan(0);
  });
});

describe('lenient parsing', () => {
  const ok = { id: 'a', name: 'a', metadata_modified: '2024-01-01T10:00:00.123456', resources: [{ id: 'r1', size: '1024', datastore_active: 'True', mimetype: 'null' }] };

  it('a broken resource list reports that dataset and keeps the rest', () => {
    const page = parseSearchResult({
      count: 4,
      results: [ok, { ...ok, id: 'b', resources: 'oops' }, { ...ok, id: 'c', resources: [{ url: 'no id' }] }, { name: 'no-id' }, { ...ok, id: 'd', metadata_modified: 'yesterday' }],
    });
    expect(page?.datasets.map((d) => d.id)).toEqual(['a']);
    expect(page?.malformed.map((m) => m.id)).toEqual(['b', 'c', undefined, 'd']);
    expect(page?.returned).toBe(5);
  });

  it('normalises strings, nulls and multilingual values', () => {
    const parsed = parseDataset({ ...ok, extras: null, title: { de: 'Titel', en: 'Title' }, private: 'false', tags: ['free'] });
    if (!parsed.ok) throw new Error(parsed.malformed.reason);
    const d = parsed.dataset;
    expect(d.extras).toEqual([]);
    expect(d.title).toBe('Title');
    expect(d.private).toBe(false);
    expect(d.tags).toEqual([{ name: 'free', vocabulary_id: null }]);
    expect(d.resources[0]).toMatchObject({ size: 1024, datastore_active: true, mimetype: null });
    expect(parseDataset({ ...ok, extras: 'null' }).ok).toBe(true);
  });
});
