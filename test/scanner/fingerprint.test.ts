import { describe, expect, it } from 'vitest';
import { parseDataset, type CkanDataset } from '../../src/scanner/ckan-types.js';
import { diffResources, fingerprintDataset } from '../../src/scanner/fingerprint.js';
import { makeRule } from '../support/rules.js';

function dataset(raw: Record<string, unknown> = {}): CkanDataset {
  const parsed = parseDataset({
    id: 'd1', name: 'n', title: 'T', metadata_modified: '2025-01-01T00:00:00',
    extras: [{ key: 'zenodo_doi', value: '' }],
    resources: [
      { id: 'r1', url: 'http://x/a.csv', size: 10, hash: '', last_modified: null, metadata_modified: '2025-01-01T00:00:00' },
      { id: 'r2', url: 'http://x/b.csv', size: 20, datastore_active: false },
    ],
    ...raw,
  });
  if (!parsed.ok) throw new Error(parsed.malformed.reason);
  return parsed.dataset;
}
const rule = makeRule();
const URL_ = 'https://ckan.example';

describe('fingerprints', () => {
  it('our own DOI write-back (an extra, a new metadata_modified) is not a change', () => {
    const before = fingerprintDataset(dataset(), rule, { ckanUrl: URL_, ownExtras: ['zenodo_doi', 'zenodo_version_doi', 'zenodo_record_url'], overrideExtra: 'zenodo_metadata' });
    const after = fingerprintDataset(dataset({ extras: [{ key: 'zenodo_doi', value: '10.5281/zenodo.1' }], metadata_modified: '2025-02-01T00:00:00' }), rule, { ckanUrl: URL_, ownExtras: ['zenodo_doi', 'zenodo_version_doi', 'zenodo_record_url'], overrideExtra: 'zenodo_metadata' });
    expect(after).toEqual(before);
  });

  it('a new title changes the metadata fingerprint only', () => {
    const before = fingerprintDataset(dataset(), rule, { ckanUrl: URL_, ownExtras: ['zenodo_doi', 'zenodo_version_doi', 'zenodo_record_url'], overrideExtra: 'zenodo_metadata' });
    const after = fingerprintDataset(dataset({ title: 'New' }), rule, { ckanUrl: URL_, ownExtras: ['zenodo_doi', 'zenodo_version_doi', 'zenodo_record_url'], overrideExtra: 'zenodo_metadata' });
    expect(after.metadata).not.toBe(before.metadata);
    expect(after.resources).toEqual(before.resources);
  });

  it.each([
    ['url', { url: 'http://x/c.csv' }],
    ['size', { size: 11 }],
    ['hash', { hash: 'abc' }],
    ['last_modified', { last_modified: '2025-03-01T00:00:00' }],
    ['metadata_modified', { metadata_modified: '2025-03-01T00:00:00' }],
    ['datastore flag', { datastore_active: true }],
  ])('a resource %s change is a changed resource', (_name, patch) => {
    const before = fingerprintDataset(dataset(), rule, { ckanUrl: URL_, ownExtras: ['zenodo_doi', 'zenodo_version_doi', 'zenodo_record_url'], overrideExtra: 'zenodo_metadata' });
    const d = dataset();
    const raw = { ...d, resources: [{ ...d.resources[0], ...patch }, d.resources[1]] };
    const after = fingerprintDataset(dataset(raw), rule, { ckanUrl: URL_, ownExtras: ['zenodo_doi', 'zenodo_version_doi', 'zenodo_record_url'], overrideExtra: 'zenodo_metadata' });
    expect(diffResources(before.resources, after.resources)).toEqual({ added: [], changed: ['r1'], removed: [] });
  });

  it('diff reports added, changed and removed resources', () => {
    expect(diffResources({ a: '1', b: '2', c: '3' }, { a: '1', b: '9', d: '4' })).toEqual({ added: ['d'], changed: ['b'], removed: ['c'] });
  });

  it('a resource id "__proto__" is an ordinary key', () => {
    const fp = fingerprintDataset(dataset({ resources: [{ id: '__proto__', url: 'http://x' }] }), rule, { ckanUrl: URL_, ownExtras: ['zenodo_doi', 'zenodo_version_doi', 'zenodo_record_url'], overrideExtra: 'zenodo_metadata' });
    expect(Object.keys(fp.resources)).toEqual(['__proto__']);
    expect(diffResources({}, fp.resources).added).toEqual(['__proto__']);
  });
});
