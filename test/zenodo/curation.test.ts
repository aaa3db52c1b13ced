import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZenodoEmulator, type ZenodoEmulator } from '../../src/emulators/zenodo/server.js';
import { createLogger } from '../../src/log.js';
import { createZenodoClient, type ZenodoClient } from '../../src/zenodo/client.js';
import { mergeCuration, withoutOutputOnly } from '../../src/zenodo/curation.js';
import { mapDatasetToZenodo } from '../../src/zenodo/metadata.js';
import { applyOverride, readOverride } from '../../src/zenodo/override.js';
import { makeRule } from '../support/rules.js';

const CKAN_URL = 'https://data.example.org';
const CKAN_LINK = { identifier: `${CKAN_URL}/dataset/ocean-temps`, relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' };
const HAND_LINK = { identifier: '10.1234/paper.5', relation: 'isCitedBy', scheme: 'doi' };

/** A fresh mapping of the CKAN dataset, as the sync makes it for every version. */
function freshMapping(): Record<string, unknown> {
  const rule = makeRule({ zenodo: { upload_type: 'dataset', access_right: 'open', communities: ['marine'] } });
  const dataset = {
    name: 'ocean-temps',
    title: 'Ocean temperatures',
    notes: 'Buoy data, **updated**.',
    author: 'Jane Doe; John Smith',
    license_id: 'cc-by',
    version: '2.0',
    tags: [{ name: 'environment' }, { name: 'zenodo' }],
  };
  return { ...mapDatasetToZenodo(dataset, rule, { ckanUrl: CKAN_URL, today: new Date('2025-03-04T10:00:00Z') }).metadata };
}

/**
 * `metadata` of a published version as the deposition GET returns it (reference §3.1, §5):
 * curated by hand on Zenodo, plus the output-only keys Zenodo adds.
 */
function latestVersion(): Record<string, unknown> {
  return {
    title: 'Ocean temperatures (old title)',
    upload_type: 'dataset',
    publication_date: '2024-05-01',
    description: '<p>Old description</p>',
    access_right: 'open',
    license: 'cc-zero',
    version: '1.0',
    creators: [
      { name: 'Doe, Jane', affiliation: 'Marine Institute', orcid: '0000-0002-1825-0097' },
      { name: 'Smith, John', gnd: '118572121' },
      { name: 'Added, By Hand' },
    ],
    contributors: [{ name: 'Lee, Ann', affiliation: 'SLF', orcid: '0000-0002-1694-233X', type: 'DataCurator' }],
    grants: [{ id: '283595' }, { id: '10.13039/100000001::1234567' }],
    communities: [{ identifier: 'marine' }, { identifier: 'curated-by-hand' }],
    keywords: ['Environment', 'hand keyword'],
    related_identifiers: [CKAN_LINK, HAND_LINK],
    subjects: [{ term: 'Oceanography', identifier: 'https://id.loc.gov/authorities/subjects/sh85094290', scheme: 'url' }],
    references: ['Doe J (2020) Buoys. Ocean Letters 1:1'],
    notes: '<p>Hand notes</p>',
    method: '<p>CTD casts</p>',
    language: 'eng',
    locations: [{ place: 'North Sea', lat: 56, lon: 3 }],
    dates: [{ start: '1990-01-01', end: '2020-12-31', type: 'Collected' }],
    journal_title: 'Ocean Data',
    some_future_field: { kept: true },
    imprint_publisher: 'Zenodo',
    doi: '10.5281/zenodo.100001',
    prereserve_doi: { doi: '10.5281/zenodo.100001', recid: 100001 },
    relations: { version: [{ index: 0, is_last: true, parent: { pid_type: 'recid', pid_value: '100000' } }] },
  };
}

describe('mergeCuration', () => {
  it('keeps everything curated on Zenodo that the mapping does not own', () => {
    expect(mergeCuration(freshMapping(), latestVersion())).toEqual({
      // the mapping's own fields, from the mapping
      title: 'Ocean temperatures',
      upload_type: 'dataset',
      description: `<p>Buoy data, <strong>updated</strong>.</p>\n<p>Archived from <a href="${CKAN_URL}/dataset/ocean-temps">${CKAN_URL}/dataset/ocean-temps</a>.</p>`,
      license: 'cc-by-4.0',
      version: '2.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      // the mapping's creators, with the ORCID, affiliation and GND Zenodo has for the same people
      creators: [
        { name: 'Jane Doe', affiliation: 'Marine Institute', orcid: '0000-0002-1825-0097' },
        { name: 'John Smith', gnd: '118572121' },
      ],
      // keywords are CKAN's tags (the trigger tag `zenodo` is not one); the rest are unions, the mapping's entries first
      keywords: ['environment'],
      communities: [{ identifier: 'marine' }, { identifier: 'curated-by-hand' }],
      related_identifiers: [CKAN_LINK, HAND_LINK],
      // carried over as Zenodo has them
      contributors: [{ name: 'Lee, Ann', affiliation: 'SLF', orcid: '0000-0002-1694-233X', type: 'DataCurator' }],
      grants: [{ id: '283595' }, { id: '10.13039/100000001::1234567' }],
      subjects: [{ term: 'Oceanography', identifier: 'https://id.loc.gov/authorities/subjects/sh85094290', scheme: 'url' }],
      references: ['Doe J (2020) Buoys. Ocean Letters 1:1'],
      notes: '<p>Hand notes</p>',
      method: '<p>CTD casts</p>',
      language: 'eng',
      locations: [{ place: 'North Sea', lat: 56, lon: 3 }],
      dates: [{ start: '1990-01-01', end: '2020-12-31', type: 'Collected' }],
      journal_title: 'Ocean Data',
      some_future_field: { kept: true },
    });
  });

  it.each(['doi', 'prereserve_doi', 'relations', 'imprint_publisher', 'conceptdoi', 'conceptrecid', 'doi_url'])('never sends back the output-only key %s', (key) => {
    const merged = mergeCuration(freshMapping(), { ...latestVersion(), conceptdoi: '10.5281/zenodo.100000', conceptrecid: '100000', doi_url: 'https://doi.org/10.5281/zenodo.100001' });
    expect(merged).not.toHaveProperty(key);
  });

  it('strips the output-only keys from what Zenodo returned, and nothing else', () => {
    const stripped = withoutOutputOnly(latestVersion());
    for (const key of ['doi', 'prereserve_doi', 'relations', 'imprint_publisher']) expect(stripped).not.toHaveProperty(key);
    expect(Object.keys(stripped)).toHaveLength(Object.keys(latestVersion()).length - 4);
  });

  it('takes the fields the mapping owns from the mapping even when it leaves them out', () => {
    const mapped = freshMapping();
    delete mapped.version;
    const merged = mergeCuration(mapped, { ...latestVersion(), access_right: 'embargoed', embargo_date: '2030-01-01', access_conditions: 'ask' });
    // a version number belongs to one version: Zenodo itself drops it on a new version (§4.2)
    expect(merged).not.toHaveProperty('version');
    expect(merged.access_right).toBe('open');
    expect(merged).not.toHaveProperty('embargo_date');
    expect(merged).not.toHaveProperty('access_conditions');
  });

  it('keeps the mapping value of a field it shares with the curation', () => {
    const merged = mergeCuration({ ...freshMapping(), notes: '<p>From the owner</p>', language: 'deu' }, latestVersion());
    expect(merged.notes).toBe('<p>From the owner</p>');
    expect(merged.language).toBe('deu');
  });

  it('enriches creators but never overwrites what the mapping says about them', () => {
    const mapped = { ...freshMapping(), creators: [{ name: 'Smith, John', affiliation: 'Own Lab' }, { name: 'Jane  DOE', orcid: '0000-0001-5109-3700' }] };
    expect(mergeCuration(mapped, latestVersion()).creators).toEqual([
      { name: 'Smith, John', affiliation: 'Own Lab', gnd: '118572121' },
      { name: 'Jane  DOE', orcid: '0000-0001-5109-3700', affiliation: 'Marine Institute' },
    ]);
  });

  it('unites related identifiers by identifier and relation, and grants in either form Zenodo uses', () => {
    const mapped = {
      ...freshMapping(),
      related_identifiers: [CKAN_LINK, { identifier: '10.1234/PAPER.5', relation: 'isCitedBy' }, { identifier: '10.1234/paper.5', relation: 'cites' }],
      grants: [{ id: '10.13039/501100000780::283595' }],
    };
    const merged = mergeCuration(mapped, latestVersion());
    expect(merged.related_identifiers).toEqual([CKAN_LINK, { identifier: '10.1234/PAPER.5', relation: 'isCitedBy' }, { identifier: '10.1234/paper.5', relation: 'cites' }]);
    // Zenodo returns the EC FP7 grant sent as "10.13039/501100000780::283595" as "283595": one grant
    expect(merged.grants).toEqual([{ id: '10.13039/501100000780::283595' }, { id: '10.13039/100000001::1234567' }]);
  });

  it('carries a sub-type only for the same upload type', () => {
    const curated = { ...latestVersion(), upload_type: 'publication', publication_type: 'report' };
    expect(mergeCuration({ ...freshMapping(), upload_type: 'publication' }, curated).publication_type).toBe('report');
    expect(mergeCuration({ ...freshMapping(), upload_type: 'publication', publication_type: 'article' }, curated).publication_type).toBe('article');
    expect(mergeCuration(freshMapping(), curated)).not.toHaveProperty('publication_type');
  });

  it('is the mapping alone for a first version, and changes neither argument', () => {
    const mapped = freshMapping();
    const latest = latestVersion();
    const [mappedBefore, latestBefore] = [structuredClone(mapped), structuredClone(latest)];
    expect(mergeCuration(mapped, undefined)).toEqual(mapped);
    const merged = mergeCuration(mapped, latest);
    (merged.communities as unknown[]).push({ identifier: 'x' });
    expect(mapped).toEqual(mappedBefore);
    expect(latest).toEqual(latestBefore);
  });

  it('skips curated values of a shape it cannot merge instead of sending them', () => {
    const merged = mergeCuration(freshMapping(), { ...latestVersion(), communities: 'marine', grants: null, keywords: [] });
    expect(merged.communities).toEqual([{ identifier: 'marine' }]);
    expect(merged).not.toHaveProperty('grants');
    expect(merged.keywords).toEqual(['environment']);
  });
});

describe('a merged payload against the Zenodo emulator', () => {
  let emu: ZenodoEmulator;
  let client: ZenodoClient;

  beforeAll(async () => {
    emu = await startZenodoEmulator({ rateLimit: false });
    client = createZenodoClient({ baseUrl: emu.url, token: 'test-token', log: createLogger({ level: 'silent' }), timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await client.close();
    await emu.close();
  });

  it('is accepted as a new version\'s metadata and keeps the curation, the override and the link back to CKAN', async () => {
    // Version 1, curated by hand on Zenodo (what `link` adopts).
    const curatedInput = latestVersion();
    for (const key of ['doi', 'prereserve_doi', 'relations', 'imprint_publisher', 'some_future_field']) delete curatedInput[key];
    const draft = await client.createDeposition(curatedInput);
    await client.uploadFile(draft.bucketUrl!, 'data.csv', Readable.from([Buffer.from('1, 2, 3')]), 7);
    const v1 = await client.publish(draft.id);
    const latest = (await client.getDeposition(v1.id)).metadata;
    expect(latest).toMatchObject({ doi: v1.doi, prereserve_doi: { recid: v1.id } }); // output-only keys are there to be dropped

    const override = readOverride(
      { extras: [{ key: 'zenodo_metadata', value: JSON.stringify({ keywords: ['buoys'], communities: [{ identifier: 'ocean-data' }], related_identifiers: [{ identifier: 'https://github.com/example/buoys', relation: 'isSupplementedBy' }], contributors: [{ name: 'Roe, Rick', type: 'ContactPerson' }] }) }] },
      'zenodo_metadata',
    );
    if (!override.ok) throw new Error(JSON.stringify(override.problems));
    const payload = mergeCuration(applyOverride(freshMapping(), override.value!), latest);

    const v2 = await client.newVersion(v1.id);
    // Control: echoing Zenodo's metadata as it came would make version 2 claim version 1's DOI.
    const naive = await client.updateMetadata(v2.id, { ...latest, ...freshMapping() });
    expect(naive.doi).toBe(v1.doi);

    const updated = await client.updateMetadata(v2.id, payload);
    expect(updated.doi).toBeNull();
    expect(updated.metadata).toMatchObject({
      title: 'Ocean temperatures',
      version: '2.0',
      license: 'cc-by-4.0',
      creators: [{ name: 'Jane Doe', affiliation: 'Marine Institute', orcid: '0000-0002-1825-0097' }, { name: 'John Smith', gnd: '118572121' }],
      contributors: [
        { name: 'Roe, Rick', type: 'ContactPerson' },
        { name: 'Lee, Ann', affiliation: 'SLF', orcid: '0000-0002-1694-233X', type: 'DataCurator' },
      ],
      grants: [{ id: '283595' }, { id: '10.13039/100000001::1234567' }],
      communities: [{ identifier: 'marine' }, { identifier: 'ocean-data' }, { identifier: 'curated-by-hand' }],
      keywords: ['environment', 'buoys'],
      related_identifiers: [
        CKAN_LINK,
        { identifier: 'https://github.com/example/buoys', relation: 'isSupplementedBy', scheme: 'url' },
        HAND_LINK,
      ],
      locations: [{ place: 'North Sea', lat: 56, lon: 3 }],
      notes: '<p>Hand notes</p>',
      language: 'eng',
    });

    const v2published = await client.publish(v2.id);
    expect(v2published.doi).toBe(`10.5281/zenodo.${v2.id}`);
    expect(v2published.conceptDoi).toBe(v1.conceptDoi);
  });
});
