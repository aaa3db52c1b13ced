/**
 * What a curator would see on Zenodo for real CKAN datasets, field by field.
 *
 * Every dataset of the recorded payloads in shared/fixtures/ckan-real (package_show, every result
 * of package_search; HDX's file is a bare dataset dict) and the shapes in
 * test/fixtures/ckan-shapes (mapping-*.json written for this test, creators-*.json reused) goes
 * through what the daemon does: the scanner's lenient `parseDataset`, then `mapDatasetToZenodo`
 * with the daemon's options and a rule that selects on the tag `zenodo`. The expected values are
 * written out as a curator would accept them; a change to any of them is a change to what gets a
 * permanent DOI, and must be made here on purpose.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDataset, type CkanDataset } from '../../src/scanner/ckan-types.js';
import { planSync } from '../../src/sync/plan.js';
import { mapDatasetToZenodo, ownExtras, type MapResult, type ZenodoMetadata } from '../../src/zenodo/metadata.js';
import { CKAN_FIXTURES } from '../support/fixtures.js';
import { makeRule } from '../support/rules.js';

const SHAPES = join(import.meta.dirname, '..', 'fixtures', 'ckan-shapes');
const TODAY = new Date('2025-03-04T12:00:00Z');
const RULE = makeRule({ name: 'tagged', when: { tags: ['zenodo'] } });
const SHAPES_URL = 'https://data.example.org';

/** The site URL an operator of each recorded portal would configure (`[ckan] url`). */
const PORTALS: Record<string, string> = {
  'data.birmingham.gov.uk-package_search-1.json': 'https://data.birmingham.gov.uk',
  'data.gov.hk-package_show-1.json': 'https://data.gov.hk/en-data/',
  'data.humdata.org-package_show-1.json': 'https://data.humdata.org',
  'demo.ckan.org-package_show-1.json': 'https://demo.ckan.org',
  'envidat.ch-package_search-1.json': 'https://www.envidat.ch',
  'envidat.ch-package_show-1.json': 'https://www.envidat.ch',
};

/** Every dataset dict of the recorded payloads, by file; the DataStore file holds none. */
function realDatasets(): { file: string; raw: unknown }[] {
  const out: { file: string; raw: unknown }[] = [];
  for (const file of readdirSync(CKAN_FIXTURES).filter((f) => f.endsWith('.json')).sort()) {
    if (file.includes('datastore_search')) continue;
    const body = JSON.parse(readFileSync(join(CKAN_FIXTURES, file), 'utf8')) as { result?: { results?: unknown[] } } & Record<string, unknown>;
    if (file.includes('package_search')) for (const raw of body.result!.results!) out.push({ file, raw });
    else out.push({ file, raw: 'result' in body ? body.result : body });
  }
  return out;
}

function parsed(raw: unknown): CkanDataset {
  const result = parseDataset(raw);
  if (!result.ok) throw new Error(`the scanner refused the payload: ${result.malformed.reason}`);
  return result.dataset;
}

function shape(file: string): unknown {
  return JSON.parse(readFileSync(join(SHAPES, file), 'utf8'));
}

/** As the daemon maps (src/daemon.ts): its own write-back extras ignored, overrides read from `zenodo_metadata`. */
function map(dataset: CkanDataset, ckanUrl: string, rule = RULE): MapResult {
  return mapDatasetToZenodo(dataset, rule, { ckanUrl, today: TODAY, ownExtras: ownExtras('zenodo_doi'), overrideExtra: 'zenodo_metadata' });
}

type Html = string | { starts: string; includes: string[]; ends: string };

interface Case {
  file: string;
  name: string;
  /** Everything sent but the description. */
  metadata: Omit<ZenodoMetadata, 'description'> & Record<string, unknown>;
  description: Html;
  license: MapResult['license'];
  problems: MapResult['problems'][number]['code'][];
  warnings: string[];
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

function expectAsCurated(result: MapResult, c: Case): void {
  const { description, ...rest } = result.metadata;
  expect(rest).toStrictEqual(c.metadata);
  if (typeof c.description === 'string') expect(description).toBe(c.description);
  else {
    expect(description.startsWith(c.description.starts), description.slice(0, 300)).toBe(true);
    for (const part of c.description.includes) expect(description).toContain(part);
    expect(description.endsWith(`\n${c.description.ends}`), description.slice(-300)).toBe(true);
  }
  // Rendered, never raw: no Markdown markup, carriage returns or active HTML left in the page.
  expect(description).not.toMatch(/\r|\]\(|\*\*|<script|<img|javascript:/i);
  expect(result.license).toStrictEqual(c.license);
  expect(result.problems.map((p) => p.code)).toEqual(c.problems);
  expect(result.warnings).toEqual(c.warnings);
  // Never a person's e-mail address, a user id or JSON debris as a creator; never the trigger tag.
  for (const creator of result.metadata.creators) expect(creator.name).not.toMatch(/[@{}[\]]|^Unknown$/);
  for (const creator of result.metadata.creators) expect(creator.name).not.toMatch(UUID);
  expect((result.metadata.keywords ?? []).map((k) => k.toLowerCase())).not.toContain('zenodo');
}

// ------------------------------------------------------------------------------------------------
// The recorded payloads

const REAL: Case[] = [
  {
    file: 'data.birmingham.gov.uk-package_search-1.json',
    name: 'purchase-card-transactions',
    metadata: {
      title: 'Purchase Card Transactions',
      upload_type: 'dataset',
      creators: [{ name: 'Ian Martin' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.birmingham.gov.uk/dataset/purchase-card-transactions', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['payments', 'purchase card'],
    },
    description: {
      starts: '<p>Under the Code of Recommended Practice for Local Authorities on Data Transparency, councils are encouraged to publish all corporate purchase card transactions.</p>',
      includes: [
        'more than £500 within our Payments to Suppliers page',
        '<a href="http://birmingham.gov.uk/foi">birmingham.gov.uk/foi</a>',
        '<a href="mailto:foi.mailbox@birmingham.gov.uk">foi.mailbox@birmingham.gov.uk</a>',
        '<p><a href="https://data.birmingham.gov.uk/organization/birmingham-city-council">https://data.birmingham.gov.uk/organization/birmingham-city-council</a></p>',
      ],
      ends: '<p>Archived from <a href="https://data.birmingham.gov.uk/dataset/purchase-card-transactions">https://data.birmingham.gov.uk/dataset/purchase-card-transactions</a>.</p>',
    },
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'data.birmingham.gov.uk-package_search-1.json',
    name: 'february-2018-purchase-card-transactions',
    metadata: {
      title: 'February 2018 Purchase Card Transactions',
      upload_type: 'dataset',
      creators: [{ name: 'Nickey Parmar-Knight' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.birmingham.gov.uk/dataset/february-2018-purchase-card-transactions', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['feb2018', 'payments', 'purchase card', 'transparency'],
    },
    description: {
      starts: '<p>Under the Code of Recommended Practice for Local Authorities on Data Transparency, councils are encouraged to publish all corporate purchase card transactions.</p>',
      includes: [
        'more than £500 within our Payments to Suppliers page',
        '<a href="http://birmingham.gov.uk/foi">birmingham.gov.uk/foi</a>',
        '<a href="mailto:foi.mailbox@birmingham.gov.uk">foi.mailbox@birmingham.gov.uk</a>',
      ],
      ends: '<p>Archived from <a href="https://data.birmingham.gov.uk/dataset/february-2018-purchase-card-transactions">https://data.birmingham.gov.uk/dataset/february-2018-purchase-card-transactions</a>.</p>',
    },
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [
      'the author "foi.mailbox" is not a name (it looks like a user name, an e-mail address or an id); it is not used for the creators',
      'the dataset names no author; the maintainer is listed as creator',
    ],
  },
  {
    file: 'data.birmingham.gov.uk-package_search-1.json',
    name: 'april-2021-purchase-card-transactions',
    metadata: {
      title: 'April 2021 Purchase Card Transactions',
      upload_type: 'dataset',
      creators: [{ name: 'Accounts Payable' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.birmingham.gov.uk/dataset/april-2021-purchase-card-transactions', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['Local Government Transparency Code', 'open data'],
      version: '1.0',
    },
    description: {
      starts: '<p>Under the Code of Recommended Practice for Local Authorities on Data Transparency, councils are encouraged to publish all corporate purchase card transactions.</p>',
      includes: [
        'more than £500 within our Payments to Suppliers page',
        '<a href="http://birmingham.gov.uk/foi">birmingham.gov.uk/foi</a>',
        '<a href="mailto:foi.mailbox@birmingham.gov.uk">foi.mailbox@birmingham.gov.uk</a>',
      ],
      ends: '<p>Archived from <a href="https://data.birmingham.gov.uk/dataset/april-2021-purchase-card-transactions">https://data.birmingham.gov.uk/dataset/april-2021-purchase-card-transactions</a>.</p>',
    },
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'data.birmingham.gov.uk-package_search-1.json',
    name: 'march-2021-purchase-card-transactions',
    metadata: {
      title: 'March 2021 Purchase Card Transactions',
      upload_type: 'dataset',
      creators: [{ name: 'Accounts Payable' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.birmingham.gov.uk/dataset/march-2021-purchase-card-transactions', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['Local Governement Transparency', 'Open data', 'freedom of information act'],
      version: '1.0',
    },
    description: {
      starts: '<p>Under the Code of Recommended Practice for Local Authorities on Data Transparency, councils are encouraged to publish all corporate purchase card transactions.</p>',
      includes: [
        'more than £500 within our Payments to Suppliers page',
        '<a href="http://birmingham.gov.uk/foi">birmingham.gov.uk/foi</a>',
        '<a href="mailto:foi.mailbox@birmingham.gov.uk">foi.mailbox@birmingham.gov.uk</a>',
      ],
      ends: '<p>Archived from <a href="https://data.birmingham.gov.uk/dataset/march-2021-purchase-card-transactions">https://data.birmingham.gov.uk/dataset/march-2021-purchase-card-transactions</a>.</p>',
    },
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'data.birmingham.gov.uk-package_search-1.json',
    name: 'february-2021-purchase-card-transactions',
    metadata: {
      title: 'February 2021 Purchase Card Transactions',
      upload_type: 'dataset',
      creators: [{ name: 'Accounts Payable' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.birmingham.gov.uk/dataset/february-2021-purchase-card-transactions', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['Local Government Transparency Code', 'economy financial transparency', 'freedom of information'],
      version: '1.0',
    },
    description: {
      starts: '<p>Under the Code of Recommended Practice for Local Authorities on Data Transparency, councils are encouraged to publish all corporate purchase card transactions.</p>',
      includes: [
        'more than £500 within our Payments to Suppliers page',
        '<a href="http://birmingham.gov.uk/foi">birmingham.gov.uk/foi</a>',
        '<a href="mailto:foi.mailbox@birmingham.gov.uk">foi.mailbox@birmingham.gov.uk</a>',
      ],
      ends: '<p>Archived from <a href="https://data.birmingham.gov.uk/dataset/february-2021-purchase-card-transactions">https://data.birmingham.gov.uk/dataset/february-2021-purchase-card-transactions</a>.</p>',
    },
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'data.birmingham.gov.uk-package_search-1.json',
    name: 'january-2021-purchase-card-transactions',
    metadata: {
      title: 'January 2021 Purchase Card Transactions',
      upload_type: 'dataset',
      creators: [{ name: 'Accounts Payable' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.birmingham.gov.uk/dataset/january-2021-purchase-card-transactions', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['Local Government Transparency Code', 'freedom of information'],
      version: '1.0',
    },
    description: {
      starts: '<p>Under the Code of Recommended Practice for Local Authorities on Data Transparency, councils are encouraged to publish all corporate purchase card transactions.</p>',
      includes: [
        'more than £500 within our Payments to Suppliers page',
        '<a href="http://birmingham.gov.uk/foi">birmingham.gov.uk/foi</a>',
        '<a href="mailto:foi.mailbox@birmingham.gov.uk">foi.mailbox@birmingham.gov.uk</a>',
      ],
      ends: '<p>Archived from <a href="https://data.birmingham.gov.uk/dataset/january-2021-purchase-card-transactions">https://data.birmingham.gov.uk/dataset/january-2021-purchase-card-transactions</a>.</p>',
    },
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'data.birmingham.gov.uk-package_search-1.json',
    name: 'december_2020_purchase_card_transactions',
    metadata: {
      title: 'December 2020 Purchase Card Transactions',
      upload_type: 'dataset',
      creators: [{ name: 'Accounts Payable' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.birmingham.gov.uk/dataset/december_2020_purchase_card_transactions', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['economy financial transparency', 'freedom of information'],
      version: '1.0',
    },
    description: {
      starts: '<p>Under the Code of Recommended Practice for Local Authorities on Data Transparency, councils are encouraged to publish all corporate purchase card transactions.</p>',
      includes: [
        'more than £500 within our Payments to Suppliers page',
        '<a href="http://birmingham.gov.uk/foi">birmingham.gov.uk/foi</a>',
        '<a href="mailto:foi.mailbox@birmingham.gov.uk">foi.mailbox@birmingham.gov.uk</a>',
      ],
      ends: '<p>Archived from <a href="https://data.birmingham.gov.uk/dataset/december_2020_purchase_card_transactions">https://data.birmingham.gov.uk/dataset/december_2020_purchase_card_transactions</a>.</p>',
    },
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'data.birmingham.gov.uk-package_search-1.json',
    name: 'october_2020_purchase_card_transactions',
    metadata: {
      title: 'October 2020 Purchase Card Transactions',
      upload_type: 'dataset',
      creators: [{ name: 'Accounts Payable' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.birmingham.gov.uk/dataset/october_2020_purchase_card_transactions', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['economy financial transparency', 'freedom of information'],
      version: '1.0',
    },
    description: {
      starts: '<p>Under the Code of Recommended Practice for Local Authorities on Data Transparency, councils are encouraged to publish all corporate purchase card transactions.</p>',
      includes: [
        'more than £500 within our Payments to Suppliers page',
        '<a href="http://birmingham.gov.uk/foi">birmingham.gov.uk/foi</a>',
        '<a href="mailto:foi.mailbox@birmingham.gov.uk">foi.mailbox@birmingham.gov.uk</a>',
      ],
      ends: '<p>Archived from <a href="https://data.birmingham.gov.uk/dataset/october_2020_purchase_card_transactions">https://data.birmingham.gov.uk/dataset/october_2020_purchase_card_transactions</a>.</p>',
    },
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'data.birmingham.gov.uk-package_search-1.json',
    name: 'august_2020_purchase_card_transactions',
    metadata: {
      title: 'August 2020 Purchase Card Transactions',
      upload_type: 'dataset',
      creators: [{ name: 'Accounts Payable' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.birmingham.gov.uk/dataset/august_2020_purchase_card_transactions', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['economy financial transparency', 'freedom of information'],
      version: '1.0',
    },
    description: {
      starts: '<p>Under the Code of Recommended Practice for Local Authorities on Data Transparency, councils are encouraged to publish all corporate purchase card transactions.</p>',
      includes: [
        'more than £500 within our Payments to Suppliers page',
        '<a href="http://birmingham.gov.uk/foi">birmingham.gov.uk/foi</a>',
        '<a href="mailto:foi.mailbox@birmingham.gov.uk">foi.mailbox@birmingham.gov.uk</a>',
      ],
      ends: '<p>Archived from <a href="https://data.birmingham.gov.uk/dataset/august_2020_purchase_card_transactions">https://data.birmingham.gov.uk/dataset/august_2020_purchase_card_transactions</a>.</p>',
    },
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'data.birmingham.gov.uk-package_search-1.json',
    name: 'july_2020_purchase_card_transactions',
    metadata: {
      title: 'July 2020 Purchase Card Transactions',
      upload_type: 'dataset',
      creators: [{ name: 'Accounts Payable' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.birmingham.gov.uk/dataset/july_2020_purchase_card_transactions', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['economy financial transparency', 'freedom of information'],
      version: '1.0',
    },
    description: {
      starts: '<p>Under the Code of Recommended Practice for Local Authorities on Data Transparency, councils are encouraged to publish all corporate purchase card transactions.</p>',
      includes: [
        'more than £500 within our Payments to Suppliers page',
        '<a href="http://birmingham.gov.uk/foi">birmingham.gov.uk/foi</a>',
        '<a href="mailto:foi.mailbox@birmingham.gov.uk">foi.mailbox@birmingham.gov.uk</a>',
      ],
      ends: '<p>Archived from <a href="https://data.birmingham.gov.uk/dataset/july_2020_purchase_card_transactions">https://data.birmingham.gov.uk/dataset/july_2020_purchase_card_transactions</a>.</p>',
    },
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'data.gov.hk-package_show-1.json',
    name: 'hk-pland-pland1-2021-based-tpedm',
    metadata: {
      title: '2021-based Territorial Population and Employment Data Matrix',
      upload_type: 'dataset',
      creators: [{ name: 'Planning Department' }],
      license: '',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.gov.hk/en-data/dataset/hk-pland-pland1-2021-based-tpedm', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
    },
    description: {
      starts: '<p>###GENERAL NOTES :###',
      includes: [
        'shown on <a href="https://www.pland.gov.hk/file/resources/population_data/tpedm/2021/Map_1.pdf">Map 1</a> and <a href="https://www.pland.gov.hk/file/resources/population_data/tpedm/2021/Map_2.pdf">Map 2</a>.</p>',
        '<p><em><strong>Employment Coverage</strong></em></p>',
        'HKRP comprises “Usual Residents” and “Mobile Residents”',
      ],
      ends: '<p>Archived from <a href="https://data.gov.hk/en-data/dataset/hk-pland-pland1-2021-based-tpedm">https://data.gov.hk/en-data/dataset/hk-pland-pland1-2021-based-tpedm</a>.</p>',
    },
    license: { id: undefined, source: 'none', ckanId: undefined, explanation: 'none: the dataset has no licence in CKAN and rule "tagged" sets no zenodo.license' },
    problems: ['LICENSE_UNKNOWN'],
    warnings: ['the dataset names no author; the maintainer is listed as creator'],
  },
  {
    file: 'data.humdata.org-package_show-1.json',
    name: 'unesco-data-for-zimbabwe',
    metadata: {
      title: 'Zimbabwe - Education Indicators',
      upload_type: 'dataset',
      creators: [{ name: 'UNESCO' }],
      license: '',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.humdata.org/dataset/unesco-data-for-zimbabwe', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['demographics', 'education', 'hxl', 'indicators', 'socioeconomics', 'sustainable development'],
    },
    description: '<p>Education indicators for Zimbabwe.</p>\n<p>Contains data from the UNESCO Institute for Statistics <a href="http://data.uis.unesco.org">bulk data service</a> covering the following categories: National Monitoring (made 2021 March), SDG 4 Global and Thematic (made 2021 March), Demographic and Socio-economic (made 2021 March)</p>\n<p>Archived from <a href="https://data.humdata.org/dataset/unesco-data-for-zimbabwe">https://data.humdata.org/dataset/unesco-data-for-zimbabwe</a>.</p>',
    license: { id: undefined, source: 'none', ckanId: 'cc-by-igo', explanation: "none: the dataset's CKAN licence \"cc-by-igo\" has no exact Zenodo equivalent and rule \"tagged\" sets no zenodo.license" },
    problems: ['LICENSE_UNKNOWN'],
    warnings: [
      'the maintainer "a5c5296a-3206-4e51-b2de-bfe34857185f" is not a name (it looks like a user name, an e-mail address or an id); it is not used for the creators',
      'the dataset names no usable author or maintainer; the organization "UNESCO" is listed as creator',
    ],
  },
  {
    file: 'demo.ckan.org-package_show-1.json',
    name: '2016-regione-asia-est-oceania-classi-di-eta',
    metadata: {
      title: '2016 Regione Asia Est Oceania * Classi di età',
      upload_type: 'dataset',
      creators: [{ name: 'SDB' }],
      license: 'cc-by-4.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://demo.ckan.org/dataset/2016-regione-asia-est-oceania-classi-di-eta', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['2016', 'RASE', 'età'],
    },
    description: '<p>Dati demografici al 31.12.2016 della Regione Asia Est Oceania per classi di età</p>\n<p>Archived from <a href="https://demo.ckan.org/dataset/2016-regione-asia-est-oceania-classi-di-eta">https://demo.ckan.org/dataset/2016-regione-asia-est-oceania-classi-di-eta</a>.</p>',
    license: { id: 'cc-by-4.0', source: 'ckan', ckanId: 'cc-by', explanation: "\"cc-by-4.0\", from the dataset's licence \"cc-by\" in CKAN" },
    problems: [],
    warnings: ['the dataset names no usable author or maintainer; the organization "SDB" is listed as creator'],
  },
  {
    file: 'envidat.ch-package_search-1.json',
    name: 'the-importance-of-hot-summers-and-individual-heatwaves-for-permafrost-warming-an',
    metadata: {
      title: 'The importance of hot summers and individual heatwaves for permafrost in the Swiss Alps',
      upload_type: 'dataset',
      creators: [
        { name: 'Büeler, Dominik', affiliation: 'MeteoSwiss' },
        { name: 'Sharaborova, Elizaveta', affiliation: 'EPFL' },
        { name: 'Pyrina, Maria', affiliation: 'ETH' },
        { name: 'Noetzli, Jeannette', affiliation: 'WSL Institute for Snow and Avalanche Research SLF', orcid: '0000-0001-9188-6318' },
        {
          name: 'Lehning, Michael',
          affiliation: 'Ècole Polytechnique Fèdèrale de Lausanne, Lausanne, Switzerland School of Architecture, Civil and Environmental Engineering, Laboratory of Cryospheric Sciences (CRYOS) and WSL Institute for Snow and Avalanche Research SLF, Davos, Switzerland',
          orcid: '0000-0002-8442-0875',
        },
        { name: 'Domeisen, Daniela', affiliation: 'UNIL' },
      ],
      license: 'cc-by-4.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [
        {
          identifier: 'https://www.envidat.ch/dataset/the-importance-of-hot-summers-and-individual-heatwaves-for-permafrost-warming-an',
          relation: 'isDerivedFrom',
          resource_type: 'dataset',
          scheme: 'url',
        },
        { identifier: '10.16904/envidat.792', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'doi' },
      ],
      keywords: ['ATMOSPHERIC HEATWAVES', 'CLIMATE CHANGE', 'HOT SUMMER', 'MOUNTAIN PERMAFROST', 'SEASONAL VARIABILITY', 'SUBSEASONAL VARIABILITY'],
      version: '1.0',
    },
    description: '<p>This dataset contains idealized sensitivity simulations performed with the SNOWPACK model to investigate how the timing of summer heat affects ground thermal conditions in alpine permafrost. The simulations demonstrate that late-summer heatwaves lead to greater heat retention in the ground until the following spring than equally warm early-summer events. The dataset supports analyses of the influence of atmospheric heat timing on active-layer heat storage and permafrost thermal evolution.</p>\n<p>Archived from <a href="https://www.envidat.ch/dataset/the-importance-of-hot-summers-and-individual-heatwaves-for-permafrost-warming-an">https://www.envidat.ch/dataset/the-importance-of-hot-summers-and-individual-heatwaves-for-permafrost-warming-an</a>.</p>',
    license: { id: 'cc-by-4.0', source: 'ckan', ckanId: 'cc-by', explanation: "\"cc-by-4.0\", from the dataset's licence \"cc-by\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'envidat.ch-package_search-1.json',
    name: 'dataset-for-canopy-scale-vpd-reduction-in-a-mature-forest-alters-stomatal-respon',
    metadata: {
      title: 'Dataset for "Canopy-scale VPD reduction in a mature forest alters stomatal response to soil drought in Pinus sylvestris L."',
      upload_type: 'dataset',
      creators: [
        {
          name: 'Bortolami, Giovanni',
          affiliation: 'Plant Ecology Research Laboratory, School of Architecture, Civil and Environmental Engineering, EPFL, Lausanne, Switzerland',
          orcid: '0000-0001-7528-9644',
        },
        { name: 'Schaub, Marcus', affiliation: 'Swiss Federal Institute for Forest, Snow, and Landscape WSL, CH-8903, Birmensdorf, Switzerland', orcid: '0000-0002-0158-8892' },
        { name: 'Gisler, Jonas', affiliation: 'Swiss Federal Institute for Forest Snow and Landscape Research WSL, Zuercherstrasse 111, 8903 Birmensdorf, Switzerland' },
        { name: 'Milano, Arianna', affiliation: 'EPFL' },
        { name: 'Bachofen, Christoph', affiliation: 'WSL', orcid: '0000-0002-5269-0299' },
        { name: 'Deluigi, Janisse', affiliation: 'EPFL-WSL Lausanne', orcid: '0000-0002-6547-4085' },
        { name: 'Favre, Patrick', affiliation: 'Plant Ecology Research Laboratory, School of Architecture, Civil and Environmental Engineering, EPFL, Lausanne, Switzerland' },
        {
          name: 'Meusburger, Katrin',
          affiliation: 'Forest Soils and Biogeochemistry, Swiss Federal Institute for Forest, Snow and Landscape Research WSL, Birmensdorf, Switzerland',
          orcid: '0000-0003-4623-6249',
        },
        {
          name: 'Gessler, Arthur',
          affiliation: 'Swiss Federal Institute for Forest Snow and Landscape Research WSL, Zuercherstrasse 111, 8903 Birmensdorf, Switzerland',
          orcid: '0000-0002-1910-9589',
        },
        {
          name: 'Hunziker, Stefan',
          affiliation: 'Forest and Soil Ecology, Swiss Federal Institute for Forest, Snow, and Landscape Research WSL, CH-8903, Birmensdorf, Switzerland',
          orcid: '0000-0001-6900-5684',
        },
        { name: 'Kükenbrink, Daniel', affiliation: 'WSL', orcid: '0000-0003-3083-640X' },
        { name: 'Kullberg, Alyssa', affiliation: 'Swiss Federal Institute for Forest, Snow, and Landscape WSL, CH-8903, Birmensdorf, Switzerland', orcid: '0000-0002-1521-439X' },
        {
          name: 'Marty, Mauro',
          affiliation: 'Remote Sensing, Landscape Change Science, Swiss Federal Institute for Forest, Snow and Landscape Research WSL, 8903 Birmensdorf, Switzerland',
          orcid: '0000-0002-0943-2454',
        },
        { name: 'Peters, Richard L.', affiliation: 'Tree Growth and Wood Physiology, School of Life Sciences, Technical University of Munich, Germany' },
        { name: 'Poretti, Alvaro', affiliation: 'Swiss Federal Institute for Forest, Snow, and Landscape WSL, CH-8903, Birmensdorf, Switzerland' },
        { name: 'Schuler, Philipp', affiliation: 'WSL' },
        { name: 'Trotsiuk, Volodymyr', affiliation: 'Swiss Federal Institute for Forest, Snow and Landscape Research WSL, Birmensdorf, Switzerland', orcid: '0000-0002-8363-656X' },
        {
          name: 'Vallicrosa, Helena',
          affiliation: 'Plant Ecology Research Laboratory PERL, School of Architecture, Civil and Environmental Engineering ENAC, EPFL, CH-1015 Lausanne, Switzerland',
          orcid: '0000-0002-5860-3096',
        },
        { name: 'Zweifel, Roman', affiliation: 'WSL', orcid: '0000-0001-9438-0582' },
        { name: 'Grossiord, Charlotte', affiliation: 'Swiss Federal Institute for Forest, Snow and Landscape Research WSL, Birmensdorf, Switzerland', orcid: '0000-0002-9113-3671' },
      ],
      license: 'cc-by-4.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [
        {
          identifier: 'https://www.envidat.ch/dataset/dataset-for-canopy-scale-vpd-reduction-in-a-mature-forest-alters-stomatal-respon',
          relation: 'isDerivedFrom',
          resource_type: 'dataset',
          scheme: 'url',
        },
        { identifier: '10.16904/envidat.790', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'doi' },
      ],
      keywords: ['ATMOSPHERIC DROUGHT', 'DATASET', 'PFYNWALD', 'SCOTS PINE', 'SOIL DROUGHT', 'STOMATA', 'TRANSPIRATION', 'TREE-WATER-DEFICIT', 'VPDROUGHT', 'WATER POTENTIAL', 'WHOLE-CANOPY CONDUCTANCE'],
    },
    description: '<p>This is the dataset used to generate the analyses (statistical tests and figures) for the article &quot;Canopy-scale VPD reduction in a mature forest alters stomatal response to soil drought in Pinus sylvestris L.&quot;.\nThe data are already filtered as specified in the material and method sections of the related article.</p>\n<p>Archived from <a href="https://www.envidat.ch/dataset/dataset-for-canopy-scale-vpd-reduction-in-a-mature-forest-alters-stomatal-respon">https://www.envidat.ch/dataset/dataset-for-canopy-scale-vpd-reduction-in-a-mature-forest-alters-stomatal-respon</a>.</p>',
    license: { id: 'cc-by-4.0', source: 'ckan', ckanId: 'cc-by', explanation: "\"cc-by-4.0\", from the dataset's licence \"cc-by\" in CKAN" },
    problems: [],
    warnings: ['the version "double-blind" has no number in it, so it does not read as a version; the record is published without one'],
  },
  {
    file: 'envidat.ch-package_show-1.json',
    name: 'fatal-avalanche-accidents-in-switzerland-since-1936-37',
    metadata: {
      title: 'Fatal avalanche accidents in Switzerland since 1936/37',
      upload_type: 'dataset',
      creators: [{ name: 'WSL Institute for Snow and Avalanche Research SLF' }],
      license: '',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [
        { identifier: 'https://www.envidat.ch/dataset/fatal-avalanche-accidents-in-switzerland-since-1936-37', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' },
        { identifier: '10.16904/envidat.412', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'doi' },
      ],
      keywords: ['AVALANCHE ACCIDENT STATISTICS', 'AVALANCHE ACCIDENTS', 'AVALANCHE FATALITIES', 'NUMBER OF CAUGHT PERSONS', 'NUMBER OF DEAD PERSONS'],
      version: '1.0',
    },
    description: {
      starts: '<p><strong>When using this data, please consider and adhere to the associated <a href="https://www.slf.ch/en/services-and-products/data-and-monitoring/slf-data-service.html">Terms of Use</a></strong>.</p>',
      includes: [
        '<p>The following information is provided:</p>\n<ul>\n<li>avalanche identifier</li>\n<li>date of the accident</li>',
        '<li>activity/location of the accident party at the time of the incident</li>\n</ul>',
      ],
      ends: '<p>Archived from <a href="https://www.envidat.ch/dataset/fatal-avalanche-accidents-in-switzerland-since-1936-37">https://www.envidat.ch/dataset/fatal-avalanche-accidents-in-switzerland-since-1936-37</a>.</p>',
    },
    license: {
      id: undefined,
      source: 'none',
      ckanId: 'other-undefined',
      explanation: "none: the dataset's CKAN licence \"other-undefined\" has no exact Zenodo equivalent and rule \"tagged\" sets no zenodo.license",
    },
    problems: ['LICENSE_UNKNOWN'],
    warnings: [],
  },
];

describe('the recorded CKAN payloads, as published on Zenodo', () => {
  const datasets = realDatasets();

  it('has an expectation for every dataset of every recorded payload', () => {
    expect(datasets.map((d) => `${d.file} ${(d.raw as { name: string }).name}`).sort()).toEqual(REAL.map((c) => `${c.file} ${c.name}`).sort());
  });

  it.each(REAL.map((c) => [c.name, c] as const))('%s', (name, c) => {
    const found = datasets.find((d) => d.file === c.file && (d.raw as { name: string }).name === name);
    expect(found).toBeDefined();
    expectAsCurated(map(parsed(found!.raw), PORTALS[c.file]!), c);
  });
});

// ------------------------------------------------------------------------------------------------
// Shapes the recorded payloads lack

const SHAPE_CASES: Case[] = [
  {
    file: 'creators-maintainer-uuid.json',
    name: 'unesco-data-for-malawi',
    metadata: {
      title: 'Malawi - Education Indicators',
      upload_type: 'dataset',
      creators: [{ name: 'UNESCO' }],
      license: 'cc-by-4.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.example.org/dataset/unesco-data-for-malawi', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      version: '1.0',
    },
    description: '<p>Education indicators for Malawi.</p>\n<p>Archived from <a href="https://data.example.org/dataset/unesco-data-for-malawi">https://data.example.org/dataset/unesco-data-for-malawi</a>.</p>',
    license: { id: 'cc-by-4.0', source: 'ckan', ckanId: 'cc-by', explanation: "\"cc-by-4.0\", from the dataset's licence \"cc-by\" in CKAN" },
    problems: [],
    warnings: [
      'the maintainer "a5c5296a-3206-4e51-b2de-bfe34857185f" is not a name (it looks like a user name, an e-mail address or an id); it is not used for the creators',
      'the dataset names no usable author or maintainer; the organization "UNESCO" is listed as creator',
    ],
  },
  {
    file: 'creators-scheming-array.json',
    name: 'alpine-treeline-plots-2023',
    metadata: {
      title: 'Alpine treeline monitoring plots 2023',
      upload_type: 'dataset',
      creators: [{ name: 'Meier, Anna', affiliation: 'WSL', orcid: '0000-0002-1825-0097' }, { name: 'Rossi, Luca', affiliation: 'University of Bern' }, { name: 'WSL Data Centre' }],
      license: 'cc-by-4.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.example.org/dataset/alpine-treeline-plots-2023', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      version: '1.0',
    },
    description: '<p>Tree height and age of 412 trees at the alpine treeline, 2023 field season.</p>\n<p>Archived from <a href="https://data.example.org/dataset/alpine-treeline-plots-2023">https://data.example.org/dataset/alpine-treeline-plots-2023</a>.</p>',
    license: { id: 'cc-by-4.0', source: 'ckan', ckanId: 'cc-by', explanation: "\"cc-by-4.0\", from the dataset's licence \"cc-by\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'mapping-empty-format.json',
    name: 'bus-stops-2024',
    metadata: {
      title: 'Bus stops 2024',
      upload_type: 'dataset',
      creators: [{ name: 'Transport Data Team' }],
      license: 'ogl-uk-3.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.example.org/dataset/bus-stops-2024', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['transport'],
      version: '1.0',
    },
    description: '<p>All bus stops with their NaPTAN codes.</p>\n<p>Archived from <a href="https://data.example.org/dataset/bus-stops-2024">https://data.example.org/dataset/bus-stops-2024</a>.</p>',
    license: { id: 'ogl-uk-3.0', source: 'ckan', ckanId: 'uk-ogl', explanation: "\"ogl-uk-3.0\", from the dataset's licence \"uk-ogl\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'mapping-fluent.json',
    name: 'luftqualitaet-zuerich-2023',
    metadata: {
      title: 'Air quality Zurich 2023',
      upload_type: 'dataset',
      creators: [{ name: 'Müller, Jürgen' }, { name: 'Keller, Anna' }],
      license: 'cc0-1.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.example.org/dataset/luftqualitaet-zuerich-2023', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['Luftqualität', 'air quality'],
      version: '2023',
    },
    description: '<p>Hourly readings of NO₂, O₃ and PM10.</p>\n<p>Stations: <em>Stampfenbachstrasse</em>, <em>Schimmelstrasse</em>.</p>\n<p>Archived from <a href="https://data.example.org/dataset/luftqualitaet-zuerich-2023">https://data.example.org/dataset/luftqualitaet-zuerich-2023</a>.</p>',
    license: { id: 'cc0-1.0', source: 'ckan', ckanId: 'cc-zero', explanation: "\"cc0-1.0\", from the dataset's licence \"cc-zero\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'mapping-hdx-vocabulary.json',
    name: 'somalia-idp-sites',
    metadata: {
      title: 'Somalia - IDP Sites',
      upload_type: 'dataset',
      creators: [{ name: 'CCCM Cluster' }],
      license: 'odbl-1.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.example.org/dataset/somalia-idp-sites', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['internally displaced persons-idp', 'camp coordination and camp management', 'hxl'],
    },
    description: '<p>Locations of sites hosting internally displaced people, with estimated households.</p>\n<p>Archived from <a href="https://data.example.org/dataset/somalia-idp-sites">https://data.example.org/dataset/somalia-idp-sites</a>.</p>',
    license: { id: 'odbl-1.0', source: 'ckan', ckanId: 'odc-odbl', explanation: "\"odbl-1.0\", from the dataset's licence \"odc-odbl\" in CKAN" },
    problems: [],
    warnings: [
      'the maintainer "9b1e2d44-6c7a-4f0e-8a55-2f3c1d9e7b60" is not a name (it looks like a user name, an e-mail address or an id); it is not used for the creators',
      'the dataset names no usable author or maintainer; the organization "CCCM Cluster" is listed as creator',
    ],
  },
  {
    file: 'mapping-identifier-doi.json',
    name: 'coastal-erosion-transects',
    metadata: {
      title: 'Coastal erosion transects, Holderness coast',
      upload_type: 'dataset',
      creators: [{ name: 'Jane Doe' }, { name: 'John Smith' }],
      license: 'cc-by-sa-4.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [
        { identifier: 'https://data.example.org/dataset/coastal-erosion-transects', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' },
        { identifier: '10.5285/4F9D2C1A-0B7E-4E3A-9C55-123456789ABC', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'doi' },
      ],
      keywords: ['coastal erosion', 'geomorphology'],
      version: 'v3',
    },
    description: '<p>Cliff-top positions surveyed twice a year along 74 transects.</p>\n<p>Archived from <a href="https://data.example.org/dataset/coastal-erosion-transects">https://data.example.org/dataset/coastal-erosion-transects</a>.</p>',
    license: { id: 'cc-by-sa-4.0', source: 'ckan', ckanId: 'cc-by-sa', explanation: "\"cc-by-sa-4.0\", from the dataset's licence \"cc-by-sa\" in CKAN" },
    problems: [],
    warnings: [],
  },
  {
    file: 'mapping-license-null.json',
    name: 'public-toilets-locations',
    metadata: {
      title: 'Locations of public toilets',
      upload_type: 'dataset',
      creators: [{ name: 'Food and Environmental Hygiene Department' }],
      license: '',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.example.org/dataset/public-toilets-locations', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['toilets'],
    },
    description: '<p>Public toilets managed by the department, with opening hours.</p>\n<p>Archived from <a href="https://data.example.org/dataset/public-toilets-locations">https://data.example.org/dataset/public-toilets-locations</a>.</p>',
    license: { id: undefined, source: 'none', ckanId: undefined, explanation: 'none: the dataset has no licence in CKAN and rule "tagged" sets no zenodo.license' },
    problems: ['LICENSE_UNKNOWN'],
    warnings: [],
  },
  {
    file: 'mapping-license-unknown.json',
    name: 'verkehrszaehlungen-2024',
    metadata: {
      title: 'Verkehrszählungen 2024',
      upload_type: 'dataset',
      creators: [{ name: 'Tiefbauamt' }],
      license: '',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.example.org/dataset/verkehrszaehlungen-2024', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['Verkehr'],
      version: '1.0',
    },
    description: '<p>Stündliche Verkehrszählungen an 40 Zählstellen.</p>\n<p>Archived from <a href="https://data.example.org/dataset/verkehrszaehlungen-2024">https://data.example.org/dataset/verkehrszaehlungen-2024</a>.</p>',
    license: {
      id: undefined,
      source: 'none',
      ckanId: 'dl-de-by-2.0',
      explanation: "none: the dataset's CKAN licence \"dl-de-by-2.0\" has no exact Zenodo equivalent and rule \"tagged\" sets no zenodo.license",
    },
    problems: ['LICENSE_UNKNOWN'],
    warnings: [],
  },
  {
    file: 'mapping-org-and.json',
    name: 'trout-stocking-2024',
    metadata: {
      title: 'Trout stocking 2024',
      upload_type: 'dataset',
      creators: [{ name: 'Department of Fish, Wildlife and Parks' }],
      license: 'pddl-1.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.example.org/dataset/trout-stocking-2024', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['fisheries'],
      version: '1.0',
    },
    description: '<p>Fish stocked per water body.</p>\n<p>Archived from <a href="https://data.example.org/dataset/trout-stocking-2024">https://data.example.org/dataset/trout-stocking-2024</a>.</p>',
    license: { id: 'pddl-1.0', source: 'ckan', ckanId: 'odc-pddl', explanation: "\"pddl-1.0\", from the dataset's licence \"odc-pddl\" in CKAN" },
    problems: [],
    warnings: ['the dataset names no usable author or maintainer; the organization "Department of Fish, Wildlife and Parks" is listed as creator'],
  },
  {
    file: 'mapping-override-invalid.json',
    name: 'river-discharge-daily',
    metadata: {
      title: 'Daily river discharge',
      upload_type: 'dataset',
      creators: [{ name: 'Hydrology Unit' }],
      license: 'cc-by-4.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [{ identifier: 'https://data.example.org/dataset/river-discharge-daily', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
      keywords: ['hydrology'],
      version: '1.0',
    },
    description: '<p>Daily mean discharge at 8 gauging stations.</p>\n<p>Archived from <a href="https://data.example.org/dataset/river-discharge-daily">https://data.example.org/dataset/river-discharge-daily</a>.</p>',
    license: { id: 'cc-by-4.0', source: 'ckan', ckanId: 'cc-by', explanation: "\"cc-by-4.0\", from the dataset's licence \"cc-by\" in CKAN" },
    problems: ['METADATA_OVERRIDE_INVALID'],
    warnings: [],
  },
  {
    file: 'mapping-override-valid.json',
    name: 'sea-surface-temperature-buoys',
    metadata: {
      title: 'Sea surface temperature from moored buoys',
      upload_type: 'dataset',
      creators: [{ name: 'Doe, Jane', affiliation: 'Marine Institute', orcid: '0000-0002-1825-0097' }, { name: 'Marine Data Unit' }],
      license: 'cc-by-4.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [
        { identifier: 'https://data.example.org/dataset/sea-surface-temperature-buoys', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' },
        { identifier: '10.1234/ocean.2024.5', relation: 'isSupplementTo', resource_type: 'publication-article' },
      ],
      keywords: ['oceanography', 'sea surface temperature'],
      version: '4.0',
      language: 'eng',
      communities: [{ identifier: 'marine' }],
    },
    description: '<p>Ten-minute sea surface temperature from 12 moored buoys.</p>\n<p>Archived from <a href="https://data.example.org/dataset/sea-surface-temperature-buoys">https://data.example.org/dataset/sea-surface-temperature-buoys</a>.</p>',
    license: { id: 'cc-by-4.0', source: 'override', ckanId: 'other-undefined', explanation: "\"cc-by-4.0\", set by the dataset's \"zenodo_metadata\" extra" },
    problems: [],
    warnings: [],
  },
  {
    file: 'mapping-scheming-author-string.json',
    name: 'snow-depth-weissfluhjoch-2015-2024',
    metadata: {
      title: 'Snow depth at Weissfluhjoch 2015–2024',
      upload_type: 'dataset',
      creators: [{ name: 'Huber, Marta', affiliation: 'WSL Institute for Snow and Avalanche Research SLF', orcid: '0000-0001-9188-6318' }, { name: 'Rossi, Paolo', affiliation: 'ETH Zurich' }],
      license: 'odbl-1.0',
      publication_date: '2025-03-04',
      access_right: 'open',
      related_identifiers: [
        { identifier: 'https://data.example.org/dataset/snow-depth-weissfluhjoch-2015-2024', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' },
        { identifier: '10.16904/envidat.512', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'doi' },
      ],
      keywords: ['SNOW DEPTH', 'ALPINE'],
      version: '2.1',
    },
    description: '<p>Daily snow depth measured with an ultrasonic sensor at <strong>Weissfluhjoch</strong> (2536 m a.s.l.).</p>\n<ul>\n<li>2015–2019: sensor A</li>\n<li>2020–2024: sensor B</li>\n</ul>\n<p>See the <a href="https://www.slf.ch/en/stations/wfj">station page</a> for details.</p>\n<p>Archived from <a href="https://data.example.org/dataset/snow-depth-weissfluhjoch-2015-2024">https://data.example.org/dataset/snow-depth-weissfluhjoch-2015-2024</a>.</p>',
    license: { id: 'odbl-1.0', source: 'ckan', ckanId: 'odc-odbl', explanation: "\"odbl-1.0\", from the dataset's licence \"odc-odbl\" in CKAN" },
    problems: [],
    warnings: [],
  },
];

describe('CKAN shapes beyond the recorded payloads, as published on Zenodo', () => {
  it.each(SHAPE_CASES.map((c) => [c.file, c] as const))('%s', (file, c) => {
    const dataset = parsed(shape(file));
    expect(dataset.name).toBe(c.name);
    expectAsCurated(map(dataset, SHAPES_URL), c);
  });

  it('tells the owner, field by field, what is wrong with an invalid zenodo_metadata extra', () => {
    const { problems } = map(parsed(shape('mapping-override-invalid.json')), SHAPES_URL);
    expect(problems[0]!.fieldErrors).toEqual([
      {
        field: 'zenodo_metadata.creators[0].orcid',
        message: 'is not a valid ORCID: its last character is a check digit that does not match (got "0000-0002-1825-0098"); copy the iD from the person\'s orcid.org page',
      },
      { field: 'zenodo_metadata.keywords', message: 'must be a list of keywords in square brackets, e.g. ["ocean", "temperature"] (got "rivers")' },
      {
        field: 'zenodo_metadata.access_right',
        message:
          "cannot be set here: access is decided by the portal's archiving rule (rules.yaml), so that a dataset editor cannot publish files the operator keeps restricted or closed; ask the portal operator to change the rule",
      },
    ]);
  });
});

describe('what the rule decides', () => {
  const marine = makeRule({
    name: 'marine',
    when: { tags: ['zenodo', 'Archive'] },
    zenodo: { upload_type: 'dataset', access_right: 'restricted', communities: ['marine-data', ' marine-data ', ''], license: 'cc-by' },
  });

  it("uses the rule's licence for a dataset without one, and says whose choice it was", () => {
    const result = map(parsed(shape('mapping-license-null.json')), SHAPES_URL, marine);
    expect(result.problems).toEqual([]);
    expect(result.metadata.license).toBe('cc-by-4.0');
    expect(result.license).toStrictEqual({
      id: 'cc-by-4.0',
      source: 'rule',
      ckanId: undefined,
      explanation: '"cc-by-4.0", set by rule "marine" (zenodo.license) because the dataset has no licence in CKAN',
    });
    expect(result.warnings).toEqual(['licence "cc-by-4.0", set by rule "marine" (zenodo.license) because the dataset has no licence in CKAN']);
    expect(result.metadata.access_right).toBe('restricted');
    expect(result.metadata.communities).toEqual([{ identifier: 'marine-data' }]);
  });

  it("keeps the dataset's own licence over the rule's, and adds the owner's communities after the rule's", () => {
    const result = map(parsed(shape('mapping-override-valid.json')), SHAPES_URL, marine);
    expect(result.license.source).toBe('override');
    expect(result.metadata.license).toBe('cc-by-4.0');
    expect(result.metadata.communities).toEqual([{ identifier: 'marine-data' }, { identifier: 'marine' }]);
    const own = map(parsed(shape('mapping-scheming-author-string.json')), SHAPES_URL, marine);
    expect(own.metadata.license).toBe('odbl-1.0');
    expect(own.license.source).toBe('ckan');
  });

  it('leaves every tag the rule selects on out of the keywords', () => {
    const dataset = parsed(shape('mapping-identifier-doi.json'));
    dataset.tags.push({ name: 'Archive', vocabulary_id: null }, { name: 'ZENODO', vocabulary_id: null });
    expect(map(dataset, SHAPES_URL, marine).metadata.keywords).toEqual(['coastal erosion', 'geomorphology']);
  });
});

// ------------------------------------------------------------------------------------------------
// Files

describe('the files a curator downloads keep their type', () => {
  function plannedNames(dataset: CkanDataset, ckanUrl: string): Record<string, string> {
    const plan = planSync({
      ckanUrl,
      dataset,
      rule: RULE,
      archived: undefined,
      fingerprints: new Map(),
      storedFilenames: new Map(),
      metadataFingerprint: 'm',
    });
    return Object.fromEntries(plan.files.map((f) => [f.resourceId, f.filename]));
  }

  it('an upload with an empty format keeps the extension of its URL (data.birmingham.gov.uk)', () => {
    const raw = realDatasets().find((d) => (d.raw as { name: string }).name === 'purchase-card-transactions')!.raw;
    const names = plannedNames(parsed(raw), PORTALS['data.birmingham.gov.uk-package_search-1.json']!);
    expect(Object.keys(names)).toHaveLength(45);
    // `format: ""`, URL .../download/purchasecardsnov2014.xls and .../publishspendjanuary2016.xls
    expect(names['d1e4ec86-3ce3-4769-851d-63eda74253bf']).toBe('Purchase_Card_transactions_-_November_2014.xls');
    expect(names['d43bc2cd-37f0-410d-9e35-35ff25ef52d2']).toBe('Purchase_Card_transactions_-_January_2016.xls');
    expect(names['b4a15ade-11b1-4c98-88a0-8cd8408212ac']).toBe('Purchase_Card_transactions_-_April_2014.xls');
    expect(names['33eff69b-f7e7-48af-ad93-0324d9f4ca1c']).toBe('Purchase_Card_Transactions_-_December_2017.csv');
    for (const name of Object.values(names)) expect(name).toMatch(/\.(xls|csv)$/);
  });

  it('an empty format takes the URL extension, lowercased; a URL ending in a version number adds none', () => {
    const dataset = parsed(shape('mapping-empty-format.json'));
    const ids = dataset.resources.map((r) => r.id);
    expect(dataset.resources.map((r) => r.format)).toEqual(['', '', '', 'CSV']);
    expect(plannedNames(dataset, SHAPES_URL)).toEqual({
      [ids[0]!]: 'Bus_stops_2024.xlsx',
      [ids[1]!]: 'Bus_stops_2024_(GeoJSON).geojson',
      [ids[2]!]: 'Timetable_feed',
      [ids[3]!]: 'Bus_stops_2024_(CSV).csv',
    });
  });
});
