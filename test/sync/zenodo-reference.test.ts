import { expect, test } from 'vitest';
import { parseZenodoReference } from '../../src/sync/zenodo-reference.js';

test.each([
  ['1234567', '1234567'],
  [' 10.5281/zenodo.42 ', '42'],
  ['https://doi.org/10.5281/zenodo.42', '42'],
  ['doi:10.5281/zenodo.42', '42'],
  ['10.5072/zenodo.7', '7'],
  ['https://zenodo.org/records/99', '99'],
  ['https://zenodo.org/record/99#files', '99'],
  ['https://sandbox.zenodo.org/deposit/5', '5'],
  ['https://zenodo.org/uploads/5?x=1', '5'],
])('%j names Zenodo record %s', (raw, id) => {
  expect(parseZenodoReference(raw)).toEqual({ id });
});

test.each(['', 'zenodo', '10.1000/xyz123', 'https://evil.example/records/5', '12; DROP TABLE links', 'https://zenodo.org.evil.example/records/5'])(
  '%j is not a Zenodo reference',
  (raw) => {
    expect(parseZenodoReference(raw)).toBeUndefined();
  },
);
