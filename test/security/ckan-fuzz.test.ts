/**
 * Hostile CKAN payloads (issue "Measured and hardened"): real dataset dicts mutated at random —
 * types swapped, fields missing, huge strings, deep nesting, nulls, `__proto__` keys — never make
 * the scanner's parsing, rule matching or fingerprinting throw; each bad dataset is reported and
 * skipped while the good ones of the same page are kept.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseSearchResult } from '../../src/scanner/ckan-types.js';
import { matchRule } from '../../src/rules/evaluate.js';
import { fingerprintDataset } from '../../src/scanner/fingerprint.js';
import { CKAN_FIXTURES } from '../support/fixtures.js';
import { makeRule } from '../support/rules.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const unwrap = (json: Record<string, Json>): Json => ('result' in json ? json.result! : json);
const datasets: Record<string, Json>[] = [];
for (const file of ['demo.ckan.org-package_show-1.json', 'envidat.ch-package_show-1.json', 'data.gov.hk-package_show-1.json', 'data.humdata.org-package_show-1.json']) {
  datasets.push(unwrap(JSON.parse(readFileSync(join(CKAN_FIXTURES, file), 'utf8')) as Record<string, Json>) as Record<string, Json>);
}
for (const file of ['envidat.ch-package_search-1.json', 'data.birmingham.gov.uk-package_search-1.json']) {
  const result = unwrap(JSON.parse(readFileSync(join(CKAN_FIXTURES, file), 'utf8')) as Record<string, Json>) as { results: Record<string, Json>[] };
  datasets.push(...result.results);
}

function deep(levels: number): Json {
  let value: Json = 'bottom';
  for (let i = 0; i < levels; i++) value = { nested: value };
  return value;
}

const hostileValue = fc.oneof<fc.Arbitrary<Json>[]>(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.constant('x'.repeat(1_000_000)),
  fc.string(),
  fc.constant<Json>([]),
  fc.constant<Json>({}),
  fc.constant(deep(1000)),
  fc.constant<Json>([[[[[]]]]]),
  fc.constant({ __proto__: { polluted: true } }),
  fc.constant('null'),
);

/** One mutation of a dataset dict: a top-level or resource field replaced, removed, or added. */
const mutation = fc.record({
  target: fc.constantFrom('dataset', 'resource', 'tag', 'extra', 'organization'),
  op: fc.constantFrom('replace', 'delete', 'add'),
  keyIndex: fc.nat(),
  value: hostileValue,
});

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(dataset: Record<string, Json>, m: Mutation): Record<string, Json> {
  const copy = structuredClone<Record<string, Json>>(dataset);
  const pick = (obj: Json): Record<string, Json> | undefined => (obj && typeof obj === 'object' && !Array.isArray(obj) ? obj : undefined);
  const first = (list: Json | undefined): Record<string, Json> | undefined => (Array.isArray(list) ? pick(list[0] ?? null) : undefined);
  const target = m.target === 'dataset' ? copy : m.target === 'resource' ? first(copy.resources) : m.target === 'tag' ? first(copy.tags) : m.target === 'extra' ? first(copy.extras) : pick(copy.organization ?? null);
  if (!target) {
    copy[m.target === 'resource' ? 'resources' : `${m.target}s`] = m.value;
    return copy;
  }
  const keys = Object.keys(target);
  const key = m.op === 'add' ? `fuzz_${m.keyIndex}` : (keys[m.keyIndex % Math.max(1, keys.length)] ?? 'id');
  if (m.op === 'delete') delete target[key];
  else target[key] = m.value;
  if (m.keyIndex % 7 === 0) Object.defineProperty(target, '__proto__', { value: m.value, enumerable: true });
  return copy;
}

describe('hostile CKAN payloads', () => {
  test('a page of mutated datasets parses without throwing; bad ones are reported, good ones kept', () => {
    const rules = { file: 'rules.yaml', rules: [makeRule({ when: {} })] };
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(datasets.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 })), { minLength: 1, maxLength: 4 }), (entries) => {
        const mutated = entries.map(([i, ms]) => ms.reduce((d, m) => mutate(d, m), datasets[i]!));
        const pristine = datasets[entries.length % datasets.length]!;
        const page = parseSearchResult({ count: mutated.length + 1, results: [...mutated, pristine], sort: 'metadata_modified asc' });
        expect(page).toBeDefined();
        expect(page!.datasets.length + page!.malformed.length).toBe(mutated.length + 1);
        expect(page!.datasets.some((d) => d.id === pristine.id)).toBe(true);
        for (const bad of page!.malformed) expect(bad.reason.length).toBeGreaterThan(0);
        for (const dataset of page!.datasets) {
          const rule = matchRule(rules, dataset);
          if (rule) fingerprintDataset(dataset, rule, { ckanUrl: 'https://ckan.example.org', ownExtras: ['zenodo_doi'], overrideExtra: 'zenodo_metadata' });
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 300, seed: 20261122 },
    );
  });

  test('a page that is not a page at all is refused as a whole, without throwing', () => {
    for (const result of [null, 'html error page', [], { count: 'many', results: 'none' }, { results: [deep(1000)] }]) {
      expect(() => parseSearchResult(result)).not.toThrow();
    }
  });
});
