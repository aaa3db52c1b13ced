/**
 * The zod schema of rules.yaml (DESIGN.md "rules.yaml"), applied to the plain JS value of the
 * YAML document. Strict: unknown keys, wrong types and unknown enum values are issues. Every
 * message is complete on its own (what is wrong and what is allowed) because src/rules/load.ts
 * prints it after `FILE:LINE path:` without adding anything but the line of the offending node.
 *
 * Unknown keys: a strict object's `unrecognized_keys` issue carries, as its message, only the
 * comma-separated list of allowed keys; load.ts turns it into one problem per unknown key (on the
 * line of that key, with a "did you mean" suggestion).
 */
import { z } from 'zod';
import { quote } from '../config/problem-text.js';
import { Bad, bad, checked } from '../config/checked.js';
import type { ResourcePolicy, RuleMatch, ZenodoPolicy } from './types.js';

export const NOTIFY_TARGETS = ['maintainer_email', 'author_email', 'creator', 'org_admins'] as const;
export const ACCESS_RIGHTS = ['open', 'embargoed', 'restricted', 'closed'] as const;
/** Zenodo's legacy deposit API `upload_type` values (reference zenodo-api.md, metadata table). */
export const UPLOAD_TYPES = ['publication', 'poster', 'presentation', 'dataset', 'image', 'video', 'software', 'lesson', 'physicalobject', 'other'] as const;
export const ON_UNMAPPED = ['create', 'notify'] as const;
export const METADATA_CHANGES = ['edit', 'version', 'ignore'] as const;
export const DATASTORE = ['csv', 'skip'] as const;
export const DEFAULT_MAX_SIZE = 50 * 10 ** 9;

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** `50GB`, `500 MB`, `1.5GiB`, `1024` (bytes) → bytes (GB = 10^9, GiB = 2^30); undefined when not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const bytes = Number(m[1]) * (UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1);
  return Number.isSafeInteger(Math.round(bytes)) ? Math.round(bytes) : undefined;
}

/** A short, single-line rendering of what the user wrote, for messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return quote(value);
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? `${value} (${typeof value})` : `a value of type ${typeof value}`;
}

/** A leaf: `check` returns the parsed value or `bad(message)`; missing keys say so. */
const leaf = checked;

function textValue(value: unknown): string | Bad {
  if ((typeof value === 'string' || typeof value === 'number') && String(value).trim() !== '') return String(value).trim();
  return bad(`must be a non-empty text (got ${describeValue(value)})`);
}

const text = leaf(textValue);

function oneOf<const T extends readonly string[]>(allowed: T) {
  return leaf((value): T[number] | Bad =>
    typeof value === 'string' && (allowed as readonly string[]).includes(value) ? (value as T[number]) : bad(`must be one of ${allowed.join(', ')} (got ${describeValue(value)})`),
  );
}

/**
 * A list of items; a single scalar is accepted as a one-element list. Items are checked one by
 * one so that each bad item is reported at its own index.
 */
function list<T>(item: (value: unknown) => T | Bad, opts: { nonEmpty?: string; example: string }) {
  return z.unknown().transform((value, ctx): T[] => {
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'is missing' });
      return z.NEVER;
    }
    const items = typeof value === 'string' || typeof value === 'number' ? [value] : value;
    if (!Array.isArray(items)) {
      ctx.addIssue({ code: 'custom', message: `must be a list, e.g. ${opts.example} (got ${describeValue(value)})` });
      return z.NEVER;
    }
    if (items.length === 0 && opts.nonEmpty) {
      ctx.addIssue({ code: 'custom', message: opts.nonEmpty });
      return z.NEVER;
    }
    const out: T[] = [];
    items.forEach((raw, i) => {
      const result = item(raw);
      // A one-element list made from a scalar has no [0] in the file: report on the key itself.
      if (result instanceof Bad) ctx.addIssue({ code: 'custom', message: result.message, path: Array.isArray(value) ? [i] : [] });
      else out.push(result);
    });
    return out;
  });
}

/** A strict mapping; see the file comment for the `unrecognized_keys` message convention. */
function strict<S extends z.core.$ZodLooseShape>(shape: S, what: string) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? keys.join(', ') : `must be a mapping (${what}; keys: ${keys.join(', ')}) (got ${describeValue(issue.input)})`),
  });
}

const EMPTY_MATCH = 'an empty list matches no dataset: name at least one value, or remove the key';
const matchList = (example: string) => list(textValue, { nonEmpty: EMPTY_MATCH, example }).optional();

const extras = leaf((value): Record<string, unknown> | Bad => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad(`must be a mapping of extra keys to values, e.g. { archive: "true" } (got ${describeValue(value)})`);
  return value as Record<string, unknown>;
}).pipe(
  z.record(
    z.string(),
    // CKAN extras are strings; `archive: true` (a YAML boolean) is meant as "true".
    leaf((v): string | Bad => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : bad(`must be a single value, e.g. "true" (got ${describeValue(v)})`))),
  ),
);

const flatMatchShape = {
  tags: matchList('[zenodo]'),
  organization: matchList('[marine-institute]'),
  groups: matchList('[climate]'),
  extras: extras.optional(),
  license_id: matchList('[cc-by]'),
  name: matchList('["survey-*"]'),
  private: leaf((v): boolean | Bad => (typeof v === 'boolean' ? v : bad(`must be true or false (got ${describeValue(v)})`))).optional(),
};

export const ruleMatchSchema = strict(
  {
    ...flatMatchShape,
    // The evaluator and the fq compiler read one level of `not` only; a nested one would be ignored.
    not: strict(
      {
        ...flatMatchShape,
        not: leaf<undefined>((): Bad => bad('cannot be nested inside not (write the condition it negates directly)')).optional(),
      },
      'conditions a matching dataset must not meet',
    ).optional(),
  },
  'conditions a dataset must meet, e.g. { tags: [zenodo] }',
) satisfies z.ZodType<RuleMatch, unknown>;

const resourcesSchema = strict(
  {
    formats: list(textValue, { example: '[CSV, NetCDF]' }).optional(),
    max_size: leaf((v): number | Bad => {
      const bytes = typeof v === 'number' ? (Number.isSafeInteger(v) ? v : undefined) : typeof v === 'string' ? parseSize(v) : undefined;
      return bytes !== undefined && bytes > 0 ? bytes : bad(`must be a size such as 50GB, 500 MB or 1.5GiB (got ${describeValue(v)})`);
    }).optional(),
    datastore: oneOf(DATASTORE).optional(),
  },
  'which resources are archived',
).transform((r): Partial<ResourcePolicy> => ({
  ...(r.formats !== undefined && { formats: r.formats }),
  ...(r.max_size !== undefined && { maxSize: r.max_size }),
  ...(r.datastore !== undefined && { datastore: r.datastore }),
}));

const zenodoSchema = strict(
  {
    upload_type: oneOf(UPLOAD_TYPES).optional(),
    access_right: oneOf(ACCESS_RIGHTS).optional(),
    communities: list(textValue, { example: '[marine]' }).optional(),
    license: text.optional(),
    concept: text.optional(),
  },
  'how the Zenodo record is described',
);

const notifyTarget = (v: unknown): string | Bad => {
  if (typeof v === 'string' && ((NOTIFY_TARGETS as readonly string[]).includes(v) || z.email().safeParse(v).success)) return v;
  return bad(`must be one of ${NOTIFY_TARGETS.join(', ')} or an e-mail address (got ${describeValue(v)})`);
};

const policyShape = {
  resources: resourcesSchema.optional(),
  zenodo: zenodoSchema.optional(),
  on_unmapped: oneOf(ON_UNMAPPED).optional(),
  metadata_changes: oneOf(METADATA_CHANGES).optional(),
  notify: list(notifyTarget, { example: '[maintainer_email, archive@example.org]' }).optional(),
};

/** What `defaults` and each rule may set; unset keys fall back to defaults, then to DESIGN.md's. */
export interface PolicyInput {
  resources?: Partial<ResourcePolicy> | undefined;
  zenodo?: Partial<ZenodoPolicy> | undefined;
  on_unmapped?: (typeof ON_UNMAPPED)[number] | undefined;
  metadata_changes?: (typeof METADATA_CHANGES)[number] | undefined;
  notify?: string[] | undefined;
}

export const policySchema = strict(policyShape, 'settings applied under every rule');

export const ruleSchema = strict(
  {
    name: text,
    when: leaf((v): unknown => (v === null ? bad('must be a mapping of conditions (use `when: {}` to match every dataset)') : v)).pipe(ruleMatchSchema),
    ...policyShape,
  },
  'one rule: name, when, and optionally resources, zenodo, on_unmapped, metadata_changes, notify',
);

export const rulesFileSchema = strict(
  {
    defaults: policySchema.optional(),
    rules: leaf((v): unknown[] | Bad => {
      if (!Array.isArray(v)) return bad(`must be a list of rules, each with a name and a when (got ${describeValue(v)})`);
      if (v.length === 0) return bad('must list at least one rule (e.g. `- name: tagged` with `when: { tags: [zenodo] }`)');
      return v as unknown[];
    }).pipe(z.array(ruleSchema)),
  },
  'the rules file: defaults and rules',
);

export type RulesFileInput = z.output<typeof rulesFileSchema>;
