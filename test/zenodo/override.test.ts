import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mapDatasetToZenodo } from '../../src/zenodo/metadata.js';
import {
  applyOverride, MAX_OVERRIDE_BYTES, MAX_OVERRIDE_PROBLEMS, orcidCheckDigit, readOverride, type OverrideProblem,
  type ReadOverrideResult, type ZenodoOverride,
} from '../../src/zenodo/override.js';
import { CKAN_FIXTURES } from '../support/fixtures.js';
import { makeRule } from '../support/rules.js';

const KEY = 'zenodo_metadata';
const CKAN_LINK = { identifier: 'https://data.example.org/dataset/ocean-temps', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' };

/** A dataset whose extra holds `value` (a string is stored as it is, anything else as JSON). */
function withExtra(value: unknown, key = KEY): { extras: unknown[] } {
  return { extras: [{ key: 'other', value: 'x' }, { key, value: typeof value === 'string' ? value : JSON.stringify(value) }] };
}

function read(value: unknown): ReadOverrideResult {
  return readOverride(withExtra(value), KEY);
}

function problems(value: unknown): OverrideProblem[] {
  const result = read(value);
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.value)}`);
  return result.problems;
}

function valid(value: unknown): ZenodoOverride {
  const result = read(value);
  if (!result.ok) throw new Error(`expected a valid override, got ${JSON.stringify(result.problems)}`);
  return result.value!;
}

const FULL = {
  title: '  Ocean temperatures,\n  1990–2020 ',
  description: '<p>Buoy data.</p>\n<p>Second paragraph.</p>',
  creators: [
    { name: 'Doe, Jane', affiliation: 'Marine Institute', orcid: 'https://orcid.org/0000-0002-1825-0097' },
    { name: 'Smith, John', gnd: 'gnd:118572121' },
  ],
  contributors: [{ name: 'Lee, Ann', type: 'datacurator', orcid: '0000-0002-1694-233x' }],
  grants: [{ id: '10.13039/501100000780::283595' }, { id: '654321' }],
  communities: [{ identifier: 'marine' }, { identifier: 'ocean-data' }],
  keywords: ['Environment', 'buoys'],
  related_identifiers: [
    { identifier: '10.1234/paper.5', relation: 'iscitedby', resource_type: 'publication-article' },
    { identifier: 'https://data.example.org/dataset/ocean-temps', relation: 'isDerivedFrom', resource_type: 'dataset' },
  ],
  subjects: [{ term: 'Oceanography', identifier: 'https://id.loc.gov/authorities/subjects/sh85094290', scheme: 'url' }],
  license: 'CC-BY-4.0',
  language: 'EN',
  notes: 'Funded by the EU.',
  version: '2.1',
  upload_type: 'publication',
  publication_type: 'report',
};

describe('a valid override', () => {
  it('is read with every field normalised the way Zenodo stores it', () => {
    expect(valid(FULL)).toEqual({
      title: 'Ocean temperatures, 1990–2020',
      description: FULL.description,
      creators: [
        { name: 'Doe, Jane', affiliation: 'Marine Institute', orcid: '0000-0002-1825-0097' },
        { name: 'Smith, John', gnd: '118572121' },
      ],
      contributors: [{ name: 'Lee, Ann', type: 'DataCurator', orcid: '0000-0002-1694-233X' }],
      grants: [{ id: '10.13039/501100000780::283595' }, { id: '10.13039/501100000780::654321' }],
      communities: [{ identifier: 'marine' }, { identifier: 'ocean-data' }],
      keywords: ['Environment', 'buoys'],
      related_identifiers: [
        { identifier: '10.1234/paper.5', relation: 'isCitedBy', resource_type: 'publication-article' },
        { identifier: 'https://data.example.org/dataset/ocean-temps', relation: 'isDerivedFrom', resource_type: 'dataset' },
      ],
      subjects: FULL.subjects,
      license: 'cc-by-4.0',
      language: 'en',
      notes: 'Funded by the EU.',
      version: '2.1',
      upload_type: 'publication',
      publication_type: 'report',
    });
  });

  it('is merged over the mapping field by field', () => {
    const rule = makeRule({ zenodo: { upload_type: 'image-figure', access_right: 'restricted', communities: ['marine'] } });
    const { metadata } = mapDatasetToZenodo(
      { name: 'ocean-temps', title: 'Ocean temps', notes: 'Buoys.', author: 'Jane Doe; John Smith', license_id: 'cc-zero', version: '1.0', tags: [{ name: 'environment' }, { name: 'zenodo' }] },
      rule,
      { ckanUrl: 'https://data.example.org', today: new Date('2025-03-04T00:00:00Z') },
    );
    const mapped = { ...metadata } as Record<string, unknown>;
    const before = structuredClone(mapped);
    const merged = applyOverride(mapped, valid(FULL));

    expect(mapped).toEqual(before); // pure
    // scalars replace
    expect(merged.title).toBe('Ocean temperatures, 1990–2020');
    expect(merged.description).toBe(FULL.description);
    expect(merged.license).toBe('cc-by-4.0');
    expect(merged.language).toBe('en');
    expect(merged.notes).toBe('Funded by the EU.');
    expect(merged.version).toBe('2.1');
    // the upload type switches with its own sub-type; the rule's image_type does not linger
    expect(merged.upload_type).toBe('publication');
    expect(merged.publication_type).toBe('report');
    expect(merged).not.toHaveProperty('image_type');
    // creators replace the dataset's authors
    expect(merged.creators).toEqual([
      { name: 'Doe, Jane', affiliation: 'Marine Institute', orcid: '0000-0002-1825-0097' },
      { name: 'Smith, John', gnd: '118572121' },
    ]);
    // unions: the mapping's entries first, duplicates (any case) once
    expect(merged.keywords).toEqual(['environment', 'buoys']);
    expect(merged.communities).toEqual([{ identifier: 'marine' }, { identifier: 'ocean-data' }]);
    expect(merged.related_identifiers).toEqual([
      CKAN_LINK,
      { identifier: '10.1234/paper.5', relation: 'isCitedBy', resource_type: 'publication-article' },
    ]);
    expect(merged.grants).toEqual([{ id: '10.13039/501100000780::283595' }, { id: '10.13039/501100000780::654321' }]);
    expect(merged.subjects).toEqual(FULL.subjects);
    expect(merged.contributors).toEqual([{ name: 'Lee, Ann', type: 'DataCurator', orcid: '0000-0002-1694-233X' }]);
    // what the rule decides stays
    expect(merged.access_right).toBe('restricted');
    expect(merged.publication_date).toBe('2025-03-04');
  });

  it('keeps the link back to CKAN even when the override lists nothing but other identifiers', () => {
    const merged = applyOverride({ related_identifiers: [CKAN_LINK] }, valid({ related_identifiers: [{ identifier: 'arXiv:2101.00001', relation: 'cites' }] }));
    expect(merged.related_identifiers).toEqual([CKAN_LINK, { identifier: 'arXiv:2101.00001', relation: 'cites' }]);
  });

  it('completes a contributor already there with the identifiers the owner gives', () => {
    const merged = applyOverride(
      { contributors: [{ name: 'Ann Lee', type: 'DataCurator' }, { name: 'Ann Lee', type: 'Editor' }] },
      valid({ contributors: [{ name: 'Lee, Ann', type: 'DataCurator', orcid: '0000-0002-1694-233X', affiliation: 'SLF' }] }),
    );
    expect(merged.contributors).toEqual([
      { name: 'Ann Lee', type: 'DataCurator', orcid: '0000-0002-1694-233X', affiliation: 'SLF' },
      { name: 'Ann Lee', type: 'Editor' },
    ]);
  });

  it.each([
    ['no extras at all', {}],
    ['extras without the key', { extras: [{ key: 'other', value: '{}' }] }],
    ['an empty value', withExtra('')],
    ['only whitespace', withExtra('  \n ')],
    ['a null value', { extras: [{ key: KEY, value: null }] }],
    ['extras that are not a list', { extras: 'zenodo_metadata' }],
  ])('is absent with %s', (_name, dataset) => {
    expect(readOverride(dataset, KEY)).toEqual({ ok: true, value: undefined });
  });

  it('is an empty override for {}', () => {
    expect(readOverride(withExtra('{}'), KEY)).toEqual({ ok: true, value: {} });
  });

  it('is read under the key the operator configured', () => {
    const dataset = withExtra({ keywords: ['a'] }, 'archive_meta');
    expect(readOverride(dataset, 'archive_meta')).toEqual({ ok: true, value: { keywords: ['a'] } });
    expect(readOverride(dataset, KEY)).toEqual({ ok: true, value: undefined });
  });
});

describe('the ckanext-scheming form (a top-level dataset field)', () => {
  const envidat = (JSON.parse(readFileSync(join(CKAN_FIXTURES, 'envidat.ch-package_show-1.json'), 'utf8')) as { result: Record<string, unknown> }).result;

  it('reads a JSON string at the top level of a real scheming payload', () => {
    const dataset = { ...envidat, zenodo_metadata: JSON.stringify({ communities: [{ identifier: 'wsl' }], keywords: ['avalanches'] }) };
    expect(readOverride(dataset, KEY)).toEqual({ ok: true, value: { communities: [{ identifier: 'wsl' }], keywords: ['avalanches'] } });
  });

  it('reads an already parsed object at the top level', () => {
    const dataset = { ...envidat, zenodo_metadata: { version: '3', language: 'de' } };
    expect(readOverride(dataset, KEY)).toEqual({ ok: true, value: { version: '3', language: 'de' } });
  });

  it('checks a top-level object as strictly as a string', () => {
    const dataset = { ...envidat, zenodo_metadata: { version: 3, doi: '10.5281/zenodo.1' } };
    expect(readOverride(dataset, KEY)).toMatchObject({
      ok: false,
      problems: [
        { path: 'zenodo_metadata.version', message: 'must be a version in double quotes (got 3)' },
        { path: 'zenodo_metadata.doi', message: expect.stringMatching(/^cannot be set here: Zenodo registers a DOI for every version itself/) as string },
      ],
    });
  });

  it('accepts the same override given both as a field and as an extra, and refuses two different ones', () => {
    const text = JSON.stringify({ version: '3' });
    expect(readOverride({ zenodo_metadata: text, extras: [{ key: KEY, value: text }] }, KEY)).toEqual({ ok: true, value: { version: '3' } });
    expect(readOverride({ zenodo_metadata: JSON.stringify({ version: '4' }), extras: [{ key: KEY, value: text }] }, KEY)).toEqual({
      ok: false,
      problems: [{ path: 'zenodo_metadata', message: '"zenodo_metadata" is given both as a dataset field and as an extra, with different content; keep one' }],
    });
  });

  it('refuses a key given twice in extras', () => {
    expect(readOverride({ extras: [{ key: KEY, value: '{}' }, { key: KEY, value: '{"version":"1"}' }] }, KEY)).toEqual({
      ok: false,
      problems: [{ path: 'zenodo_metadata', message: 'the extra "zenodo_metadata" appears 2 times; keep one' }],
    });
  });
});

describe('invalid shapes', () => {
  const ORCID_BAD_SUM = 'is not a valid ORCID: its last character is a check digit that does not match (got "0000-0002-1825-0098"); copy the iD from the person\'s orcid.org page';
  const cases: [string, Record<string, unknown>, OverrideProblem[]][] = [
    ['a title that is too short', { title: 'ab' }, [{ path: 'zenodo_metadata.title', message: 'must be at least 3 characters long (got "ab")' }]],
    ['a title that is a number', { title: 42 }, [{ path: 'zenodo_metadata.title', message: 'must be a title in double quotes (got 42)' }]],
    ['a null field', { version: null }, [{ path: 'zenodo_metadata.version', message: 'must be a version in double quotes (got null)' }]],
    ['an empty description', { description: '  ' }, [{ path: 'zenodo_metadata.description', message: 'is empty; write a description (HTML or plain text) or leave the field out' }]],
    ['control characters', { notes: 'bell\u0007' }, [{ path: 'zenodo_metadata.notes', message: "contains control characters, which break Zenodo's exports (DataCite XML, OAI-PMH); remove them" }]],
    ['a version longer than Zenodo keeps', { version: 'v'.repeat(192) }, [{ path: 'zenodo_metadata.version', message: 'is 192 characters long; at most 191 are allowed' }]],
    ['creators that are not a list', { creators: { name: 'Doe, Jane' } }, [{ path: 'zenodo_metadata.creators', message: 'must be a list of creators in square brackets, e.g. [{"name": "Doe, Jane", "affiliation": "Marine Institute", "orcid": "0000-0002-1825-0097"}] (got an object)' }]],
    ['no creators', { creators: [] }, [{ path: 'zenodo_metadata.creators', message: "is empty; name at least one creator, or leave the field out to keep the dataset's authors" }]],
    ['a creator that is a string', { creators: ['Doe, Jane'] }, [{ path: 'zenodo_metadata.creators[0]', message: 'must be an object such as {"name": "Doe, Jane", "affiliation": "Marine Institute", "orcid": "0000-0002-1825-0097"} (got "Doe, Jane")' }]],
    ['a creator without a name', { creators: [{ affiliation: 'SLF' }] }, [{ path: 'zenodo_metadata.creators[0].name', message: 'is missing' }]],
    ['two people in one creator', { creators: [{ name: 'Doe, Jane, Smith, John' }] }, [{ path: 'zenodo_metadata.creators[0].name', message: 'must be one person, written "Family, Given" with one comma (got "Doe, Jane, Smith, John"); give each person an entry of their own' }]],
    ['an ORCID that is not one', { creators: [{ name: 'Doe, Jane' }, { name: 'Roe, Rick', orcid: 'abc' }] }, [{ path: 'zenodo_metadata.creators[1].orcid', message: 'must be an ORCID such as 0000-0002-1825-0097 (got "abc")' }]],
    ['an ORCID with a wrong check digit', { creators: [{ name: 'Doe, Jane', orcid: '0000-0002-1825-0098' }] }, [{ path: 'zenodo_metadata.creators[0].orcid', message: ORCID_BAD_SUM }]],
    ['a GND that is not one', { creators: [{ name: 'Doe, Jane', gnd: 'x1' }] }, [{ path: 'zenodo_metadata.creators[0].gnd', message: 'must be a GND identifier such as 118572121 or 4022153-2 (got "x1")' }]],
    ['a creator field Zenodo does not know', { creators: [{ name: 'Doe, Jane', orcld: '0000-0002-1825-0097' }] }, [{ path: 'zenodo_metadata.creators[0].orcld', message: 'is not a field Zenodo accepts here; did you mean "orcid"? (allowed: name, affiliation, orcid, gnd)' }]],
    ['a contributor without a type', { contributors: [{ name: 'Lee, Ann' }] }, [{ path: 'zenodo_metadata.contributors[0].type', message: 'is missing' }]],
    ['a contributor type with a typo', { contributors: [{ name: 'Lee, Ann', type: 'DataCurater' }] }, [{
      path: 'zenodo_metadata.contributors[0].type',
      message: 'must be a contributor type, one of ContactPerson, DataCollector, DataCurator, DataManager, Distributor, Editor, HostingInstitution, Producer, ProjectLeader, ProjectManager, ProjectMember, RegistrationAgency, RegistrationAuthority, RelatedPerson, Researcher, ResearchGroup, RightsHolder, Supervisor, Sponsor, WorkPackageLeader, Other (got "DataCurater"); did you mean "DataCurator"?',
    }]],
    ['a grant that is neither form', { grants: [{ id: 'EU grant 5' }] }, [{ path: 'zenodo_metadata.grants[0].id', message: 'must be a grant such as "10.13039/501100000780::283595" (funder DOI or ROR id, "::", award number) or an EC award number such as "283595" (got "EU grant 5")' }]],
    ['grants as plain strings', { grants: ['283595'] }, [{ path: 'zenodo_metadata.grants[0]', message: 'must be an object such as {"id": "10.13039/501100000780::283595"} (got "283595")' }]],
    ['a community in capitals', { communities: [{ identifier: 'Marine' }] }, [{ path: 'zenodo_metadata.communities[0].identifier', message: 'must be the identifier of a Zenodo community, the last part of its address zenodo.org/communities/<identifier>: lowercase letters, digits, "-" and "_" (got "Marine"); did you mean "marine"?' }]],
    ['a community given by its address', { communities: [{ identifier: 'https://zenodo.org/communities/Marine/records' }] }, [{ path: 'zenodo_metadata.communities[0].identifier', message: 'must be the community\'s identifier, not its address (got "https://zenodo.org/communities/Marine/records"); write "marine"' }]],
    ['communities as strings', { communities: ['marine'] }, [{ path: 'zenodo_metadata.communities[0]', message: 'must be an object such as {"identifier": "marine"} (got "marine")' }]],
    ['keywords as one string', { keywords: 'ocean, buoys' }, [{ path: 'zenodo_metadata.keywords', message: 'must be a list of keywords in square brackets, e.g. ["ocean", "temperature"] (got "ocean, buoys")' }]],
    ['a keyword that is a number', { keywords: ['ocean', 7] }, [{ path: 'zenodo_metadata.keywords[1]', message: 'must be a keyword in double quotes (got 7)' }]],
    ['a relation Zenodo does not know', { related_identifiers: [{ identifier: '10.1234/x', relation: 'isCitedIn' }] }, [{
      path: 'zenodo_metadata.related_identifiers[0].relation',
      message: expect.stringMatching(/^must be a relation, one of isCitedBy, cites, .*, isAlternateIdentifier \(got "isCitedIn"\); did you mean "isCitedBy"\?$/) as string,
    }]],
    ['an identifier Zenodo would drop', { related_identifiers: [{ identifier: 'my paper', relation: 'cites' }] }, [{
      path: 'zenodo_metadata.related_identifiers[0].identifier',
      message: 'is not an identifier Zenodo can recognise, so Zenodo would silently drop it (got "my paper"); give a DOI (10.1234/abc), a web address (https://...), an arXiv id (2101.00001), a URN, an ARK, an ISBN, an ISSN, hdl:<handle> or pmid:<number>',
    }]],
    ['an unknown resource type and scheme', { related_identifiers: [{ identifier: '10.1234/x', relation: 'cites', resource_type: 'paper', scheme: 'doy' }] }, [
      { path: 'zenodo_metadata.related_identifiers[0].resource_type', message: expect.stringMatching(/^must be a resource type, one of publication, poster, .* \(got "paper"\)$/) as string },
      { path: 'zenodo_metadata.related_identifiers[0].scheme', message: expect.stringMatching(/^must be an identifier scheme, one of doi, url, .* \(got "doy"\); did you mean "doi"\?$/) as string },
    ]],
    ['a subject without an identifier', { subjects: [{ term: 'Oceanography' }] }, [{ path: 'zenodo_metadata.subjects[0].identifier', message: 'is missing' }]],
    ['a licence that is not an id', { license: 'Creative Commons BY' }, [{ path: 'zenodo_metadata.license', message: 'must be a licence id such as "cc-by-4.0", "cc0-1.0" or "mit" (got "Creative Commons BY")' }]],
    ['a language name', { language: 'English' }, [{ path: 'zenodo_metadata.language', message: 'must be a language code, ISO 639-1 such as "en" or ISO 639-2 such as "eng" (got "English")' }]],
    ['an unknown upload type', { upload_type: 'data' }, [{ path: 'zenodo_metadata.upload_type', message: 'must be an upload type, one of publication, poster, presentation, dataset, image, video, software, lesson, physicalobject, other (got "data")' }]],
    ['a sub-type without its type', { publication_type: 'report' }, [{ path: 'zenodo_metadata.publication_type', message: 'only goes with "upload_type": "publication" in the same override' }]],
    ['an image without its sub-type', { upload_type: 'image' }, [{ path: 'zenodo_metadata.upload_type', message: '"image" needs an "image_type" too, one of figure, plot, drawing, diagram, photo, other' }]],
    ['a misspelt field', { keywrods: ['a'] }, [{ path: 'zenodo_metadata.keywrods', message: 'is not a field Zenodo accepts here; did you mean "keywords"? (allowed: title, description, creators, contributors, grants, communities, keywords, related_identifiers, subjects, license, language, notes, version, upload_type, publication_type, image_type)' }]],
    ['an unknown field with a name that is not a word', { 'my field\n': 1 }, [{ path: 'zenodo_metadata["my field\\n"]', message: expect.stringMatching(/^is not a field Zenodo accepts here \(allowed: title, /) as string }]],
  ];

  it.each(cases)('%s', (_name, override, expected) => {
    expect(problems(override)).toEqual(expected);
  });

  it.each([
    ['access_right', 'open', /^cannot be set here: access is decided by the portal's archiving rule \(rules.yaml\)/],
    ['embargo_date', '2030-01-01', /^cannot be set here: access is decided by the portal's archiving rule/],
    ['doi', '10.5281/zenodo.123', /^cannot be set here: Zenodo registers a DOI for every version itself; .* can never get a new version$/],
    ['prereserve_doi', { doi: '10.5281/zenodo.1' }, /^cannot be set here: Zenodo fills it in itself$/],
    ['publication_date', '2020-01-01', /^cannot be set here: every version is dated the day it is published/],
  ])('refuses %s with the reason', (field, value, message) => {
    expect(problems({ [field]: value })).toEqual([{ path: `zenodo_metadata.${field}`, message: expect.stringMatching(message) as string }]);
  });

  it('reports every problem at once, in the order of the fields, unknown keys last', () => {
    const all = problems({
      acces_right: 'open',
      title: 'ab',
      creators: [{ name: 'Doe, Jane', orcid: 'abc', foo: 1 }, { name: 'Roe, Rick', orcid: '0000-0002-1825-0098' }],
      keywords: 'a',
      contributors: [{ name: 'Lee, Ann', type: 'Curator' }],
      communities: [{ identifier: 'Marine' }],
      grants: [{ id: 'x' }],
      related_identifiers: [{ identifier: 'foo bar', relation: 'cites' }],
      image_type: 'photo',
      doi: '10.5281/zenodo.1',
    });
    expect(all.map((p) => p.path)).toEqual([
      'zenodo_metadata.title',
      'zenodo_metadata.creators[0].orcid',
      'zenodo_metadata.creators[0].foo',
      'zenodo_metadata.creators[1].orcid',
      'zenodo_metadata.contributors[0].type',
      'zenodo_metadata.grants[0].id',
      'zenodo_metadata.communities[0].identifier',
      'zenodo_metadata.keywords',
      'zenodo_metadata.related_identifiers[0].identifier',
      'zenodo_metadata.image_type',
      'zenodo_metadata.acces_right',
      'zenodo_metadata.doi',
    ]);
    expect(all.find((p) => p.path.endsWith('acces_right'))?.message).toMatch(/^is not a field Zenodo accepts here \(allowed: /);
  });
});

describe('ORCID check digit (ISO 7064 11,2)', () => {
  it.each([
    ['0000-0002-1825-0097', true],
    ['0000-0001-5109-3700', true],
    ['0000-0002-1694-233X', true],
    ['0000-0002-1694-233x', true],
    ['https://orcid.org/0000-0001-5109-3700', true],
    ['orcid:0000-0001-5109-3700', true],
    ['0000-0002-1825-0096', false],
    ['0000-0001-5109-3701', false],
    ['0000-0002-1694-2330', false],
    ['0000-0002-1825-009', false],
    ['0000000218250097', false],
  ])('%s valid: %s', (id, ok) => {
    const result = read({ creators: [{ name: 'Doe, Jane', orcid: id }] });
    expect(result.ok).toBe(ok);
  });

  it('computes the check character of the ORCID documentation examples', () => {
    expect(orcidCheckDigit('000000021825009')).toBe('7');
    expect(orcidCheckDigit('000000015109370')).toBe('0');
    expect(orcidCheckDigit('000000021694233')).toBe('X');
  });
});

describe('malformed JSON', () => {
  it.each([
    ['{"title": "abc",}', 'expected another field after the comma (remove the comma before "}") at line 1, column 17 (found "}")'],
    ["{'title': 'abc'}", 'expected a field name in double quotes at line 1, column 2 (found "\'title\': \'")'],
    ['{"title": "abc"', 'expected "," or "}" after the value at line 1, column 16 (found the end of the text)'],
    ['{\n  "title": "abc"\n  "version": "1"\n}', 'expected "," or "}" after the value at line 3, column 3 (found "\\"version\\":")'],
    ['{"keywords": [\'a\']}', 'expected double quotes (JSON does not allow single quotes) at line 1, column 15 (found "\'a\']}")'],
    ['{"title": "two\nlines"}', 'expected no line break or control character inside a text (write a line break as \\n) at line 1, column 15 (found "\\nlines\\"}")'],
    ['{"version": 1.}', 'expected "," or "}" after the value at line 1, column 14 (found ".}")'],
    ['{"a": tru}', 'expected a value (text in double quotes, a number, true, false, null, {...} or [...]) at line 1, column 7 (found "tru}")'],
    ['{} {}', 'expected the end of the text after the JSON object at line 1, column 4 (found "{}")'],
    ['title: abc', 'expected a value (text in double quotes, a number, true, false, null, {...} or [...]) at line 1, column 1 (found "title: abc")'],
  ])('%j', (text, where) => {
    expect(readOverride(withExtra(text), KEY)).toEqual({
      ok: false,
      problems: [{ path: 'zenodo_metadata', message: `the extra "zenodo_metadata" is not valid JSON: ${where}` }],
    });
  });

  it('is one problem, not a crash, for JSON that is not an object', () => {
    expect(problems('["ocean"]')).toEqual([{ path: 'zenodo_metadata', message: 'must be a JSON object of Zenodo metadata, e.g. {"keywords": ["ocean"]} (got a list of 1)' }]);
    expect(problems('"ocean"')).toEqual([{ path: 'zenodo_metadata', message: 'must be a JSON object of Zenodo metadata, e.g. {"keywords": ["ocean"]} (got "ocean")' }]);
  });
});

describe('hostile sizes', () => {
  it('refuses a text over the size cap without parsing it', () => {
    const text = JSON.stringify({ notes: 'x'.repeat(MAX_OVERRIDE_BYTES) });
    expect(problems(text)).toEqual([{ path: 'zenodo_metadata', message: `is ${text.length} bytes long; an override may have at most ${MAX_OVERRIDE_BYTES} bytes` }]);
  });

  it('counts bytes, not characters', () => {
    const text = JSON.stringify({ notes: 'é'.repeat(60_000) });
    expect(text.length).toBeLessThan(MAX_OVERRIDE_BYTES);
    expect(problems(text)[0]!.message).toMatch(/^is 12\d{4} bytes long/);
  });

  it('refuses an already parsed object over the size cap', () => {
    expect(readOverride({ zenodo_metadata: { notes: 'x'.repeat(MAX_OVERRIDE_BYTES) } }, KEY)).toMatchObject({ ok: false, problems: [{ path: 'zenodo_metadata', message: expect.stringMatching(/^is 1000\d\d bytes long/) as string }] });
  });

  it('refuses a list longer than its cap in one problem', () => {
    expect(problems({ keywords: Array.from({ length: 10_000 }, (_, i) => `k${i}`) })).toEqual([{ path: 'zenodo_metadata.keywords', message: 'has 10000 entries; at most 100 keywords are allowed' }]);
  });

  it('stops after the first problems of many bad entries', () => {
    const all = problems({ creators: Array.from({ length: 400 }, () => ({ name: 'Doe, Jane', orcid: 'bad' })) });
    expect(all).toHaveLength(MAX_OVERRIDE_PROBLEMS);
    expect(all[0]!.path).toBe('zenodo_metadata.creators[0].orcid');
    expect(all.at(-1)).toEqual({ path: 'zenodo_metadata', message: `and ${400 - MAX_OVERRIDE_PROBLEMS + 1} more problems; fix the ones above first` });
  });

  it('survives deep nesting, valid or not', () => {
    const deep = `${'['.repeat(40_000)}${']'.repeat(40_000)}`;
    expect(problems(`{"notes": ${deep}}`)).toEqual([{ path: 'zenodo_metadata.notes', message: 'must be notes (HTML or plain text) in double quotes (got a list of 1)' }]);
    expect(problems(`{"notes": ${'['.repeat(90_000)}`)[0]!.message).toMatch(/^the extra "zenodo_metadata" is not valid JSON: expected at most 64 levels of nesting at line 1, column 75 /);
  });

  it('does not echo a huge unknown key', () => {
    const [problem] = problems({ ['k'.repeat(5000)]: 1 });
    expect(problem!.path.length).toBeLessThan(120);
    expect(problem!.path).toMatch(/^zenodo_metadata\["k+\.\.\."\]$/);
  });

  it('refuses an object that cannot be serialised', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(readOverride({ zenodo_metadata: cyclic }, KEY)).toEqual({ ok: false, problems: [{ path: 'zenodo_metadata', message: 'is not a JSON object that can be read (nested too deeply)' }] });
  });
});
