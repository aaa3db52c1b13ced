import { describe, expect, test } from 'vitest';
import { assignFilenames, baseFilename, sanitiseFilename } from '../../src/sync/filenames.js';

describe('sanitiseFilename', () => {
  test.each([
    ['../../etc/passwd', 'etc_passwd'],
    ['/absolute/path/data.csv', 'absolute_path_data.csv'],
    ['C:\\Users\\x\\data.csv', 'C_Users_x_data.csv'],
    ['nul\u0000byte\u0007.csv', 'nul_byte_.csv'],
    ['line\r\nbreak.txt', 'line_break.txt'],
    ['my data (v2).csv', 'my_data_(v2).csv'],
    ['.env', 'env'],
    ['..', ''],
    ['Ελληνικά δεδομένα.csv', 'Ελληνικά_δεδομένα.csv'],
    ['日本語.json', '日本語.json'],
    ['a"b<c>d|e?f*g.csv', 'a_b_c_d_e_f_g.csv'],
  ])('%j → %j', (raw, expected) => {
    expect(sanitiseFilename(raw)).toBe(expected);
  });

  test('a 300-character name is cut to a safe length and keeps its extension', () => {
    const name = sanitiseFilename(`${'x'.repeat(300)}.csv`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(180);
    expect(name.endsWith('.csv')).toBe(true);
  });

  test('multi-byte names are cut on character boundaries', () => {
    const name = sanitiseFilename(`${'数'.repeat(200)}.csv`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(180);
    expect(name).not.toContain('\uFFFD');
    expect(name.endsWith('.csv')).toBe(true);
  });
});

/** A valid Zenodo key: bounded, no separators or control characters, not hidden, not empty. */
function expectValid(name: string): void {
  expect(name).not.toBe('');
  expect(Buffer.byteLength(name)).toBeLessThanOrEqual(180);
  expect(name).not.toMatch(/[/\\\p{C}]/u);
  expect(name).not.toMatch(/^[._]|[._]$/);
  expect(name).not.toContain('\uFFFD');
  expect(name).not.toMatch(/\p{Cs}/u); // no lone surrogate
}

describe('names of any length (hostile CKAN resources)', () => {
  const N = 100_000;
  test.each([
    ['all dots', '', '.'.repeat(N)],
    ['all slashes', '', '/'.repeat(N)],
    ['dots then a name', 'x', `${'.'.repeat(N)}x`],
    ['dot-underscore runs before a name', 'x.csv', `${'._'.repeat(N / 2)}x.csv`],
    ['slashes around a name', 'data.csv', `${'/'.repeat(N)}data.csv`],
    ['only combining marks', '', '\u0301'.repeat(N)],
    ['only emoji', '', '😀'.repeat(N / 2)],
    ['only bidi overrides', '', '\u202E'.repeat(N)],
  ])('%s gives %j', (_shape, expected, raw) => {
    expect(sanitiseFilename(raw)).toBe(expected);
  });

  test('a 100,000-letter name keeps its start and its extension', () => {
    const name = sanitiseFilename(`Report${'x'.repeat(N)}.csv`);
    expectValid(name);
    expect(name.startsWith('Reportxxx')).toBe(true);
    expect(name.endsWith('.csv')).toBe(true);
  });

  test('a letter with 100,000 combining marks of alternating classes is cut between code points', () => {
    const name = sanitiseFilename(`a${'\u0301\u0316'.repeat(N / 2)}.csv`);
    expectValid(name);
    expect(name.startsWith('\u00E1\u0316')).toBe(true); // NFC: a + acute is á
    expect(name.endsWith('.csv')).toBe(true);
  });

  test('right-to-left text is kept and cut on character boundaries', () => {
    const name = sanitiseFilename(`${'מידע'.repeat(N / 4)}.csv`);
    expectValid(name);
    expect(name).toMatch(/^(?:מידע)+(?:מ|מי|מיד)?\.csv$/u);
  });

  test('emoji sequences are not split when the name is cut', () => {
    const family = '👩\u200D👩\u200D👧';
    const name = sanitiseFilename(`data${'é'.repeat(86)}${'e\u0301'.repeat(N / 2)}.csv`);
    expectValid(name);
    // é as "e" + combining acute is one character: never a bare "e" at the cut.
    expect(name.normalize('NFC')).toBe(name);
    expect(name.endsWith('e.csv')).toBe(false);
    expect(baseFilename({ id: 'r', name: family.repeat(N / 8) })).toBe('resource-r');
  });

  test('a 100,000-character extension is treated as part of the name', () => {
    const name = sanitiseFilename(`a.${'x'.repeat(N)}`);
    expectValid(name);
    expect(name.startsWith('a.xxx')).toBe(true);
  });

  test('a huge URL gives a bounded name from its last segment', () => {
    const name = baseFilename({ id: 'r', name: '', url: `https://x.org/${'a/'.repeat(N / 2)}${'b'.repeat(N)}.zip`, format: 'ZIP' });
    expectValid(name);
    expect(name.endsWith('.zip')).toBe(true);
  });
});

describe('baseFilename', () => {
  test.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('the format %j adds no extension', (format) => {
    expect(baseFilename({ id: 'r1', name: 'data', format })).toBe('data');
  });

  test('an extension taken from the URL keeps the name within the limit', () => {
    const name = baseFilename({ id: 'r1', name: 'x'.repeat(300), url: 'https://x.org/files/stops.geojson', format: 'CSV' });
    expectValid(name);
    expect(name.endsWith('.geojson')).toBe(true);
  });

  test.each([
    [{ id: 'r1', name: 'Bus stops', url: 'https://x.org/files/stops.geojson', format: 'GeoJSON' }, 'Bus_stops.geojson'],
    [{ id: 'r1', name: 'Bus stops', url: 'https://x.org/files/stops.zip', format: 'CSV' }, 'Bus_stops.zip'],
    [{ id: 'r1', name: '', url: 'https://x.org/dl/20161231_rase.csv', format: 'CSV' }, '20161231_rase.csv'],
    [{ id: 'r1', name: null, url: null, format: '' }, 'resource-r1'],
    [{ id: 'r1', name: 'Sensor table', url: 'https://x.org/datastore/dump/r1', format: 'CSV', datastoreExport: true }, 'Sensor_table.csv'],
    [{ id: 'r1', name: 'table.xlsx', url: 'https://x.org/datastore/dump/r1', format: 'XLSX', datastoreExport: true }, 'table.xlsx.csv'],
  ])('%j → %s', (resource, expected) => {
    expect(baseFilename(resource)).toBe(expected);
  });
});

describe('assignFilenames', () => {
  test('names colliding after sanitising, and names differing only in case, become distinct', () => {
    const names = assignFilenames(
      [
        { id: 'a', name: 'data/2020.csv' },
        { id: 'b', name: 'data\\2020.csv' },
        { id: 'c', name: 'DATA_2020.csv' },
        { id: 'd', name: 'data 2020.csv' },
      ],
      new Map(),
    );
    const values = [...names.values()];
    expect(values).toEqual(['data_2020.csv', 'data_2020-2.csv', 'DATA_2020-3.csv', 'data_2020-4.csv']);
    expect(new Set(values.map((v) => v.toLowerCase())).size).toBe(4);
  });

  test('a stored name is kept across versions even when the resource is renamed', () => {
    const names = assignFilenames([{ id: 'a', name: 'renamed.csv' }, { id: 'b', name: 'old.csv' }], new Map([['a', 'old.csv']]));
    expect(names.get('a')).toBe('old.csv');
    expect(names.get('b')).toBe('old-2.csv');
  });

  test('two resources with the same over-long name get distinct names (the suffix is never cut off)', () => {
    const long = `${'x'.repeat(300)}.csv`;
    const names = [...assignFilenames([{ id: 'a', name: long }, { id: 'b', name: long }, { id: 'c', name: long }], new Map()).values()];
    expect(new Set(names).size).toBe(3);
    for (const n of names) expectValid(n);
    expect(names[1]).toMatch(/x-2\.csv$/);
    expect(names[2]).toMatch(/x-3\.csv$/);
  });

  test('10,000 resources with one name all get distinct names', () => {
    const resources = Array.from({ length: 10_000 }, (_, i) => ({ id: `r${i}`, name: 'data.csv' }));
    const names = [...assignFilenames(resources, new Map()).values()];
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(10_000);
    expect(names.at(-1)).toBe('data-10000.csv');
  });

  test('the same input always gives the same names', () => {
    const input = [{ id: 'a', name: 'x.csv' }, { id: 'b', name: 'X.csv' }];
    expect(assignFilenames(input, new Map())).toEqual(assignFilenames(input, new Map()));
  });
});
