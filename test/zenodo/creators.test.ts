/**
 * Creators a curator would accept (src/zenodo/creators.ts): a Zenodo DOI is permanent, so every
 * real CKAN payload we have, and every shape of author field seen in the wild, must give exactly
 * the people a curator would list, and nothing else (no e-mail addresses, user ids or JSON debris).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mapCreators, parseOrcid, parsePeople, peopleEmails, type CreatorEntry } from '../../src/zenodo/creators.js';
import { CKAN_FIXTURES } from '../support/fixtures.js';

type Dataset = { name: string; author?: unknown; maintainer?: unknown; organization?: unknown; [key: string]: unknown };

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const EMAIL = /[^\s@]+@[^\s@]+\.[^\s@]+/;

function orcidChecksumOk(orcid: string): boolean {
  const digits = orcid.replace(/-/g, '');
  let total = 0;
  for (const d of digits.slice(0, 15)) total = (total + Number(d)) * 2;
  const result = (12 - (total % 11)) % 11;
  return /^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$/.test(orcid) && digits[15] === (result === 10 ? 'X' : String(result));
}

/** [name, affiliation?, orcid?]: compact, so that a table row reads like the record page. */
type Row = [string, string?, string?];
const rows = (creators: Row[]): CreatorEntry[] =>
  creators.map(([name, affiliation, orcid]) => ({
    name,
    ...(affiliation !== undefined ? { affiliation } : {}),
    ...(orcid !== undefined ? { orcid } : {}),
  }));

function realDatasets(): Dataset[] {
  const out: Dataset[] = [];
  for (const file of readdirSync(CKAN_FIXTURES).sort()) {
    if (!file.endsWith('.json')) continue;
    const json = JSON.parse(readFileSync(join(CKAN_FIXTURES, file), 'utf8')) as Record<string, unknown>;
    if (file.includes('package_show')) {
      // HDX's file is the bare dataset dict, without the {success, result} envelope.
      out.push(('result' in json ? json.result : json) as Dataset);
    } else if (file.includes('package_search')) {
      out.push(...(json.result as { results: Dataset[] }).results);
    }
  }
  return out;
}

const WSL_LONG = 'Swiss Federal Institute for Forest Snow and Landscape Research WSL, Zuercherstrasse 111, 8903 Birmensdorf, Switzerland';
const WSL_CH = 'Swiss Federal Institute for Forest, Snow, and Landscape WSL, CH-8903, Birmensdorf, Switzerland';
const WSL_BIRM = 'Swiss Federal Institute for Forest, Snow and Landscape Research WSL, Birmensdorf, Switzerland';
const PERL = 'Plant Ecology Research Laboratory, School of Architecture, Civil and Environmental Engineering, EPFL, Lausanne, Switzerland';
const BIRMINGHAM_ACCOUNTS: Row[] = [['Accounts Payable']];

/** What a curator would list for each real dataset, and the warning a fallback must explain. */
const REAL: Record<string, { creators: Row[]; warning?: RegExp }> = {
  // EnviDat: `author` is a JSON string holding one organisation; its affiliation repeats its name.
  'fatal-avalanche-accidents-in-switzerland-since-1936-37': { creators: [['WSL Institute for Snow and Avalanche Research SLF']] },
  'the-importance-of-hot-summers-and-individual-heatwaves-for-permafrost-warming-an': {
    creators: [
      ['Büeler, Dominik', 'MeteoSwiss'],
      ['Sharaborova, Elizaveta', 'EPFL'],
      ['Pyrina, Maria', 'ETH'],
      ['Noetzli, Jeannette', 'WSL Institute for Snow and Avalanche Research SLF', '0000-0001-9188-6318'],
      [
        'Lehning, Michael',
        'Ècole Polytechnique Fèdèrale de Lausanne, Lausanne, Switzerland School of Architecture, Civil and Environmental Engineering, Laboratory of Cryospheric Sciences (CRYOS) and WSL Institute for Snow and Avalanche Research SLF, Davos, Switzerland',
        '0000-0002-8442-0875',
      ],
      ['Domeisen, Daniela', 'UNIL'],
    ],
  },
  'dataset-for-canopy-scale-vpd-reduction-in-a-mature-forest-alters-stomatal-respon': {
    creators: [
      ['Bortolami, Giovanni', PERL, '0000-0001-7528-9644'],
      ['Schaub, Marcus', WSL_CH, '0000-0002-0158-8892'],
      ['Gisler, Jonas', WSL_LONG],
      ['Milano, Arianna', 'EPFL'],
      ['Bachofen, Christoph', 'WSL', '0000-0002-5269-0299'],
      ['Deluigi, Janisse', 'EPFL-WSL Lausanne', '0000-0002-6547-4085'],
      ['Favre, Patrick', PERL],
      ['Meusburger, Katrin', 'Forest Soils and Biogeochemistry, Swiss Federal Institute for Forest, Snow and Landscape Research WSL, Birmensdorf, Switzerland', '0000-0003-4623-6249'],
      ['Gessler, Arthur', WSL_LONG, '0000-0002-1910-9589'],
      ['Hunziker, Stefan', 'Forest and Soil Ecology, Swiss Federal Institute for Forest, Snow, and Landscape Research WSL, CH-8903, Birmensdorf, Switzerland', '0000-0001-6900-5684'],
      ['Kükenbrink, Daniel', 'WSL', '0000-0003-3083-640X'],
      ['Kullberg, Alyssa', WSL_CH, '0000-0002-1521-439X'],
      ['Marty, Mauro', 'Remote Sensing, Landscape Change Science, Swiss Federal Institute for Forest, Snow and Landscape Research WSL, 8903 Birmensdorf, Switzerland', '0000-0002-0943-2454'],
      ['Peters, Richard L.', 'Tree Growth and Wood Physiology, School of Life Sciences, Technical University of Munich, Germany'],
      ['Poretti, Alvaro', WSL_CH],
      ['Schuler, Philipp', 'WSL'],
      ['Trotsiuk, Volodymyr', WSL_BIRM, '0000-0002-8363-656X'],
      ['Vallicrosa, Helena', 'Plant Ecology Research Laboratory PERL, School of Architecture, Civil and Environmental Engineering ENAC, EPFL, CH-1015 Lausanne, Switzerland', '0000-0002-5860-3096'],
      ['Zweifel, Roman', 'WSL', '0000-0001-9438-0582'],
      ['Grossiord, Charlotte', WSL_BIRM, '0000-0002-9113-3671'],
    ],
  },
  // demo.ckan.org: author and maintainer are empty strings.
  '2016-regione-asia-est-oceania-classi-di-eta': { creators: [['SDB']], warning: /organization "SDB" is listed as creator/ },
  // data.gov.hk: no author; the maintainer is a department.
  'hk-pland-pland1-2021-based-tpedm': { creators: [['Planning Department']], warning: /no author; the maintainer is listed/ },
  // HDX: the maintainer is a CKAN user UUID, never a creator.
  'unesco-data-for-zimbabwe': { creators: [['UNESCO']], warning: /organization "UNESCO" is listed as creator/ },
  'purchase-card-transactions': { creators: [['Ian Martin']] },
  // Birmingham: "foi.mailbox" is the local part of a mailbox, not a person.
  'february-2018-purchase-card-transactions': { creators: [['Nickey Parmar-Knight']], warning: /author "foi\.mailbox" is not a name/ },
  'april-2021-purchase-card-transactions': { creators: BIRMINGHAM_ACCOUNTS },
  'march-2021-purchase-card-transactions': { creators: BIRMINGHAM_ACCOUNTS },
  'february-2021-purchase-card-transactions': { creators: BIRMINGHAM_ACCOUNTS },
  'january-2021-purchase-card-transactions': { creators: BIRMINGHAM_ACCOUNTS },
  'december_2020_purchase_card_transactions': { creators: BIRMINGHAM_ACCOUNTS },
  'october_2020_purchase_card_transactions': { creators: BIRMINGHAM_ACCOUNTS },
  'august_2020_purchase_card_transactions': { creators: BIRMINGHAM_ACCOUNTS },
  'july_2020_purchase_card_transactions': { creators: BIRMINGHAM_ACCOUNTS },
};

function assertClean(creators: CreatorEntry[]): void {
  for (const c of creators) {
    expect(c.name).not.toMatch(/[@{"]/);
    expect(c.name).not.toMatch(UUID);
    expect(c.name.length).toBeLessThanOrEqual(255);
    if (c.orcid !== undefined) expect(orcidChecksumOk(c.orcid)).toBe(true);
  }
}

describe('real CKAN datasets', () => {
  const datasets = realDatasets();

  it('covers every dataset in the shared fixtures (a new fixture needs its expected creators here)', () => {
    expect(datasets.map((d) => d.name).sort()).toEqual(Object.keys(REAL).sort());
  });

  it.each(datasets.map((d) => [d.name, d] as const))('%s', (_name, dataset) => {
    const expected = REAL[dataset.name]!;
    const warnings: string[] = [];
    const creators = mapCreators(dataset, warnings);
    expect(creators).toBeDefined();
    const want = rows(expected.creators);
    expect(creators).toHaveLength(want.length);
    want.forEach((w, i) => {
      expect(creators![i]!.name).toBe(w.name);
      expect(creators![i]!.affiliation).toBe(w.affiliation);
      expect(creators![i]!.orcid).toBe(w.orcid);
    });
    assertClean(creators!);
    if (expected.warning) expect(warnings.join('\n')).toMatch(expected.warning);
    else expect(warnings).toEqual([]);
  });

  it('finds the e-mail addresses of EnviDat\'s scheming lists (author_email and maintainer_email are null there)', () => {
    const byName = new Map(datasets.map((d) => [d.name, d]));
    const slf = byName.get('fatal-avalanche-accidents-in-switzerland-since-1936-37')!;
    expect(peopleEmails(slf.author)).toEqual(['data@slf.ch']);
    expect(peopleEmails(slf.maintainer)).toEqual(['data@slf.ch']);
    const heat = byName.get('the-importance-of-hot-summers-and-individual-heatwaves-for-permafrost-warming-an')!;
    expect(peopleEmails(heat.author)).toEqual([
      'Dominik.Bueeler@meteoswiss.ch',
      'elizaveta.sharaborova@epfl.ch',
      'maria.pyrina@env.ethz.ch',
      'jeannette.noetzli@slf.ch',
      'lehning@slf.ch',
      'daniela.domeisen@unil.ch',
    ]);
    expect(peopleEmails(heat.maintainer)).toEqual(['elizaveta.sharaborova@epfl.ch']);
    expect(peopleEmails(byName.get('unesco-data-for-zimbabwe')!.maintainer)).toEqual([]);
    // EnviDat's maintainer is one scheming object given as a JSON string.
    expect(parsePeople(heat.maintainer)).toEqual([{ name: 'Sharaborova, Elizaveta', email: 'elizaveta.sharaborova@epfl.ch' }]);
  });
});

// ------------------------------------------------------------------------------------------------

const SHAPES = join(import.meta.dirname, '..', 'fixtures', 'ckan-shapes');
const shape = (name: string): Dataset => JSON.parse(readFileSync(join(SHAPES, `creators-${name}.json`), 'utf8')) as Dataset;

/** Package dicts for shapes the real fixtures lack (test/fixtures/ckan-shapes/creators-*.json). */
const SHAPE_CASES: { file: string; creators: Row[] | undefined; warning?: RegExp; emails?: { author: string[]; maintainer: string[] } }[] = [
  {
    // A scheming list given as a real array: affiliation_02 is read when affiliation is empty,
    // the ORCID URL is sent bare, an organisation's affiliation repeating its name is dropped.
    file: 'scheming-array',
    creators: [['Meier, Anna', 'WSL', '0000-0002-1825-0097'], ['Rossi, Luca', 'University of Bern'], ['WSL Data Centre']],
    emails: { author: ['anna.meier@wsl.ch', 'luca.rossi@example.ch', 'envidat@wsl.ch'], maintainer: ['anna.meier@wsl.ch'] },
  },
  { file: 'fluent-author', creators: [['Jane Doe'], ['Pierre Martin']] },
  { file: 'org-and', creators: [['Ministry of Housing and Urban Development']] },
  {
    file: 'maintainer-uuid',
    creators: [['UNESCO']],
    warning: /maintainer "a5c5296a-3206-4e51-b2de-bfe34857185f" is not a name[\s\S]*organization "UNESCO" is listed as creator/,
  },
  { file: 'username-author', creators: [['Jane Doe']], warning: /author "jdoe_42" is not a name[\s\S]*maintainer is listed as creator/ },
  {
    file: 'email-only',
    creators: [['Springfield City Council']],
    warning: /author "parking\.team@springfield\.example\.gov" is not a name[\s\S]*organization "Springfield City Council"/,
    emails: { author: ['parking.team@springfield.example.gov'], maintainer: [] },
  },
  {
    file: 'invalid-orcid',
    creators: [['Keller, Hans', 'SLF'], ['Brunner, Eva', 'SLF', '0000-0001-9188-6318']],
    warning: /ORCID "0000-0002-1825-0098" of "Keller, Hans" is not a valid ORCID iD/,
  },
  { file: 'family-given-semicolon', creators: [['Doe, Jane'], ['Smith, John']] },
  { file: 'newline-list', creators: [['Jane Doe'], ['John Smith'], ['Ann Lee']] },
  { file: 'empty-list-no-org', creators: undefined },
];

describe('CKAN shapes beyond the real fixtures', () => {
  it.each(SHAPE_CASES.map((c) => [c.file, c] as const))('%s', (file, c) => {
    const dataset = shape(file);
    const warnings: string[] = [];
    const creators = mapCreators(dataset, warnings);
    if (c.creators === undefined) {
      expect(creators).toBeUndefined();
      return;
    }
    const want = rows(c.creators);
    expect(creators).toHaveLength(want.length);
    want.forEach((w, i) => {
      expect(creators![i]!.name).toBe(w.name);
      expect(creators![i]!.affiliation).toBe(w.affiliation);
      expect(creators![i]!.orcid).toBe(w.orcid);
    });
    assertClean(creators!);
    if (c.warning) expect(warnings.join('\n')).toMatch(c.warning);
    else expect(warnings).toEqual([]);
    if (c.emails) {
      expect(peopleEmails(dataset.author)).toEqual(c.emails.author);
      expect(peopleEmails(dataset.maintainer)).toEqual(c.emails.maintainer);
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe('parsePeople on plain text', () => {
  const cases: [string, Row[]][] = [
    ['Jane Doe', [['Jane Doe']]],
    ['Doe, Jane', [['Doe, Jane']]],
    ['Doe, Jane Mary', [['Doe, Jane Mary']]],
    ['van der Berg, Jan', [['van der Berg, Jan']]],
    ['De Souza, Ana Maria', [['De Souza, Ana Maria']]],
    ['Doe, Jane, Smith, John', [['Doe, Jane'], ['Smith, John']]],
    ['Doe, J., Smith, A.', [['Doe, J.'], ['Smith, A.']]],
    ['Jane Doe, John Smith', [['Jane Doe'], ['John Smith']]],
    ['Jane Doe, John Smith, Ann Lee', [['Jane Doe'], ['John Smith'], ['Ann Lee']]],
    ['Jane Doe; John Smith', [['Jane Doe'], ['John Smith']]],
    ['Doe, Jane; Smith, John', [['Doe, Jane'], ['Smith, John']]],
    ['Jane Doe\nJohn Smith\r\nAnn Lee', [['Jane Doe'], ['John Smith'], ['Ann Lee']]],
    // " and " / "&" separate only clearly personal names; inside an organisation they stay.
    ['Jane Doe and John Smith', [['Jane Doe'], ['John Smith']]],
    ['Jane Doe, John Smith and Ann Lee', [['Jane Doe'], ['John Smith'], ['Ann Lee']]],
    ['Doe, Jane & Smith, John', [['Doe, Jane'], ['Smith, John']]],
    ['Ministry of Housing and Urban Development', [['Ministry of Housing and Urban Development']]],
    ['Department of Fish & Game', [['Department of Fish & Game']]],
    ['Department of Fish, Wildlife and Parks', [['Department of Fish, Wildlife and Parks']]],
    ['Johnson & Johnson', [['Johnson & Johnson']]],
    ['Marks and Spencer', [['Marks and Spencer']]],
    ['Ian Martin, Birmingham City Council', [['Ian Martin', 'Birmingham City Council']]],
    ['Doe, Jane, University of Bern, Institute of Geography', [['Doe, Jane', 'University of Bern, Institute of Geography']]],
    ['Jane Doe (University of Bern); Smith, John (ETH Zurich Library)', [['Jane Doe', 'University of Bern'], ['Smith, John', 'ETH Zurich Library']]],
    ['Jane Doe (Jr)', [['Jane Doe (Jr)']]],
    ['Smith, John, PhD', [['Smith, John, PhD']]],
    ['UNESCO', [['UNESCO']]],
    ['Plato', [['Plato']]],
    ['Müller, Jürgen; 王 小明', [['Müller, Jürgen'], ['王 小明']]],
    ['  Jane   Doe ;; ; ', [['Jane Doe']]],
    ['Jane Doe; jane doe; JANE DOE', [['Jane Doe']]],
    ['Jane\u0000 Doe\u202E', [['Jane Doe']]],
    ['Jane Doe <jane@example.org>', [['Jane Doe']]],
    ['Jane Doe (mailto:jane@example.org), John Smith <john@example.org>', [['Jane Doe'], ['John Smith']]],
    // Names nobody would accept as a creator.
    ['jdoe_42', []],
    ['foi.mailbox', []],
    ['data-team', []],
    ['a5c5296a-3206-4e51-b2de-bfe34857185f', []],
    ['Owner a5c5296a-3206-4e51-b2de-bfe34857185f', []],
    ['jane@example.org', []],
    ['Unknown', []],
    ['N/A', []],
    ['null', []],
    ['2021', []],
    ['', []],
    ['[{"name": "Doe", "given_name": "Jane"', []],
    ['{"name": ', []],
  ];
  it.each(cases)('%j', (input, expected) => {
    const people = parsePeople(input);
    expect(people.map((p) => [p.name, p.affiliation])).toEqual(expected.map(([n, a]) => [n, a]));
  });

  it('keeps the e-mail address of "Name <address>" in `email`, never in the name', () => {
    expect(parsePeople('Jane Doe <jane@example.org>')).toEqual([{ name: 'Jane Doe', email: 'jane@example.org' }]);
    expect(peopleEmails('Jane Doe (mailto:jane@example.org), John Smith <john@example.org>')).toEqual(['jane@example.org', 'john@example.org']);
    expect(peopleEmails('jane@example.org; JANE@example.org')).toEqual(['jane@example.org']);
  });

  it('cuts names over 255 characters with an ellipsis', () => {
    const [person] = parsePeople(`Department of ${'Very '.repeat(100)}Long Names`);
    expect(person!.name.length).toBeLessThanOrEqual(255);
    expect(person!.name.length).toBeGreaterThan(250);
    expect(person!.name).toMatch(/^Department of Very Very .*Very…$/);
    // Never between the two halves of a surrogate pair.
    const [emoji] = parsePeople(`${'a'.repeat(253)}😀😀`);
    expect(emoji!.name).toBe(`${'a'.repeat(253)}…`);
  });
});

describe('parsePeople on structured values', () => {
  it('reads scheming lists as JSON strings and as arrays, and single objects', () => {
    const list = [
      { name: 'Doe', given_name: 'Jane', affiliation: 'Univ X', email: 'jane@x.org', identifier: '0000-0002-1825-0097' },
      { family_name: 'Smith', given_name: 'John', orcid: 'orcid.org/0000-0001-9188-6318' },
      { surname: 'Lee', given_name: 'Ann', identifier: 'http://orcid.org/0000-0003-3083-640X/' },
      { name: 'Jane Roe', given_name: 'Jane' },
      { name: 'Kim', given_name: '', affiliation: '', affiliation_02: '', affiliation_03: 'Third Univ' },
      { name: 'Maria de la Cruz', family_name: 'de la Cruz' },
    ];
    const expected = [
      { name: 'Doe, Jane', affiliation: 'Univ X', orcid: '0000-0002-1825-0097', email: 'jane@x.org' },
      { name: 'Smith, John', orcid: '0000-0001-9188-6318' },
      { name: 'Lee, Ann', orcid: '0000-0003-3083-640X' },
      { name: 'Roe, Jane' },
      { name: 'Kim', affiliation: 'Third Univ' },
      { name: 'de la Cruz, Maria' },
    ];
    expect(parsePeople(list)).toEqual(expected);
    expect(parsePeople(JSON.stringify(list))).toEqual(expected);
    expect(parsePeople(list[0])).toEqual([expected[0]]);
    expect(parsePeople(JSON.stringify(list[0]))).toEqual([expected[0]]);
  });

  it('reads ckanext-fluent objects: English first, else the first string value', () => {
    expect(parsePeople({ de: 'Johanna Doe', en: 'Jane Doe' })).toEqual([{ name: 'Jane Doe' }]);
    expect(parsePeople({ de: 'Johanna Doe', fr: 'Jeanne Doe' })).toEqual([{ name: 'Johanna Doe' }]);
    expect(parsePeople('{"fr": "Service de l\'environnement"}')).toEqual([{ name: "Service de l'environnement" }]);
    expect(parsePeople([{ name: { en: 'Doe', fr: 'Dupont' }, given_name: 'Jane', affiliation: { en: 'Univ X' } }])).toEqual([
      { name: 'Doe, Jane', affiliation: 'Univ X' },
    ]);
  });

  it('takes an ORCID only when it is one: checksum, and no other identifier scheme', () => {
    expect(parsePeople([{ name: 'Doe', given_name: 'Jane', identifier: '0000-0002-1825-0098' }])).toEqual([{ name: 'Doe, Jane' }]);
    expect(parsePeople([{ name: 'Doe', given_name: 'Jane', identifier: '0000-0002-1825-0097', identifier_scheme: 'ISNI' }])).toEqual([{ name: 'Doe, Jane' }]);
    expect(parsePeople([{ name: 'Doe', given_name: 'Jane', identifier: 'https://orcid.org/0000-0002-1825-0097', identifier_scheme: 'ORCID' }])).toEqual([
      { name: 'Doe, Jane', orcid: '0000-0002-1825-0097' },
    ]);
    expect(parseOrcid('0000-0002-1825-0097')).toEqual({ orcid: '0000-0002-1825-0097' });
    expect(parseOrcid(' https://orcid.org/0000-0003-3083-640x ')).toEqual({ orcid: '0000-0003-3083-640X' });
    expect(parseOrcid('https://orcid.org/0000-0002-1825-009')).toEqual({ invalid: 'https://orcid.org/0000-0002-1825-009' });
    expect(parseOrcid('0000-0002-1825-0098')).toEqual({ invalid: '0000-0002-1825-0098' });
    expect(parseOrcid('https://www.researcherid.com/rid/A-1234-2010')).toBeUndefined();
    expect(parseOrcid(42)).toBeUndefined();
  });

  it('never names a person by e-mail address, user id or user name; keeps the address in `email`', () => {
    expect(parsePeople([{ name: 'jane@example.org', email: 'jane@example.org' }])).toEqual([]);
    expect(peopleEmails([{ name: 'jane@example.org' }, { email: 'Bob <bob@example.org>' }, { email: 'not an address' }])).toEqual([
      'jane@example.org',
      'bob@example.org',
    ]);
    expect(parsePeople([{ name: 'a5c5296a-3206-4e51-b2de-bfe34857185f' }, { name: 'jdoe_42' }, 'UNESCO'])).toEqual([{ name: 'UNESCO' }]);
  });

  it('reads every person of a long consortium list (2 000 people)', () => {
    const list = Array.from({ length: 2000 }, (_, i) => ({ name: `Member${i}`, given_name: 'Ann' }));
    const people = parsePeople(JSON.stringify(list));
    expect(people).toHaveLength(2000);
    expect(people[1999]).toEqual({ name: 'Member1999, Ann' });
  });

  it('de-duplicates case-insensitively, keeping what the first entry lacked', () => {
    expect(parsePeople([{ name: 'Doe', given_name: 'Jane' }, { name: 'DOE', given_name: 'JANE', affiliation: 'Univ X' }])).toEqual([
      { name: 'Doe, Jane', affiliation: 'Univ X' },
    ]);
  });

  it('shrugs off malformed, huge and deeply nested input, quickly', () => {
    let deep: unknown = { name: 'Too Deep' };
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const hostile: unknown[] = [
      '[{"name": "Doe"',
      '[' .repeat(200_000),
      'x'.repeat(2_000_000),
      `${'Jane Doe, '.repeat(50_000)}Ann Lee`,
      `${'and '.repeat(100_000)}`,
      ` ${'@'.repeat(100_000)} `,
      deep,
      new Array(1_000_000).fill({ name: 'Doe', given_name: 'Jane' }),
      { en: { en: { en: { en: { en: 'Jane Doe' } } } } },
      42,
      true,
      null,
      undefined,
      Symbol('x'),
      () => 'Jane Doe',
      Object.defineProperty({}, 'name', { enumerable: true, get: () => { throw new Error('boom'); } }),
    ];
    for (const value of hostile) {
      expect(() => parsePeople(value)).not.toThrow();
      expect(() => peopleEmails(value)).not.toThrow();
      expect(() => mapCreators({ author: value, maintainer: value, organization: value }, [])).not.toThrow();
    }
    expect(parsePeople(new Array(1_000_000).fill({ name: 'Doe', given_name: 'Jane' }))).toEqual([{ name: 'Doe, Jane' }]);
  });
});

describe('mapCreators', () => {
  it('prefers the author, then the maintainer, then the organization title, then its slug', () => {
    const org = { name: 'marine', title: 'Marine Institute' };
    expect(mapCreators({ author: 'Jane Doe', maintainer: 'John Smith', organization: org }, [])).toEqual([{ name: 'Jane Doe' }]);
    const w1: string[] = [];
    expect(mapCreators({ author: '  ', maintainer: 'John Smith', organization: org }, w1)).toEqual([{ name: 'John Smith' }]);
    expect(w1).toEqual(['the dataset names no author; the maintainer is listed as creator']);
    const w2: string[] = [];
    expect(mapCreators({ author: null, maintainer: '[]', organization: org }, w2)).toEqual([{ name: 'Marine Institute' }]);
    expect(w2).toEqual(['the dataset names no usable author or maintainer; the organization "Marine Institute" is listed as creator']);
    expect(mapCreators({ organization: { name: 'marine', title: { fr: 'Institut marin', en: 'Marine Institute' } } }, [])).toEqual([{ name: 'Marine Institute' }]);
    const w3: string[] = [];
    expect(mapCreators({ organization: { name: 'marine', title: '' } }, w3)).toEqual([{ name: 'marine' }]);
    expect(w3.join()).toMatch(/has no title; the organization's short name "marine"/);
  });

  it('is undefined when nobody can be named (never "Unknown")', () => {
    for (const dataset of [{}, { author: '[]', maintainer: '', organization: null }, { author: 'jdoe_42', organization: { name: 'a5c5296a-3206-4e51-b2de-bfe34857185f' } }]) {
      expect(mapCreators(dataset, [])).toBeUndefined();
    }
  });

  it('does not read a text too long to be a list of names (cutting it could cut a name in half)', () => {
    const warnings: string[] = [];
    expect(mapCreators({ author: 'Jane Doe; '.repeat(10_000), organization: { title: 'Marine Institute' } }, warnings)).toEqual([{ name: 'Marine Institute' }]);
    expect(warnings[0]).toBe('the author field is too long to be a list of names; it is not used for the creators');
  });

  it('says when a scheming list is not valid JSON', () => {
    const warnings: string[] = [];
    mapCreators({ author: '[{"name": "Doe", "given_name": "Ja', organization: { title: 'Marine Institute' } }, warnings);
    expect(warnings[0]).toBe('the author field holds a list that is not valid JSON; it is not used for the creators');
  });
});

// ------------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

describe('parsePeople, for any input', () => {
  const personish = fc.record(
    {
      name: fc.oneof(fc.string(), fc.emailAddress(), fc.uuid(), fc.constantFrom('Doe', 'jdoe_42', 'Jane Doe <jane@x.org>')),
      given_name: fc.oneof(fc.string(), fc.constantFrom('Jane', '')),
      family_name: fc.string(),
      affiliation: fc.oneof(fc.string(), fc.emailAddress()),
      email: fc.oneof(fc.string(), fc.emailAddress()),
      identifier: fc.oneof(fc.string(), fc.constantFrom('0000-0002-1825-0097', '0000-0002-1825-0098', 'https://orcid.org/0000-0003-3083-640X')),
      orcid: fc.string(),
    },
    { requiredKeys: [] },
  );
  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.emailAddress(),
    fc.array(fc.oneof(fc.string(), fc.emailAddress(), fc.uuid(), fc.constantFrom(', ', '; ', ' and ', '\n', '<', '>'))).map((parts) => parts.join('')),
  );
  const value: fc.Arbitrary<unknown> = fc.oneof(
    text,
    fc.json(),
    fc.jsonValue() as fc.Arbitrary<Json>,
    fc.array(personish),
    fc.array(personish).map((l) => JSON.stringify(l)),
    personish,
    fc.dictionary(fc.constantFrom('en', 'de', 'fr'), text),
  );

  it('never throws, never names anyone by an e-mail address, and every ORCID passes its checksum', () => {
    fc.assert(
      fc.property(value, (v) => {
        const people = parsePeople(v);
        for (const p of people) {
          expect(p.name).not.toMatch(EMAIL);
          expect(p.name).not.toContain('@');
          expect(p.name.trim()).toBe(p.name);
          expect(p.name.length).toBeGreaterThan(0);
          expect(p.name.length).toBeLessThanOrEqual(255);
          if (p.orcid !== undefined) expect(orcidChecksumOk(p.orcid)).toBe(true);
        }
        const creators = mapCreators({ author: v, maintainer: v, organization: v }, []);
        if (creators !== undefined) assertClean(creators.filter((c) => !c.name.includes('"') && !c.name.includes('{')));
        for (const email of peopleEmails(v)) expect(email).toMatch(/^[^\s@]+@[^\s@]+$/);
      }),
      { numRuns: 2000 },
    );
  });
});
