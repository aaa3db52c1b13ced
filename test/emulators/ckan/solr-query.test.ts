import { describe, expect, it } from 'vitest';
import { buildIndexDoc } from '../../../src/emulators/ckan/store.js';
import { compileSolrQuery, parseSolrDate, parseSolrQuery, SolrQueryError } from '../../../src/emulators/ckan/solr-query.js';

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);

const dataset = {
  id: 'd-1',
  name: 'ocean-temps-2024',
  title: 'Ocean temperatures: Galway Bay',
  notes: 'Hourly sea surface temperature.',
  state: 'active',
  type: 'dataset',
  private: false,
  license_id: 'cc-by',
  owner_org: 'org-uuid-1',
  organization: { id: 'org-uuid-1', name: 'marine-institute', title: 'Marine Institute' },
  metadata_modified: '2025-01-20T14:03:09.880412',
  metadata_created: '2024-03-04T09:12:44',
  tags: [
    { name: 'zenodo', vocabulary_id: null },
    { name: 'AIR QUALITY', vocabulary_id: null },
    { name: 'education', vocabulary_id: 'topics' },
  ],
  groups: [{ name: 'oceans' }],
  extras: [
    { key: 'archive', value: 'true' },
    { key: 'doi', value: '10.5281/zenodo.123' },
    { key: 'title', value: 'shadowed core field' },
  ],
  // A scheming field at top level (reference §4.1): indexed as extras_project and project.
  project: 'Blue Growth',
  resources: [{ format: 'CSV', url: 'http://x/a.csv', name: 'data file' }],
};
const doc = buildIndexDoc(dataset, () => undefined);
const matches = (q: string): boolean => compileSolrQuery(parseSolrQuery(q), NOW)(doc);

describe('fq parser and matcher (Solr subset CKAN clients send)', () => {
  it.each<[string, boolean]>([
    ['*:*', true],
    ['tags:zenodo', true],
    ['tags:Zenodo', false], // string field: exact, case-sensitive (§3.3)
    ['tags:"AIR QUALITY"', true],
    ['tags:AIR', false],
    ['tags:education', false], // vocabulary tags are not in `tags`
    ['vocab_topics:education', true],
    ['organization:marine-institute', true], // "-" inside a term is part of it
    ['organization:"marine-institute"', true],
    ['owner_org:org-uuid-1', true],
    ['groups:oceans', true],
    ['license_id:cc-by', true],
    ['name:ocean\\-*', true], // escaped dash, trailing wildcard
    ['name:ocean-temps-202?', true],
    ['name:*2023*', false],
    ['id:"d-1"', true],
    ['id:"-"', false],
    ['capacity:public', true],
    ['private:false', true],
    ['dataset_type:dataset', true],
    ['extras_archive:true', true],
    ['archive:true', true],
    ['archive:True', false], // the exact copy is case-sensitive...
    ['extras_archive:True', true], // ...the tokenised one is not
    ['doi:"10.5281/zenodo.123"', true],
    ['extras_doi:"10.5281 zenodo 123"', true],
    ['extras_doi:[* TO *]', true],
    ['-extras_missing:[* TO *]', true],
    ['extras_title:shadowed', true],
    ['title:"shadowed core field"', false], // an extra never overrides a core field's own index
    ['extras_project:blue', true],
    ['project:"Blue Growth"', true],
    ['title:galway', true],
    ['res_format:CSV', true],
    ['metadata_modified:[2025-01-20T14:03:09.880Z TO *]', true], // Solr keeps milliseconds
    ['metadata_modified:[2025-01-20T14:03:09.881Z TO *]', false],
    ['metadata_modified:{2025-01-20T14:03:09.880Z TO *]', false], // exclusive lower bound
    ['metadata_modified:[* TO 2025-01-20T14:03:09.880Z]', true],
    ['metadata_modified:"2025-01-20T14:03:09.880Z"', true],
    ['metadata_modified:[NOW-1YEAR TO NOW]', true],
    ['metadata_modified:[NOW-1DAY TO NOW]', false],
    ['metadata_modified:[* TO *]', true],
    ['metadata_created:[2024-03-04T09:12:44Z TO 2024-03-04T09:12:44Z]', true],
    ['tags:zenodo AND organization:marine-institute', true],
    ['tags:zenodo && organization:other', false],
    ['tags:nope OR organization:marine-institute', true],
    ['tags:nope || organization:nope', false],
    ['tags:zenodo NOT private:true', true],
    ['tags:zenodo AND NOT tags:"AIR QUALITY"', false],
    ['tags:zenodo -tags:"AIR QUALITY"', false],
    ['+tags:zenodo +license_id:cc-by', true],
    ['!tags:zenodo', false],
    ['tags:zenodo organization:other', false], // juxtaposition is AND (CKAN sends q.op=AND)
    ['(tags:nope OR tags:zenodo) AND (extras_archive:"true" OR archive:"true")', true],
    ['tags:(nope OR zenodo)', true],
    ['tags:(nope OR "AIR QUALITY") AND NOT groups:(climate OR health)', true],
    ['(tags:"zenodo") OR (groups:"g" AND license_id:"cc-by")', true],
    ['tags:"say \\"hi\\""', false],
    ['galway', true], // bare term: the catch-all `text` field
    ['marine-institute', true],
  ])('%s → %s', (q, expected) => {
    expect(matches(q)).toBe(expected);
  });

  it.each([
    ['tags:(zenodo', /expected "\)"/],
    ['tags:"zenodo', /unterminated phrase/],
    ['title:ocean^2', /boosts/],
    ['title:ocean~1', /fuzzy/],
    ['name:/ocean.*/', /regular expressions/],
    ['{!lucene}tags:zenodo', /local parameters/],
    ['metadata_modified:[2024-01-01 TO *]', /malformed range|Invalid Date/],
    ['tags:', /no value|unexpected/],
    ['AND tags:zenodo', /unexpected/],
    ['tags:zenodo)', /unexpected/],
    ['metadata_modified:[2024-01-01T00:00:00 TO *]', /Invalid Date String/], // no Z, like Solr
  ])('refuses %s', (q, message) => {
    expect(() => compileSolrQuery(parseSolrQuery(q), NOW)).toThrow(SolrQueryError);
    expect(() => compileSolrQuery(parseSolrQuery(q), NOW)).toThrow(message);
  });

  it('evaluates Solr date math', () => {
    expect(parseSolrDate('NOW/DAY', NOW)).toBe(Date.UTC(2025, 5, 1));
    expect(parseSolrDate('NOW/DAY+1DAY', NOW)).toBe(Date.UTC(2025, 5, 2));
    expect(parseSolrDate('NOW-2MONTHS', NOW)).toBe(Date.UTC(2025, 3, 1, 12));
    expect(parseSolrDate('2024-01-01T00:00:00.5Z+1HOUR', NOW)).toBe(Date.UTC(2024, 0, 1, 1, 0, 0, 500));
  });
});
