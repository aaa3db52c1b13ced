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

describe('baseFilename', () => {
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

  test('the same input always gives the same names', () => {
    const input = [{ id: 'a', name: 'x.csv' }, { id: 'b', name: 'X.csv' }];
    expect(assignFilenames(input, new Map())).toEqual(assignFilenames(input, new Map()));
  });
});
