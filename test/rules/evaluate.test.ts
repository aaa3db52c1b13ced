import { describe, expect, it } from 'vitest';
import { matchRule } from '../../src/rules/evaluate.js';
import type { RuleMatch, Rules } from '../../src/rules/types.js';
import { parseDataset, type CkanDataset } from '../../src/scanner/ckan-types.js';
import { makeRule } from '../support/rules.js';

function dataset(raw: Record<string, unknown>): CkanDataset {
  const parsed = parseDataset({ id: 'd1', name: 'ocean-temps', metadata_modified: '2025-01-01T00:00:00', resources: [], ...raw });
  if (!parsed.ok) throw new Error(parsed.malformed.reason);
  return parsed.dataset;
}

const rulesOf = (...whens: RuleMatch[]): Rules => ({ file: 'rules.yaml', rules: whens.map((when, i) => makeRule({ name: `r${i}`, when })) });

const tagged = dataset({ tags: [{ name: 'zenodo', vocabulary_id: null }, { name: 'ocean' }] });
const marine = dataset({ organization: { id: 'o1', name: 'marine-institute', title: 'Marine' }, extras: [{ key: 'archive', value: 'true' }] });
const scheming = dataset({ organization: { name: 'marine-institute' }, archive: 'true', extras: null });
const schemingBool = dataset({ archive: true });
const grouped = dataset({ groups: [{ name: 'climate' }], license_id: 'cc-by' });
const priv = dataset({ private: true, name: 'survey-2024-raw' });
const vocab = dataset({ tags: [{ name: 'zenodo', vocabulary_id: 'v1' }] });
const coreNamed = dataset({ extras: [], title: 'yes' });

describe('matchRule', () => {
  it.each<[string, RuleMatch, CkanDataset, boolean]>([
    ['tag any-of', { tags: ['x', 'zenodo'] }, tagged, true],
    ['tag is case-sensitive', { tags: ['Zenodo'] }, tagged, false],
    ['vocabulary tags are not free tags', { tags: ['zenodo'] }, vocab, false],
    ['organization by name', { organization: ['marine-institute'] }, marine, true],
    ['organization missing', { organization: ['marine-institute'] }, tagged, false],
    ['extras from the extras list', { extras: { archive: 'true' } }, marine, true],
    ['extras from a scheming top-level field', { extras: { archive: 'true' } }, scheming, true],
    ['scheming boolean compared as a string', { extras: { archive: 'true' } }, schemingBool, true],
    ['extras all-of', { extras: { archive: 'true', other: '1' } }, marine, false],
    ['extras value mismatch', { extras: { archive: 'false' } }, marine, false],
    ['core field is not an extra', { extras: { title: 'yes' } }, coreNamed, false],
    ['groups any-of', { groups: ['climate'] }, grouped, true],
    ['license_id', { license_id: ['cc-by'] }, grouped, true],
    ['license_id null never matches', { license_id: ['cc-by'] }, tagged, false],
    ['name glob *', { name: ['survey-*'] }, priv, true],
    ['name glob ?', { name: ['survey-202?-raw'] }, priv, true],
    ['name glob anchored', { name: ['survey'] }, priv, false],
    ['name glob treats regex chars literally', { name: ['survey.2024*'] }, priv, false],
    ['private true', { private: true }, priv, true],
    ['private false', { private: false }, priv, false],
    ['AND across fields', { organization: ['marine-institute'], extras: { archive: 'true' } }, marine, true],
    ['AND fails on one field', { organization: ['marine-institute'], tags: ['zenodo'] }, marine, false],
    ['not excludes', { tags: ['zenodo'], not: { tags: ['ocean'] } }, tagged, false],
    ['not: none of what it names', { not: { tags: ['nope'], private: true } }, tagged, true],
    ['not with any named condition true excludes', { not: { tags: ['nope'], private: true } }, priv, false],
    ['empty when matches everything', {}, priv, true],
    ['empty list matches nothing', { tags: [] }, tagged, false],
  ])('%s', (_name, when, ds, expected) => {
    expect(matchRule(rulesOf(when), ds)?.name).toBe(expected ? 'r0' : undefined);
  });

  it('first matching rule wins', () => {
    const rules = rulesOf({ organization: ['marine-institute'] }, { tags: ['zenodo'] }, {});
    expect(matchRule(rules, marine)?.name).toBe('r0');
    expect(matchRule(rules, tagged)?.name).toBe('r1');
    expect(matchRule(rules, priv)?.name).toBe('r2');
  });
});
