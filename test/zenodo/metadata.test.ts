import { describe, expect, it } from 'vitest';
import {
  mapDatasetToZenodo, metadataFingerprint, normaliseLicense, sameLicense,
  type CkanDatasetLike,
} from '../../src/zenodo/metadata.js';
import { makeRule } from '../support/rules.js';

const opts = { ckanUrl: 'https://data.example.org/', today: new Date('2025-03-04T23:59:59Z') };
const rule = makeRule();

function map(dataset: Partial<CkanDatasetLike> & Record<string, unknown>, r = rule) {
  return mapDatasetToZenodo({ name: 'ocean-temps', ...dataset }, r, opts);
}

describe('creators', () => {
  const cases: [string, string[]][] = [
    ['Jane Doe', ['Jane Doe']],
    ['Doe, Jane', ['Doe, Jane']],
    ['Jane Doe; John Smith', ['Jane Doe', 'John Smith']],
    ['Doe, Jane; Smith, John', ['Doe, Jane', 'Smith, John']],
    ['Jane Doe and John Smith', ['Jane Doe', 'John Smith']],
    ['Jane Doe, John Smith, Ann Lee', ['Jane Doe', 'John Smith', 'Ann Lee']],
    ['Jane Doe, John Smith and Ann Lee', ['Jane Doe', 'John Smith', 'Ann Lee']],
    ['Doe, Jane, Smith, John', ['Doe, Jane', 'Smith, John']],
    ['van der Berg, Jan', ['van der Berg, Jan']],
    ['Doe, Jane Mary', ['Doe, Jane Mary']],
    ['  Jane   Doe ;; ; ', ['Jane Doe']],
    ['Jane Doe; jane doe', ['Jane Doe']],
    ['Müller, Jürgen; 王 小明', ['Müller, Jürgen', '王 小明']],
  ];
  it.each(cases)('splits %j', (input, expected) => {
    expect(map({ author: input }).metadata.creators).toEqual(expected.map((name) => ({ name })));
  });

  it('falls back to maintainer, then organization title, and refuses to publish with nobody to name', () => {
    expect(map({ author: '  ', maintainer: 'Data Team' }).metadata.creators).toEqual([{ name: 'Data Team' }]);
    const org = map({ author: null, maintainer: null, organization: { title: 'Marine Institute', name: 'marine' } });
    expect(org.metadata.creators).toEqual([{ name: 'Marine Institute' }]);
    expect(org.warnings.join()).toMatch(/organization "Marine Institute"/);
    const none = map({ license_id: 'cc-by' });
    expect(none.problems.map((p) => p.code)).toEqual(['CREATORS_UNKNOWN']);
    expect(none.problems[0]?.message).toMatch(/fill in "Author"/);
  });
});

describe('licence', () => {
  const rows: [string, string][] = [
    ['cc-by', 'cc-by-4.0'],
    ['cc-by-sa', 'cc-by-sa-4.0'],
    ['cc-zero', 'cc0-1.0'],
    ['odc-by', 'odc-by-1.0'],
    ['odc-odbl', 'odbl-1.0'],
    ['odc-pddl', 'pddl-1.0'],
    ['gfdl', 'gfdl'],
    ['other-open', 'other-open'],
    ['other-pd', 'other-pd'],
    ['other-at', 'other-at'],
    ['other-nc', 'other-nc'],
    ['other-closed', 'other-closed'],
    ['uk-ogl', 'ogl-uk-3.0'],
    ['CC-BY-4.0', 'cc-by-4.0'],
    ['CC0-1.0', 'cc0-1.0'],
    [' MIT ', 'mit'],
    ['Apache-2.0', 'apache-2.0'],
    ['OGL-UK-3.0', 'ogl-uk-3.0'],
  ];
  it.each(rows)('maps CKAN %j to %j without a warning', (ckan, zenodo) => {
    const { metadata, warnings } = map({ license_id: ckan, author: 'A B' });
    expect(metadata.license).toBe(zenodo);
    expect(warnings).toEqual([]);
  });

  it("uses the rule's licence for an unknown or missing CKAN licence, and says so", () => {
    const custom = makeRule({ name: 'marine', zenodo: { upload_type: 'dataset', access_right: 'open', communities: [], license: 'cc-by-sa' } });
    const unknown = map({ license_id: 'my-own-licence', author: 'A B' }, custom);
    expect(unknown.metadata.license).toBe('cc-by-sa-4.0');
    expect(unknown.problems).toEqual([]);
    expect(unknown.license).toMatchObject({ id: 'cc-by-sa-4.0', source: 'rule', ckanId: 'my-own-licence' });
    expect(unknown.warnings.join()).toMatch(/cc-by-sa-4.0.*marine.*my-own-licence/);
  });

  it.each([[undefined], [null], ['other-undefined'], ['notspecified'], ['cc-by-igo'], ['my-own-licence']])(
    'does not publish licence %j without a rule licence: LICENSE_UNKNOWN names the fix',
    (licenseId) => {
      const result = map({ license_id: licenseId, author: 'A B' });
      expect(result.problems.map((p) => p.code)).toEqual(['LICENSE_UNKNOWN']);
      expect(result.problems[0]?.message).toMatch(/in CKAN, edit the dataset and choose its licence/);
      expect(result.license.source).toBe('none');
    },
  );

  // What Zenodo returns for what we send (reference §5.1): a comparison must not see a change.
  const returned: [string, string | undefined][] = [
    ['cc-zero', 'cc0-1.0'],
    ['cc-by-4.0', 'cc-by-4.0'],
    ['cc-by-sa-4.0', 'cc-by-sa-4.0'],
    ['odc-by', 'odc-by-1.0'],
    ['odc-odbl', 'odbl-1.0'],
    ['odc-pddl', 'pddl-1.0'],
    ['uk-ogl', 'ogl-uk-1.0'],
    ['mit-license', 'mit'],
    ['apache2.0', 'apache-2.0'],
    ['other-open', 'other-open'],
  ];
  it.each(returned)('normalises the returned id %j to %j', (back, canonical) => {
    expect(normaliseLicense(back)).toBe(canonical);
  });

  it('treats gfdl as equal to the missing licence Zenodo returns for it', () => {
    expect(sameLicense('gfdl', undefined)).toBe(true);
    expect(sameLicense('cc0-1.0', 'cc-zero')).toBe(true);
    expect(sameLicense('cc-by-4.0', 'cc-zero')).toBe(false);
  });
});

describe('description', () => {
  it('renders Markdown to HTML and links back to the CKAN dataset', () => {
    const { metadata } = map({ notes: '# Buoys\n\nSee **bold** and https://example.org/x' });
    expect(metadata.description).toContain('<h1>Buoys</h1>');
    expect(metadata.description).toContain('<strong>bold</strong>');
    expect(metadata.description).toContain('<a href="https://example.org/x">');
    expect(metadata.description).toContain('<a href="https://data.example.org/dataset/ocean-temps">');
  });

  const hostile: [string, string, RegExp][] = [
    ['script tag', 'Hi <script>alert(1)</script>', /<script/i],
    ['inline handler', '<img src=x onerror=alert(1)>', /<img/i],
    ['javascript: link', '[click](javascript:alert(1))', /href="javascript/i],
    ['JavaScript: mixed case', '[click](JaVaScRiPt:alert(1))', /href="javascript/i],
    ['data: link', '[x](data:text/html;base64,PHNjcmlwdD4=)', /href="data:/i],
    ['relative link', '[x](/ckan-admin)', /href="\/ckan-admin/],
    ['image', '![pixel](https://tracker.example/p.png)', /<img/i],
    ['data image', '![d](data:image/png;base64,AAAA)', /(src|href)="data:/i],
    ['iframe', '<iframe src="https://evil.example"></iframe>', /<iframe/i],
  ];
  it.each(hostile)('lets no %s through', (_label, notes, forbidden) => {
    const { metadata } = map({ notes });
    expect(metadata.description).not.toMatch(forbidden);
    expect(metadata.description).not.toMatch(/<(script|iframe|img|object|embed|style)\b/i);
  });

  it('turns an http image into a plain link with its alt text', () => {
    const { metadata } = map({ notes: '![Map of buoys](https://example.org/map.png)' });
    expect(metadata.description).toContain('<a href="https://example.org/map.png">Map of buoys</a>');
  });

  it('escapes the dataset name in the back link', () => {
    const { metadata } = map({ name: 'a"b<c' });
    expect(metadata.description).toContain('https://data.example.org/dataset/a%22b%3Cc');
    expect(metadata.description).not.toContain('a"b<c');
  });
});

describe('other fields', () => {
  it('maps a full dataset', () => {
    const r = makeRule({ zenodo: { upload_type: 'publication-report', access_right: 'restricted', communities: ['marine', 'marine', ' '] } });
    const { metadata } = map({
      title: '  Température\n de la mer — 北海 ',
      author: 'Jane Doe',
      tags: [{ name: 'ocean ' }, { name: 'Ocean' }, { name: '' }, { name: 'buoys' }, 'loose', null, 42],
      version: '2.1',
      license_id: 'cc-by',
    }, r);
    expect(metadata).toEqual({
      title: 'Température de la mer — 北海',
      upload_type: 'publication',
      publication_type: 'report',
      description: '<p>Archived from <a href="https://data.example.org/dataset/ocean-temps">https://data.example.org/dataset/ocean-temps</a>.</p>',
      creators: [{ name: 'Jane Doe' }],
      keywords: ['ocean', 'buoys', 'loose'],
      license: 'cc-by-4.0',
      version: '2.1',
      publication_date: '2025-03-04',
      access_right: 'restricted',
      related_identifiers: [{ identifier: 'https://data.example.org/dataset/ocean-temps', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      communities: [{ identifier: 'marine' }],
    });
  });

  it('survives missing and wrongly typed fields', () => {
    const { metadata, warnings, problems } = map({ title: null, notes: 7, tags: 'x', version: { weird: true }, organization: 'nope', license_id: ['x'] });
    expect(metadata.title).toBe('ocean-temps');
    expect(metadata.version).toBeUndefined();
    expect(metadata.keywords).toBeUndefined();
    expect(metadata.creators).toEqual([{ name: 'Unknown' }]);
    expect(problems.map((p) => p.code).sort()).toEqual(['CREATORS_UNKNOWN', 'LICENSE_UNKNOWN']);
    expect(warnings).toEqual([]);
  });

  it('reads multilingual titles and drops control characters', () => {
    expect(map({ title: { de: 'Meer', en: 'Sea data' } }).metadata.title).toBe('Sea data');
    expect(map({ title: 'Sea\u0000 data\u0007' }).metadata.title).toBe('Sea data');
  });

  it('warns when the title is too short for Zenodo', () => {
    const { warnings } = map({ name: 'ab', title: 'ab' });
    expect(warnings.join()).toMatch(/shorter than the 3 characters/);
  });
});

describe('metadataFingerprint', () => {
  it('ignores publication_date, version and key order, and sees real changes', () => {
    const a = map({ title: 'Sea data', author: 'Jane Doe', version: '1' }).metadata;
    const b = mapDatasetToZenodo({ name: 'ocean-temps', title: 'Sea data', author: 'Jane Doe', version: '2' }, rule, { ...opts, today: new Date('2030-01-01') }).metadata;
    expect(metadataFingerprint(a)).toBe(metadataFingerprint(b));
    const reordered = Object.fromEntries(Object.entries(a).reverse());
    expect(metadataFingerprint(reordered)).toBe(metadataFingerprint(a));
    expect(metadataFingerprint({ ...a, license: 'cc-zero' })).toBe(metadataFingerprint({ ...a, license: 'cc0-1.0' }));
    expect(metadataFingerprint({ ...a, title: 'Sea data 2' })).not.toBe(metadataFingerprint(a));
    expect(metadataFingerprint({ ...a, keywords: ['x'] })).not.toBe(metadataFingerprint(a));
    expect(metadataFingerprint(a)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('huge fields', () => {
  it('cuts a 100,000-character title and a 300,000-character description with an ellipsis, and says so', () => {
    const { metadata, warnings } = map({ title: 'T'.repeat(100_000), notes: 'word '.repeat(60_000), author: 'A B', license_id: 'cc-by' });
    expect(metadata.title).toHaveLength(1000);
    expect(metadata.title.endsWith('…')).toBe(true);
    expect(metadata.description.length).toBeLessThan(101_000);
    expect(metadata.description).toMatch(/…<\/p>\n<p>Archived from/);
    expect(warnings.join('\n')).toMatch(/title is longer than 1000 characters[\s\S]*description is longer than 100000 characters/);
  });
});
