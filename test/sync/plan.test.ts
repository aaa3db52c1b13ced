import { describe, expect, test } from 'vitest';
import { planSync, type ArchivedFile, type PlanInput } from '../../src/sync/plan.js';
import { isAppError } from '../../src/errors.js';
import { makeRule } from '../support/rules.js';

const CKAN = 'http://ckan.test';
const resources = [
  { id: 'r1', name: 'a.csv', url: `${CKAN}/dataset/d/resource/r1/download/a.csv`, url_type: 'upload', format: 'CSV', size: 10 },
  { id: 'r2', name: 'b.json', url: `${CKAN}/dataset/d/resource/r2/download/b.json`, url_type: 'upload', format: 'JSON', size: 20 },
  { id: 'r3', name: 'c.pdf', url: 'https://elsewhere.test/c.pdf', url_type: null, format: 'PDF', size: null },
];
const fingerprints = new Map([['r1', 'f1'], ['r2', 'f2'], ['r3', 'f3']]);
const archivedFiles: ArchivedFile[] = [
  { resourceId: 'r1', filename: 'a.csv', size: 10, md5: 'm1', fingerprint: 'f1' },
  { resourceId: 'r2', filename: 'b.json', size: 20, md5: 'm2', fingerprint: 'f2' },
  { resourceId: 'r3', filename: 'c.pdf', size: 30, md5: 'm3', fingerprint: 'f3' },
];

function input(overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    ckanUrl: CKAN,
    dataset: { id: 'd', name: 'd', resources },
    rule: makeRule(),
    archived: { files: archivedFiles, metadataFingerprint: 'meta' },
    fingerprints,
    storedFilenames: new Map([['r1', 'a.csv'], ['r2', 'b.json'], ['r3', 'c.pdf']]),
    metadataFingerprint: 'meta',
    ...overrides,
  };
}

function actions(plan: ReturnType<typeof planSync>): Record<string, string> {
  return Object.fromEntries(plan.files.map((f) => [f.filename, f.action]));
}

describe('planSync', () => {
  test('a dataset never archived gets a first version with every file added', () => {
    const plan = planSync(input({ archived: undefined, storedFilenames: new Map() }));
    expect(plan.kind).toBe('first_version');
    expect(actions(plan)).toEqual({ 'a.csv': 'add', 'b.json': 'add', 'c.pdf': 'add' });
    expect(plan.delete).toEqual([]);
  });

  test('nothing changed: nothing to do', () => {
    const plan = planSync(input());
    expect(plan.kind).toBe('nothing');
    expect(actions(plan)).toEqual({ 'a.csv': 'keep', 'b.json': 'keep', 'c.pdf': 'keep' });
  });

  test('one changed resource is replaced, the others kept', () => {
    const plan = planSync(input({ fingerprints: new Map([['r1', 'f1'], ['r2', 'CHANGED'], ['r3', 'f3']]) }));
    expect(plan.kind).toBe('new_version');
    expect(actions(plan)).toEqual({ 'a.csv': 'keep', 'b.json': 'replace', 'c.pdf': 'keep' });
    expect(plan.delete).toEqual([{ filename: 'b.json', resourceId: 'r2' }]);
    expect(plan.uploadBytes).toBe(20);
  });

  test('a removed resource is deleted from the new version', () => {
    const plan = planSync(input({ dataset: { id: 'd', name: 'd', resources: resources.slice(0, 2) } }));
    expect(plan.kind).toBe('new_version');
    expect(plan.delete).toEqual([{ filename: 'c.pdf', resourceId: 'r3' }]);
  });

  test('a new resource is added', () => {
    const extra = { id: 'r4', name: 'd.csv', url: `${CKAN}/x/d.csv`, url_type: 'upload', format: 'CSV', size: 5 };
    const plan = planSync(input({ dataset: { id: 'd', name: 'd', resources: [...resources, extra] }, fingerprints: new Map([...fingerprints, ['r4', 'f4']]) }));
    expect(plan.kind).toBe('new_version');
    expect(actions(plan)['d.csv']).toBe('add');
  });

  test.each([
    ['edit', 'metadata_edit'],
    ['version', 'new_version'],
    ['ignore', 'nothing'],
  ] as const)('a metadata-only change under policy %s → %s', (policy, kind) => {
    const plan = planSync(input({ metadataFingerprint: 'new-meta', rule: makeRule({ metadata_changes: policy }) }));
    expect(plan.kind).toBe(kind);
    expect(plan.metadataChanged).toBe(true);
  });

  test('the rule filters resources by format and size, and says why', () => {
    const plan = planSync(input({ archived: undefined, rule: makeRule({ resources: { formats: ['csv', 'PDF'], maxSize: 15, datastore: 'csv' } }) }));
    expect(plan.files.map((f) => f.filename)).toEqual(['a.csv', 'c.pdf']);
    expect(plan.skipped).toEqual([{ resourceId: 'r2', name: 'b.json', reason: expect.stringContaining('format "JSON"') as string }]);
  });

  test('DataStore-only tables are exported as CSV from /datastore/dump', () => {
    const table = { id: 'ds1', name: 'Sensor readings', url: `${CKAN}/datastore/dump/ds1`, url_type: 'datastore', format: '', size: null, datastore_active: true };
    const plan = planSync(input({ archived: undefined, dataset: { id: 'd', name: 'd', resources: [table] }, storedFilenames: new Map() }));
    expect(plan.files).toEqual([expect.objectContaining({ filename: 'Sensor_readings.csv', source: { kind: 'datastore', url: `${CKAN}/datastore/dump/ds1` }, size: null })]);
  });

  test('an uploaded file that is also in the DataStore is archived as the file itself', () => {
    const both = { ...resources[0]!, datastore_active: true };
    const plan = planSync(input({ archived: undefined, dataset: { id: 'd', name: 'd', resources: [both] } }));
    expect(plan.files[0]?.source.kind).toBe('download');
  });

  test('over 100 files is a permanent error that says by how much', () => {
    const many = Array.from({ length: 103 }, (_, i) => ({ id: `r${i}`, name: `f${i}.csv`, url: `${CKAN}/f${i}.csv`, url_type: 'upload', format: 'CSV', size: 1 }));
    let error: unknown;
    try {
      planSync(input({ archived: undefined, dataset: { id: 'd', name: 'd', resources: many } }));
    } catch (e) {
      error = e;
    }
    expect(isAppError(error, 'TOO_MANY_FILES')).toBe(true);
    expect((error as Error).message).toContain('103 files');
    expect((error as Error).message).toContain('3 more than');
  });

  test('a file over 50 GB is a permanent error naming the file and the excess', () => {
    const big = { id: 'big', name: 'huge.nc', url: `${CKAN}/huge.nc`, url_type: 'upload', format: 'NetCDF', size: 60 * 10 ** 9 };
    expect(() => planSync(input({ archived: undefined, rule: makeRule({ resources: { formats: [], maxSize: 10 ** 12, datastore: 'csv' } }), dataset: { id: 'd', name: 'd', resources: [big] } }))).toThrow(
      /huge\.nc" is 60\.0 GB, 10\.0 GB more than Zenodo's limit of 50\.0 GB per file/,
    );
  });

  test('a dataset with nothing to archive fails with the reasons instead of an empty record', () => {
    expect(() => planSync(input({ archived: undefined, rule: makeRule({ resources: { formats: ['NetCDF'], maxSize: 100, datastore: 'csv' } }) }))).toThrow(
      /no resource of the dataset can be archived/,
    );
  });

  test('a file of a hand-made record with unknown provenance is re-uploaded, not trusted', () => {
    const plan = planSync(input({ archived: { files: [{ resourceId: null, filename: 'a.csv', size: 10, md5: 'm', fingerprint: null }], metadataFingerprint: 'meta' }, storedFilenames: new Map() }));
    expect(actions(plan)['a.csv']).toBe('replace');
  });
});
