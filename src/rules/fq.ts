/**
 * Compiles rules to a CKAN `package_search` fq (pure) so a scan reads only candidates; the local
 * match (evaluate.ts) stays the final word. The fq must be a SUPERSET of what matchRule selects:
 * a dataset the fq misses is never archived. So whenever a condition cannot be expressed exactly,
 * it is dropped (which only widens an AND), never approximated:
 * - `not:` is dropped: negating a widened match (tokenised `extras_*`) would narrow it.
 * - an extras key that is not a plain Solr field name is dropped.
 * - a rule left with no condition matches everything, so the whole fq is `undefined` (no filter).
 *
 * Field names follow the Solr schema CKAN indexes (reference ckan-api.md §3.3): `tags`,
 * `organization` (the org name), `groups`, `license_id`, `name` are exact strings; every extra is
 * indexed as `extras_<key>` (tokenised) and, unless the key is a core field, as `<key>` (exact);
 * scheming fields are extras in the index too (§3.3 "Scheming note"), hence the OR of both.
 * `private` is indexed as `capacity:private|public`. Extras keys ending in `_date` are not
 * filtered on (date-typed fields in Solr).
 */
import { isExtraKey } from './evaluate.js';
import type { RuleMatch, Rules } from './types.js';

/** `undefined` = no filter at all (some rule can match any dataset). */
export function compileFq(rules: Rules): string | undefined {
  const clauses: string[] = [];
  for (const rule of rules.rules) {
    const clause = compileMatch(rule.when);
    if (clause === ALL) return undefined;
    if (clause === NONE) continue;
    clauses.push(clause);
  }
  // Every rule is unsatisfiable (e.g. `tags: []`): ask for nothing rather than everything.
  if (clauses.length === 0) return 'id:"-"';
  return clauses.length === 1 ? clauses[0] : clauses.map(paren).join(' OR ');
}

const ALL = Symbol('all');
const NONE = Symbol('none');

function compileMatch(match: RuleMatch): string | typeof ALL | typeof NONE {
  const conjuncts: string[] = [];
  const anyOf = (field: string, values: string[]): boolean => {
    if (values.length === 0) return false;
    conjuncts.push(disjunction(values.map((v) => `${field}:${quote(v)}`)));
    return true;
  };
  if (match.tags !== undefined && !anyOf('tags', match.tags)) return NONE;
  if (match.organization !== undefined && !anyOf('organization', match.organization)) return NONE;
  if (match.groups !== undefined && !anyOf('groups', match.groups)) return NONE;
  if (match.license_id !== undefined && !anyOf('license_id', match.license_id)) return NONE;
  if (match.name !== undefined) {
    if (match.name.length === 0) return NONE;
    // A bare `*` matches every name: the condition adds nothing.
    if (!match.name.some((g) => /^\*+$/.test(g))) conjuncts.push(disjunction(match.name.map((g) => `name:${glob(g)}`)));
  }
  if (match.private !== undefined) conjuncts.push(`capacity:${match.private ? 'private' : 'public'}`);
  if (match.extras !== undefined) {
    for (const [key, value] of Object.entries(match.extras)) {
      // `*_date` keys: the bare copy is a Solr date field (a text value there is a 400 "Invalid
      // Date String"), and Solr versions disagree on whether `extras_*` or `*_date` wins for
      // `extras_<k>_date`. Not filtering on them only widens the fq.
      if (!SAFE_FIELD.test(key) || key.endsWith('_date')) continue;
      const forms = [`extras_${key}:${quote(value)}`];
      if (isExtraKey(key)) forms.push(`${key}:${quote(value)}`);
      conjuncts.push(disjunction(forms));
    }
  }
  if (conjuncts.length === 0) return ALL;
  return conjuncts.length === 1 ? (conjuncts[0] as string) : conjuncts.join(' AND ');
}

const SAFE_FIELD = /^[A-Za-z0-9_]+$/;

function paren(clause: string): string {
  return `(${clause})`;
}

function disjunction(terms: string[]): string {
  return terms.length === 1 ? (terms[0] as string) : paren(terms.join(' OR '));
}

/** A Solr phrase: backslash and double quote escaped, everything else literal. */
export function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/** A Solr wildcard term: `*` and `?` stay wildcards, every other special character is escaped. */
export function glob(pattern: string): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '*' || ch === '?') out += ch;
    else if (/[\s+\-&|!(){}[\]^"~:\\/]/u.test(ch)) out += `\\${ch}`;
    else out += ch;
  }
  return out === '' ? '""' : out;
}
