/**
 * The scanner's change detection agrees with what gets published (DESIGN.md glossary
 * "fingerprint"). The scanner does not run the mapping: it hashes `mappingInputs`, the fields
 * `mapDatasetToZenodo` reads. If that list ever misses a field the mapping reads, an owner's edit
 * of it is never archived (the scanner sees no change); if it holds one the mapping ignores, our
 * own DOI write-back would look like a change and re-sync every dataset after each publish.
 *
 * Random realistic CKAN payloads go through the scanner's `parseDataset`, as in the daemon, then
 * get a random single edit:
 *  (a) an edit that changes the published metadata always changes the scanner fingerprint (one
 *      property per input field, each required to have produced such a change at least once, so
 *      that dropping any field from `mappingInputs` fails its property);
 *  (b) an edit of our write-back extras, `metadata_modified`, the resources or `version` never does;
 *  (c) nor does an edit of a field the mapping ignores (fixed list, random and recorded datasets).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Rule } from '../../src/rules/types.js';
import { parseDataset, type CkanDataset } from '../../src/scanner/ckan-types.js';
import { datasetMetadataFingerprint } from '../../src/scanner/fingerprint.js';
import { mapDatasetToZenodo, metadataFingerprint, ownExtras } from '../../src/zenodo/metadata.js';
import { zenodoLicenseIds } from '../../src/zenodo/licenses.js';
import { CKAN_FIXTURES } from '../support/fixtures.js';
import { makeRule } from '../support/rules.js';

const TODAY = new Date('2025-03-04T12:00:00Z');
const LINK_EXTRA = 'zenodo_doi';
const OVERRIDE_EXTRA = 'zenodo_metadata';
const WRITE_BACK = ownExtras(LINK_EXTRA);
const RUNS = 120;

type Raw = Record<string, unknown>;

/** Everything the two fingerprints depend on: the dataset, the matched rule, the CKAN site URL. */
interface World {
  raw: Raw;
  rule: Rule;
  ckanUrl: string;
}

function parsed(raw: Raw): CkanDataset {
  const result = parseDataset(raw);
  if (!result.ok) throw new Error(`generator made a payload the scanner refuses: ${result.malformed.reason}`);
  return result.dataset;
}

/** What the sync would publish (fingerprinted as the planner compares it). */
function published(w: World): string {
  const options = { ckanUrl: w.ckanUrl, today: TODAY, ownExtras: WRITE_BACK, overrideExtra: OVERRIDE_EXTRA };
  return metadataFingerprint(mapDatasetToZenodo(parsed(w.raw), w.rule, options).metadata);
}

/** What the scanner compares. */
function scanned(w: World): string {
  return datasetMetadataFingerprint(parsed(w.raw), w.rule, { ckanUrl: w.ckanUrl, ownExtras: WRITE_BACK, overrideExtra: OVERRIDE_EXTRA });
}

// ------------------------------------------------------------------------------------------------
// Realistic CKAN values

const uuid = fc.uuid();
const slug = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{1,24}$/);
const timestamp = fc
  .date({ min: new Date('2015-01-01T00:00:00Z'), max: new Date('2026-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().replace('Z', '').replace(/\.(\d{3})$/, '.$1123'));

const title = fc.oneof(
  fc.constantFrom('Ocean temperatures, Galway Bay', 'Purchase Card Transactions', 'Zimbabwe - Education Indicators', 'Snow depth 2015–2024', 'T', ''),
  fc.string({ maxLength: 40 }),
  fc.record({ en: fc.constantFrom('Air quality Zurich', 'Bus stops'), de: fc.constantFrom('Luftqualität Zürich', 'Bushaltestellen') }),
  fc.constant(null),
);
const notes = fc.oneof(
  fc.constantFrom(
    'Daily readings at **12** stations.\n\n- sensor A\n- sensor B',
    'See the [station page](https://example.org/station) or mail <data@example.org>.',
    'Plain text, no markup.',
    '<script>alert(1)</script> raw HTML is escaped',
    '',
  ),
  fc.string({ maxLength: 60 }),
  fc.record({ en: fc.constantFrom('English notes.', 'Hourly NO₂.'), fr: fc.constant('Notes en français.') }),
  fc.constant(null),
);

const personName = fc.constantFrom('Jane Doe', 'Doe, Jane', 'Müller, Jürgen', 'Ana de la Cruz', 'John Smith', 'Marine Data Unit', 'Ministry of Housing and Urban Development');
/** Values that name nobody a curator would accept: the mapping falls through to the next field. */
const nobody = fc.constantFrom('', null, 'jdoe_42', 'foi.mailbox', 'a5c5296a-3206-4e51-b2de-bfe34857185f', 'jane@example.org', 'N/A', '[]', '[{"name": "Doe"');
const schemingPerson = fc.record({
  name: fc.constantFrom('Huber', 'Rossi', 'Keller', 'WSL Data Centre'),
  given_name: fc.constantFrom('Marta', 'Paolo', 'Anna', ''),
  affiliation: fc.constantFrom('SLF', 'ETH Zurich', ''),
  email: fc.constantFrom('m.huber@slf.ch', ''),
  identifier: fc.constantFrom('https://orcid.org/0000-0001-9188-6318', '0000-0002-1825-0097', '0000-0002-1825-0098', ''),
});
const people = fc.oneof(
  { weight: 3, arbitrary: nobody },
  { weight: 2, arbitrary: personName },
  { weight: 1, arbitrary: fc.array(personName, { minLength: 2, maxLength: 3 }).map((ns) => ns.join('; ')) },
  { weight: 1, arbitrary: fc.array(schemingPerson, { minLength: 1, maxLength: 3 }).map((ps) => JSON.stringify(ps)) },
  { weight: 1, arbitrary: fc.array(schemingPerson, { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: schemingPerson.map((p) => JSON.stringify(p)) },
  { weight: 1, arbitrary: fc.record({ en: personName, de: personName }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);
const organization = fc.oneof(
  fc.constant(null),
  fc.record({
    id: uuid,
    name: slug,
    title: fc.oneof(fc.constantFrom('Birmingham City Council', 'UNESCO', 'Department of Fish, Wildlife and Parks', 'CCCM Cluster', ''), fc.string({ maxLength: 20 }), fc.constant(null)),
    type: fc.constant('organization'),
    is_organization: fc.constant(true),
    state: fc.constant('active'),
  }),
);
const tag = fc.record({
  name: fc.oneof(fc.constantFrom('zenodo', 'Zenodo', 'archive', 'ocean', 'Ocean', 'air quality', 'hxl', 'education', 'SNOW DEPTH'), fc.stringMatching(/^[a-z][a-z ]{0,11}$/)),
  vocabulary_id: fc.oneof(fc.constant(null), fc.constant('4381d0a6-bd7b-4bc5-a4cd-89b0d8b0b0bd')),
  display_name: fc.constant('x'),
  state: fc.constant('active'),
});
const tags = fc.uniqueArray(tag, { maxLength: 6, selector: (t) => `${t.name}|${t.vocabulary_id}` });
const licenseId = fc.oneof(
  fc.constantFrom(...zenodoLicenseIds()),
  fc.constantFrom('cc-by', 'cc-by-sa', 'cc-zero', 'odc-odbl', 'odc-by', 'odc-pddl', 'uk-ogl', 'other-open', 'other-undefined', 'cc-by-igo', 'notspecified', 'dl-de-by-2.0', 'CC-BY-4.0'),
  fc.string({ maxLength: 12 }),
  fc.constant(null),
);
const doi = fc.oneof(
  fc.nat({ max: 999 }).map((n) => `10.16904/envidat.${n}`),
  fc.constantFrom('https://doi.org/10.5285/4F9D2C1A-0B7E', 'doi:10.1594/PANGAEA.912345', '10.5281/zenodo.1234567', 'not a doi', ''),
);
const override = fc.oneof(
  fc.constantFrom(
    '{"keywords": ["ocean heat"]}',
    '{"license": "cc-by-4.0"}',
    '{"license": "my-own"}',
    '{"creators": [{"name": "Doe, Jane", "orcid": "0000-0002-1825-0097"}]}',
    '{"communities": [{"identifier": "marine"}]}',
    '{"title": "A title from the owner"}',
    '{"related_identifiers": [{"identifier": "10.1234/paper.5", "relation": "isSupplementTo"}]}',
    '{"access_right": "open"}',
    '{"keywords": "ocean"}',
    '{not json',
    '',
  ),
  fc.record({ keywords: fc.array(fc.stringMatching(/^[a-z]{3,10}$/), { maxLength: 3 }), version: fc.constantFrom('1', '2') }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
);
const writeBackValue: Record<string, fc.Arbitrary<string>> = {
  zenodo_doi: fc.nat({ max: 9_999_999 }).map((n) => `10.5281/zenodo.${n}`),
  zenodo_version_doi: fc.nat({ max: 9_999_999 }).map((n) => `10.5281/zenodo.${n}`),
  zenodo_record_url: fc.nat({ max: 9_999_999 }).map((n) => `https://zenodo.org/records/${n}`),
};
const extra = fc.oneof(
  fc.record({ key: fc.constant('doi'), value: doi }),
  fc.record({ key: fc.constant('identifier'), value: doi }),
  fc.record({ key: fc.constant(OVERRIDE_EXTRA), value: override }),
  ...Object.entries(writeBackValue).map(([key, value]) => fc.record({ key: fc.constant(key), value })),
  fc.record({ key: fc.constantFrom('spatial', 'Anno', 'deprecatedResources', 'archive'), value: fc.string({ maxLength: 20 }) }),
);
const extras = fc.uniqueArray(extra, { maxLength: 6, selector: (e) => e.key });
const resource = fc.record({
  id: uuid,
  name: fc.constantFrom('data.csv', 'Bus stops', ''),
  url: fc.constantFrom('https://data.example.org/download/data.csv', 'https://data.example.org/download/stops.xlsx'),
  format: fc.constantFrom('CSV', 'XLSX', ''),
  size: fc.oneof(fc.nat(), fc.constant(null)),
  last_modified: timestamp,
  metadata_modified: timestamp,
  datastore_active: fc.boolean(),
});
const resources = fc.array(resource, { maxLength: 3 });
const version = fc.oneof(fc.constantFrom('1.0', '2024.1', 'v3', 'double-blind', ''), fc.string({ maxLength: 8 }), fc.constant(null));

/** A package dict as package_show / package_search return it, in the shapes real portals use. */
const dataset: fc.Arbitrary<Raw> = fc
  .record(
    {
      id: uuid,
      name: slug,
      title,
      notes,
      author: people,
      author_email: fc.constantFrom('', null, 'jane@example.org'),
      maintainer: people,
      maintainer_email: fc.constantFrom('', null, 'data@example.org '),
      organization,
      tags,
      license_id: licenseId,
      license_title: fc.constantFrom('Creative Commons Attribution', null),
      version,
      url: fc.constantFrom('', 'https://example.org/project'),
      state: fc.constant('active'),
      private: fc.boolean(),
      type: fc.constant('dataset'),
      metadata_created: timestamp,
      metadata_modified: timestamp,
      extras,
      resources,
      groups: fc.constant([]),
      // ckanext-scheming puts schema fields at the top level (EnviDat).
      doi,
      identifier: doi,
      [OVERRIDE_EXTRA]: override,
    },
    { requiredKeys: ['id', 'name', 'metadata_modified', 'resources', 'tags', 'title', 'author', 'maintainer', 'organization', 'license_id'] },
  );

const ruleArb: fc.Arbitrary<Rule> = fc
  .record({
    name: fc.constantFrom('tagged', 'marine'),
    tags: fc.constantFrom<string[]>(['zenodo'], ['zenodo', 'archive'], ['Ocean']),
    upload_type: fc.constantFrom('dataset', 'publication-report', 'image-figure', 'software'),
    access_right: fc.constantFrom('open', 'restricted', 'closed', 'embargoed' as const),
    communities: fc.constantFrom<string[]>([], ['marine'], ['marine', 'ocean-data'], [' marine ']),
    license: fc.constantFrom(undefined, 'cc-by', 'cc0-1.0', 'odbl-1.0'),
  })
  .map((r) => {
    const zenodo: Rule['zenodo'] = { upload_type: r.upload_type, access_right: r.access_right, communities: [...r.communities] };
    if (r.license !== undefined) zenodo.license = r.license;
    return makeRule({ name: r.name, when: { tags: [...r.tags] }, zenodo });
  });
const ckanUrl = fc.constantFrom('https://data.example.org', 'https://data.example.org/', 'https://data.gov.hk/en-data', 'https://ckan.example.net');

const world: fc.Arbitrary<World> = fc.record({ raw: dataset, rule: ruleArb, ckanUrl });

/** The maintainer is read only when the author names nobody; the organisation only when neither does. */
const noAuthor = world.chain((w) => nobody.map((author) => ({ ...w, raw: { ...w.raw, author } })));
const noPeople = noAuthor.chain((w) =>
  fc.tuple(nobody, organization.filter((o) => o !== null)).map(([maintainer, org]) => ({ ...w, raw: { ...w.raw, maintainer, organization: org } })),
);

// ------------------------------------------------------------------------------------------------
// Edits: each a single change of one thing, as an owner or operator would make it

interface Edit {
  what: string;
  apply: (w: World) => World;
}

function edit<T>(what: string, value: fc.Arbitrary<T>, apply: (w: World, v: T) => void): fc.Arbitrary<Edit> {
  return value.map((v) => ({
    what: `${what} := ${JSON.stringify(v)?.slice(0, 120)}`,
    apply: (w) => {
      const copy = { raw: structuredClone(w.raw), rule: structuredClone(w.rule), ckanUrl: w.ckanUrl };
      apply(copy, v);
      return copy;
    },
  }));
}

const setField = (key: string, value: fc.Arbitrary<unknown>): fc.Arbitrary<Edit> => edit(key, value, (w, v) => void (w.raw[key] = v));

function extrasOf(w: World): { key: string; value: unknown }[] {
  if (!Array.isArray(w.raw.extras)) w.raw.extras = [];
  return w.raw.extras as { key: string; value: unknown }[];
}

/** Sets (adds, or changes in place) one extra; `undefined` removes it. */
function setExtra(key: string, value: fc.Arbitrary<unknown>): fc.Arbitrary<Edit> {
  return edit(`extras[${key}]`, fc.option(value, { nil: undefined }), (w, v) => {
    const list = extrasOf(w);
    const at = list.findIndex((e) => e.key === key);
    if (v === undefined) {
      if (at >= 0) list.splice(at, 1);
    } else if (at >= 0) list[at] = { key, value: v };
    else list.splice(list.length === 0 ? 0 : 1, 0, { key, value: v });
  });
}

/** Every input of the mapping, with an edit that can change what it publishes. */
const INPUT_EDITS: [string, fc.Arbitrary<Edit>, fc.Arbitrary<World>?][] = [
  ['name', setField('name', slug)],
  ['title', setField('title', title)],
  ['notes', setField('notes', notes)],
  ['author', setField('author', people)],
  ['maintainer', setField('maintainer', people), noAuthor],
  ['organization', setField('organization', organization), noPeople],
  [
    'organization title',
    edit('organization.title', fc.constantFrom('Marine Institute', 'Transport for the County', ''), (w, v) => {
      if (w.raw.organization !== null && typeof w.raw.organization === 'object') (w.raw.organization as Raw).title = v;
    }),
    noPeople,
  ],
  ['tags (one added)', edit('tags += ', tag, (w, v) => void (w.raw.tags as unknown[]).push(v))],
  ['tags (one removed)', edit('tags -= #', fc.nat(5), (w, i) => void (w.raw.tags as unknown[]).splice(i, 1))],
  ['license_id', setField('license_id', licenseId)],
  ['extra doi', setExtra('doi', doi)],
  ['extra identifier', setExtra('identifier', doi)],
  [`extra ${OVERRIDE_EXTRA}`, setExtra(OVERRIDE_EXTRA, override)],
  ['scheming doi', setField('doi', fc.option(doi, { nil: undefined }))],
  ['scheming identifier', setField('identifier', fc.option(doi, { nil: undefined }))],
  [`scheming ${OVERRIDE_EXTRA}`, setField(OVERRIDE_EXTRA, fc.option(override, { nil: undefined }))],
  ['CKAN site URL', edit('ckanUrl', ckanUrl, (w, v) => void (w.ckanUrl = v))],
  ['rule zenodo policy', edit('rule', ruleArb, (w, v) => void (w.rule.zenodo = v.zenodo))],
  ['rule trigger tags', edit('rule.when.tags', ruleArb, (w, v) => void (w.rule.when = v.when))],
];

/** Edits that never change what is published, and must not look like a change. */
const INVISIBLE_EDITS: [string, fc.Arbitrary<Edit>][] = [
  ...Object.entries(writeBackValue).map(([key, value]): [string, fc.Arbitrary<Edit>] => [`write-back extra ${key}`, setExtra(key, value)]),
  [
    'all write-back extras at once (a publish)',
    edit('write-back', fc.tuple(writeBackValue.zenodo_doi!, writeBackValue.zenodo_version_doi!, writeBackValue.zenodo_record_url!), (w, [a, b, c]) => {
      const list = extrasOf(w).filter((e) => !WRITE_BACK.includes(e.key));
      w.raw.extras = [...list, { key: 'zenodo_doi', value: a }, { key: 'zenodo_version_doi', value: b }, { key: 'zenodo_record_url', value: c }];
    }),
  ],
  ['metadata_modified', setField('metadata_modified', timestamp)],
  ['resources', setField('resources', resources)],
  [
    'one resource changed',
    edit('resources[0]', resource, (w, r) => {
      const list = w.raw.resources as Raw[];
      if (list.length > 0) list[0] = { ...r, id: list[0]!.id };
    }),
  ],
  ['version', setField('version', version)],
];

// ------------------------------------------------------------------------------------------------

describe('(a) every edit the mapping would publish is a change to the scanner', () => {
  it.each(INPUT_EDITS)('%s', (_field, editArb, worlds = world) => {
    let published_changes = 0;
    fc.assert(
      fc.property(worlds, editArb, (w, e) => {
        const after = e.apply(w);
        if (published(after) === published(w)) return;
        published_changes++;
        expect(scanned(after), `${e.what} changes the published metadata but not the scanner fingerprint`).not.toBe(scanned(w));
      }),
      { numRuns: RUNS },
    );
    // The property must have been put to the test: edits of this input did change what is published.
    expect(published_changes).toBeGreaterThan(0);
  });
});

describe('(b) our write-back, timestamps, resources and the version are never a metadata change', () => {
  it.each(INVISIBLE_EDITS)('%s', (_field, editArb) => {
    fc.assert(
      fc.property(world, editArb, (w, e) => {
        const after = e.apply(w);
        expect(scanned(after), e.what).toBe(scanned(w));
        expect(published(after), e.what).toBe(published(w));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('(c) fields the mapping ignores leave the scanner fingerprint alone', () => {
  const IGNORED: [string, (raw: Raw) => void][] = [
    ['maintainer_email', (raw) => void (raw.maintainer_email = 'someone.else@example.org')],
    ['author_email', (raw) => void (raw.author_email = 'new.author@example.org')],
    ['url', (raw) => void (raw.url = 'https://example.org/elsewhere')],
    ['state', (raw) => void (raw.state = 'draft')],
    ['private', (raw) => void (raw.private = !raw.private)],
    ['license_title', (raw) => void (raw.license_title = 'Some other title')],
    ['metadata_created', (raw) => void (raw.metadata_created = '2001-01-01T00:00:00')],
    ['groups', (raw) => void (raw.groups = [{ name: 'new-group', title: 'New group' }])],
    ['num_resources', (raw) => void (raw.num_resources = 99)],
    ['a free extra (spatial)', (raw) => void (raw.extras = [...((raw.extras as unknown[] | undefined) ?? []), { key: 'spatial', value: '{"type": "Point"}' }])],
    ['a resource added', (raw) => void (raw.resources = [...((raw.resources as unknown[] | undefined) ?? []), { id: randomUUID(), url: 'https://x.example/a.csv' }])],
  ];

  const recorded: Raw[] = [];
  for (const file of readdirSync(CKAN_FIXTURES).filter((f) => f.endsWith('.json') && !f.includes('datastore_search'))) {
    const body = JSON.parse(readFileSync(join(CKAN_FIXTURES, file), 'utf8')) as { result?: { results?: Raw[] } & Raw } & Raw;
    if (file.includes('package_search')) recorded.push(...body.result!.results!);
    else recorded.push('result' in body ? body.result! : body);
  }
  const recordedRule = makeRule();

  it.each(IGNORED)('%s, on every recorded payload', (_field, change) => {
    expect(recorded).toHaveLength(16);
    for (const raw of recorded) {
      const before: World = { raw, rule: recordedRule, ckanUrl: 'https://data.example.org' };
      const after: World = { ...before, raw: structuredClone(raw) };
      change(after.raw);
      expect(scanned(after), String(raw.name)).toBe(scanned(before));
      expect(published(after), String(raw.name)).toBe(published(before));
    }
  });

  it.each(IGNORED)('%s, on random payloads', (_field, change) => {
    fc.assert(
      fc.property(world, (w) => {
        const after: World = { ...w, raw: structuredClone(w.raw) };
        change(after.raw);
        expect(scanned(after)).toBe(scanned(w));
      }),
      { numRuns: 50 },
    );
  });
});
