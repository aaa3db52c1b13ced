/**
 * The one selection policy: whether a dataset is archived, under which rule, and if not, why.
 * Pure. Every path that can lead to a publish asks it — the scanner, the sync worker (on the
 * fresh `package_show` before a draft is opened and again before publishing), Archive now,
 * `retry`, `link` and the dry runs — so that a decision such as "private datasets stay private"
 * cannot be lost on one of them. A Zenodo record cannot be taken back: when in doubt, not selected.
 *
 * Which resources of a selected dataset are archived (formats, max_size, empty files) is decided
 * here too, per resource, so the planner and the preview agree.
 */
import type { Rule, Rules } from './types.js';
import type { CkanDataset } from '../scanner/ckan-types.js';
import { matchRule } from './evaluate.js';

export type NotSelectedCode = 'deleted' | 'draft' | 'private' | 'no_rule';

export type Selection = { selected: true; rule: Rule } | { selected: false; code: NotSelectedCode; reason: string; rule?: Rule };

export function selectDataset(rules: Rules, dataset: CkanDataset): Selection {
  // CKAN keeps deleted datasets (state "deleted") and shows them to sysadmin tokens.
  if (dataset.state === 'deleted') return { selected: false, code: 'deleted', reason: 'the dataset was deleted in CKAN' };
  // "draft" is a dataset still being created in CKAN's form (ckan-api.md §4): not finished, not public.
  if (dataset.state === 'draft') return { selected: false, code: 'draft', reason: 'the dataset is still a draft in CKAN (its creation was not finished)' };
  const rule = matchRule(rules, dataset);
  if (rule === undefined) return { selected: false, code: 'no_rule', reason: 'no rule in rules.yaml selects the dataset (untagged or changed)' };
  // A private dataset is archived only by a rule that asks for private datasets explicitly:
  // publishing one its owners made private as an open Zenodo record would leak it for good.
  if (dataset.private === true && rule.when.private !== true) {
    return {
      selected: false,
      code: 'private',
      rule,
      reason: `the dataset is private in CKAN; rule "${rule.name}" archives only public datasets (a rule must say \`when: { private: true }\` to archive private ones)`,
    };
  }
  return { selected: true, rule };
}

/** The resource fields the per-resource policy reads. */
export interface SelectableResource {
  id: string;
  name?: string | null;
  format?: string | null;
  size?: number | null;
}

/**
 * Why a resource of a selected dataset is not archived under `rule`, or undefined when it is.
 * Empty files (Zenodo refuses them, reference zenodo-api.md §7) are skipped by the sync when the
 * download turns out empty: a declared `size` of 0 is too often a placeholder typed into CKAN's
 * form to be trusted with leaving a file out of a permanent record.
 */
export function resourceSkipReason(rule: Rule, resource: SelectableResource): string | undefined {
  const formats = rule.resources.formats.map((f) => f.trim().toLowerCase());
  const format = (resource.format ?? '').trim().toLowerCase();
  if (formats.length > 0 && !formats.includes(format)) {
    return `format "${(resource.format ?? '').slice(0, 50)}" is not in the rule's formats (${rule.resources.formats.join(', ')})`;
  }
  if (typeof resource.size === 'number' && resource.size > rule.resources.maxSize) {
    return `size ${resource.size} bytes is over the rule's max_size of ${rule.resources.maxSize} bytes`;
  }
  return undefined;
}
