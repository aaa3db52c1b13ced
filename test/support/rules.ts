import type { Rule } from '../../src/rules/types.js';

/** A rule with DESIGN.md's defaults, overridable per test. */
export function makeRule(overrides: Partial<Rule> = {}): Rule {
  return {
    name: 'tagged',
    line: 1,
    when: { tags: ['zenodo'] },
    resources: { formats: [], maxSize: 50 * 10 ** 9, datastore: 'csv' },
    zenodo: { upload_type: 'dataset', access_right: 'open', communities: [] },
    on_unmapped: 'create',
    metadata_changes: 'edit',
    notify: ['maintainer_email', 'author_email'],
    ...overrides,
  };
}
