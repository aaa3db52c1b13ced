/**
 * The compiled fq must never hide a dataset the rules select: whenever matchRule selects a
 * dataset, package_search with the compiled fq on the CKAN emulator (real HTTP) returns it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCkanEmulator } from '../../src/emulators/ckan/server.js';
import { silentLogger } from '../../src/log.js';
import { matchRule } from '../../src/rules/evaluate.js';
import { compileFq } from '../../src/rules/fq.js';
import type { RuleMatch, Rules } from '../../src/rules/types.js';
import { createCkanClient, type CkanClient } from '../../src/scanner/ckan-client.js';
import { parseDataset } from '../../src/scanner/ckan-types.js';
import { makeRule } from '../support/rules.js';

let emulator: Awaited<ReturnType<typeof startCkanEmulator>>;
let ckan: CkanClient;

beforeAll(async () => {
  emulator = await startCkanEmulator({ datasets: [] });
  ckan = createCkanClient({ baseUrl: emulator.url, apiToken: 'ckan-test-token', log: silentLogger(), timeoutMs: 10_000 });
});
afterAll(async () => {
  await ckan?.close();
  await emulator?.close();
});

// Small alphabets so that rules and datasets actually meet; tricky characters on purpose.
const word = fc.constantFrom('zenodo', 'Zenodo', 'ocean data', 'a"b', 'back\\slash', 'ünï', 'x-y', 'AND', 'OR', 'NOT', '(p)', 'k:v', 'true', 'True', '2024', 'a*b', 'q?');
const slug = fc.constantFrom('ocean-temps', 'ocean-salinity', 'survey-2024', 'survey-2024-raw', 'x', 'a.b', 'a+b');
const glob = fc.constantFrom('ocean-*', 'survey-202?', 'survey-*-raw', '*', 'x', 'a.b', '*2024*', 'a+b');
const extraKey = fc.constantFrom('archive', 'doi', 'project_id', 'archive_date', 'title', 'download_url', 'a b');
const orgName = fc.constantFrom('marine-institute', 'met-office', 'unesco');

// A rule names one or two conditions (more would almost never match a random dataset).
const condition: fc.Arbitrary<RuleMatch> = fc.oneof(
  fc.array(word, { maxLength: 2 }).map((tags) => ({ tags })),
  fc.array(orgName, { minLength: 1, maxLength: 2 }).map((organization) => ({ organization })),
  fc.array(fc.constantFrom('climate', 'oceans'), { minLength: 1, maxLength: 2 }).map((groups) => ({ groups })),
  fc.dictionary(extraKey, word, { minKeys: 1, maxKeys: 2 }).map((extras) => ({ extras })),
  fc.array(fc.constantFrom('cc-by', 'odc-odbl', 'other'), { minLength: 1, maxLength: 2 }).map((license_id) => ({ license_id })),
  fc.array(glob, { minLength: 1, maxLength: 2 }).map((name) => ({ name })),
  fc.boolean().map((p) => ({ private: p })),
  fc.oneof(fc.array(word, { minLength: 1, maxLength: 2 }).map((tags) => ({ tags })), fc.boolean().map((p) => ({ private: p }))).map((not) => ({ not })),
);
const match: fc.Arbitrary<RuleMatch> = fc.array(condition, { maxLength: 2 }).map((parts) => Object.assign({}, ...parts) as RuleMatch);

const rules: fc.Arbitrary<Rules> = fc.array(match, { minLength: 1, maxLength: 3 }).map((whens) => ({
  file: 'rules.yaml',
  rules: whens.map((when, i) => makeRule({ name: `r${i}`, when })),
}));

const rawDataset = fc.record({
  name: slug,
  private: fc.boolean(),
  tags: fc.array(fc.record({ name: word, vocabulary_id: fc.constantFrom(null, null, 'topics') }), { maxLength: 3 }),
  organization: fc.option(orgName, { nil: undefined }),
  groups: fc.array(fc.constantFrom('climate', 'oceans', 'health'), { maxLength: 2 }),
  license_id: fc.option(fc.constantFrom('cc-by', 'odc-odbl', 'other'), { nil: undefined }),
  extras: fc.array(fc.record({ key: extraKey, value: word }), { maxLength: 2 }),
  // ckanext-scheming returns schema fields at top level (reference §4.1).
  topLevel: fc.dictionary(fc.constantFrom('archive', 'doi', 'project_id', 'archive_date'), fc.oneof(word, fc.boolean()), { maxKeys: 2 }),
});

let counter = 0;

it('the fq is a superset of what the rules select (property, over real HTTP)', async () => {
  let selected = 0;
  await fc.assert(
    fc.asyncProperty(rules, rawDataset, async (r, raw) => {
      const id = `ds-${++counter}`;
      const { topLevel, organization, extras, ...rest } = raw;
      // Keys in both places would be a schema conflict in CKAN; the extras list wins here.
      const flattened = Object.fromEntries(Object.entries(topLevel).filter(([k]) => !extras.some((e) => e.key === k)));
      const dict = {
        ...rest,
        ...flattened,
        id,
        name: `${raw.name}-${counter}`.slice(0, 100),
        extras,
        organization: organization === undefined ? null : { id: `org-${organization}`, name: organization, title: organization },
        owner_org: organization === undefined ? null : `org-${organization}`,
        resources: [],
      };
      const parsed = parseDataset(emulator.addDataset(dict));
      if (!parsed.ok) throw new Error(parsed.malformed.reason);
      const rule = matchRule(r, parsed.dataset);
      if (rule === undefined) return;
      selected++;
      const fq = compileFq(r);
      if (fq === undefined) return;
      const page = await ckan.packageSearch({ fq: `(${fq}) AND id:"${id}"`, rows: 5, includePrivate: true });
      expect(page.datasets.map((d) => d.id), `fq ${fq} must return ${JSON.stringify(parsed.dataset)}`).toEqual([id]);
    }),
    { numRuns: 300, seed: 20261122 },
  );
  // The generators must actually exercise selection, or the property proves nothing.
  expect(selected).toBeGreaterThan(30);
});
