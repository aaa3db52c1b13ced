import { describe, expect, it } from 'vitest';
import { compileFq } from '../../src/rules/fq.js';
import type { RuleMatch, Rules } from '../../src/rules/types.js';
import { makeRule } from '../support/rules.js';

const rulesOf = (...whens: RuleMatch[]): Rules => ({ file: 'rules.yaml', rules: whens.map((when, i) => makeRule({ name: `r${i}`, when })) });

describe('compileFq', () => {
  it.each<[string, RuleMatch[], string | undefined]>([
    ['one tag', [{ tags: ['zenodo'] }], 'tags:"zenodo"'],
    ['tags any-of', [{ tags: ['a', 'b c'] }], '(tags:"a" OR tags:"b c")'],
    ['escapes quotes and backslashes', [{ tags: ['say "hi"\\'] }], 'tags:"say \\"hi\\"\\\\"'],
    ['organization and scheming-aware extras', [{ organization: ['marine'], extras: { archive: 'true' } }], 'organization:"marine" AND (extras_archive:"true" OR archive:"true")'],
    ['core-named extra only as extras_', [{ extras: { title: 'x' } }], 'extras_title:"x"'],
    ['unsafe extra key dropped', [{ tags: ['z'], extras: { 'a b': 'x' } }], 'tags:"z"'],
    ['rules ORed', [{ tags: ['z'] }, { groups: ['g'], license_id: ['cc-by'] }], '(tags:"z") OR (groups:"g" AND license_id:"cc-by")'],
    ['name glob escaped', [{ name: ['ocean-*'] }], 'name:ocean\\-*'],
    ['private', [{ tags: ['z'], private: true }], 'tags:"z" AND capacity:private'],
    ['not: is dropped', [{ tags: ['z'], not: { tags: ['y'] } }], 'tags:"z"'],
    ['empty when: no filter', [{ tags: ['z'] }, {}], undefined],
    ['only not: no filter', [{ not: { tags: ['y'] } }], undefined],
    ['unsatisfiable rule skipped', [{ tags: [] }, { tags: ['z'] }], 'tags:"z"'],
  ])('%s', (_name, whens, expected) => {
    expect(compileFq(rulesOf(...whens))).toBe(expected);
  });
});
