/**
 * Which rule selects a dataset (pure). The first matching rule wins (DESIGN.md "rules.yaml").
 *
 * Semantics, kept identical to what src/rules/fq.ts compiles so the fq stays a superset:
 * - `tags`, `organization`, `groups`, `license_id`, `name`: any of the listed values. An empty list
 *   matches nothing (an empty list must never silently widen a rule to the whole portal).
 * - `tags` compares free tags only: vocabulary tags are indexed under `vocab_*`, not `tags`
 *   (reference ckan-api.md §0), so a rule could not find them through the search anyway.
 * - `extras`: all of the listed keys, value compared as a string, read from the `extras` list or
 *   from a top-level key (ckanext-scheming returns schema fields at top level, §4.1).
 * - `name`: glob with `*` and `?`, case-sensitive like CKAN names.
 * - `not`: the dataset satisfies none of the conditions it names.
 * - `when: {}` matches every dataset.
 */
import type { CkanDataset } from '../scanner/ckan-types.js';
import type { Rule, RuleMatch, Rules } from './types.js';

export function matchRule(rules: Rules, dataset: CkanDataset): Rule | undefined {
  return rules.rules.find((rule) => matchesWhen(rule.when, dataset));
}

export function matchesWhen(when: RuleMatch, dataset: CkanDataset): boolean {
  for (const condition of conditions(when)) if (!condition(dataset)) return false;
  if (when.not !== undefined) {
    for (const condition of conditions(when.not)) if (condition(dataset)) return false;
  }
  return true;
}

type Condition = (dataset: CkanDataset) => boolean;

/** One predicate per field named in `match` (not its `not`). */
function conditions(match: RuleMatch): Condition[] {
  const out: Condition[] = [];
  if (match.tags !== undefined) {
    const wanted = match.tags;
    out.push((d) => d.tags.some((t) => t.vocabulary_id === null && wanted.includes(t.name)));
  }
  if (match.organization !== undefined) {
    const wanted = match.organization;
    out.push((d) => d.organization !== null && wanted.includes(d.organization.name));
  }
  if (match.groups !== undefined) {
    const wanted = match.groups;
    out.push((d) => d.groups.some((g) => wanted.includes(g.name)));
  }
  if (match.license_id !== undefined) {
    const wanted = match.license_id;
    out.push((d) => d.license_id !== null && wanted.includes(d.license_id));
  }
  if (match.name !== undefined) {
    const patterns = match.name.map(globToRegExp);
    out.push((d) => patterns.some((p) => p.test(d.name)));
  }
  if (match.private !== undefined) {
    const wanted = match.private;
    out.push((d) => d.private === wanted);
  }
  if (match.extras !== undefined) {
    for (const [key, value] of Object.entries(match.extras)) out.push((d) => extraValues(d, key).includes(value));
  }
  return out;
}

/**
 * Core dataset fields: an extra named like one is only an extra (CKAN indexes the bare key only
 * for non-core names, reference §0 "Extras filter"), so the top-level value must not count.
 */
export const CORE_KEYS: ReadonlySet<string> = new Set([
  // CKAN's `index_fields` and what its indexer fills itself (ckan/lib/search/index.py)
  'id', 'name', 'title', 'notes', 'state', 'type', 'dataset_type', 'capacity', 'license_id', 'license',
  'organization', 'owner_org', 'groups', 'tags', 'res_format', 'res_url', 'res_type', 'res_name',
  'res_description', 'text', 'site_id', 'metadata_modified', 'metadata_created', 'author', 'maintainer',
  'url', 'version', 'private', 'creator_user_id', 'entity_type', 'permission_labels', 'index_id',
  'extras', 'resources', 'title_string', 'urls', 'ckan_url', 'download_url', 'validated_data_dict', 'data_dict',
  // dictized-only fields that never reach the index as extras
  'license_title', 'license_url', 'author_email', 'maintainer_email', 'isopen',
]);

/** Whether a top-level key of a dataset dict can hold a (scheming) extra. */
export function isExtraKey(key: string): boolean {
  return !CORE_KEYS.has(key) && !key.startsWith('num_') && !key.startsWith('relationships_');
}

/** Every value `key` has on the dataset: from the extras list and, for scheming sites, top level. */
export function extraValues(dataset: CkanDataset, key: string): string[] {
  const values = dataset.extras.filter((e) => e.key === key).map((e) => e.value);
  if (isExtraKey(key) && Object.hasOwn(dataset, key)) {
    const top = dataset[key];
    if (typeof top === 'string') values.push(top);
    else if (typeof top === 'number' || typeof top === 'boolean') values.push(String(top));
  }
  return values;
}

export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '?') source += '[\\s\\S]';
    else source += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'u');
}
