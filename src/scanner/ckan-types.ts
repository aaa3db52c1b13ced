/**
 * Lenient parsing of CKAN responses (STYLE.md 3: lenient for theirs). Real portals disagree on
 * almost every field (reference ckan-api.md §4, §5, fixtures in shared/fixtures/ckan-real): `extras`
 * absent or null, scheming fields at top level, multilingual titles as objects, sizes as strings,
 * the string "null" for null. We normalise the few fields the scanner and the sync use and keep
 * every other key as it came (looseObject), so the metadata mapping can read portal-specific ones.
 *
 * A dataset is *malformed* only when it lacks what we cannot work without (id, a resource list
 * whose entries have ids, a parseable metadata_modified). A malformed dataset in a search page is
 * reported and skipped; the rest of the page is kept.
 */
import { z } from 'zod';

export interface CkanExtra {
  key: string;
  value: string;
}

export interface CkanResource {
  id: string;
  name: string | null;
  url: string | null;
  url_type: string | null;
  format: string | null;
  size: number | null;
  hash: string | null;
  last_modified: string | null;
  metadata_modified: string | null;
  datastore_active: boolean;
  position: number | null;
  mimetype: string | null;
  [key: string]: unknown;
}

export interface CkanTag {
  name: string;
  vocabulary_id: string | null;
}

export interface CkanOrganization {
  id: string | null;
  name: string;
  title: string | null;
}

export interface CkanDataset {
  id: string;
  name: string;
  title: string | null;
  notes: string | null;
  /** Naive UTC ISO string as CKAN returns it (`2025-12-15T13:58:11.026778`, fraction optional). */
  metadata_modified: string;
  metadata_created: string | null;
  private: boolean;
  state: string | null;
  type: string | null;
  license_id: string | null;
  owner_org: string | null;
  organization: CkanOrganization | null;
  groups: { name: string }[];
  tags: CkanTag[];
  /** Free extras only; on scheming sites schema fields are top-level keys instead (§4.1). */
  extras: CkanExtra[];
  resources: CkanResource[];
  [key: string]: unknown;
}

export interface MalformedDataset {
  id?: string;
  reason: string;
}

/** "null", "", undefined → null; the EnviDat payload writes the string "null" for null. */
function nullish(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && (value === 'null' || value === 'None')) return null;
  return value;
}

/** Multilingual (ckanext-fluent) values come as `{en: ..., de: ...}`: prefer English, else the first string. */
function text(value: unknown): string | null {
  const v = nullish(value);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const record = v as Record<string, unknown>;
    const en = record['en'];
    if (typeof en === 'string' && en !== '') return en;
    for (const candidate of Object.values(record)) if (typeof candidate === 'string' && candidate !== '') return candidate;
  }
  return null;
}

function bool(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.toLowerCase() === 'true';
  if (typeof value === 'number') return value !== 0;
  return false;
}

function integer(value: unknown): number | null {
  const v = nullish(value);
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*\d+(\.0+)?\s*$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(Math.trunc(n)) ? Math.trunc(n) : null;
  }
  return null;
}

/** Accepts CKAN's naive ISO form (with or without fraction, with or without Z). */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;

export function isCkanTimestamp(value: unknown): value is string {
  return typeof value === 'string' && TIMESTAMP.test(value) && !Number.isNaN(Date.parse(toUtcIso(value)));
}

/** CKAN timestamps are naive UTC (§0): make them explicit so Date.parse does not use local time. */
export function toUtcIso(value: string): string {
  return /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
}

const idSchema = z.union([z.string().min(1), z.number().transform(String)]);

const resourceSchema = z
  .looseObject({ id: idSchema })
  .transform((r): CkanResource => ({
    ...r,
    id: r.id,
    name: text(r['name']),
    url: text(r['url']),
    url_type: text(r['url_type']),
    format: text(r['format']),
    size: integer(r['size']),
    hash: text(r['hash']),
    last_modified: text(r['last_modified']),
    metadata_modified: text(r['metadata_modified']),
    datastore_active: bool(r['datastore_active']),
    position: integer(r['position']),
    mimetype: text(r['mimetype']),
  }));

function namedList(value: unknown): { name: string }[] {
  if (!Array.isArray(value)) return [];
  const out: { name: string }[] = [];
  for (const item of value) {
    if (item !== null && typeof item === 'object' && typeof (item as { name?: unknown }).name === 'string') out.push({ name: (item as { name: string }).name });
  }
  return out;
}

function tags(value: unknown): CkanTag[] {
  if (!Array.isArray(value)) return [];
  const out: CkanTag[] = [];
  for (const item of value) {
    if (typeof item === 'string') out.push({ name: item, vocabulary_id: null });
    else if (item !== null && typeof item === 'object') {
      const t = item as { name?: unknown; vocabulary_id?: unknown };
      if (typeof t.name === 'string') out.push({ name: t.name, vocabulary_id: typeof t.vocabulary_id === 'string' && t.vocabulary_id !== '' ? t.vocabulary_id : null });
    }
  }
  return out;
}

function extras(value: unknown): CkanExtra[] {
  if (!Array.isArray(value)) return [];
  const out: CkanExtra[] = [];
  for (const item of value) {
    if (item === null || typeof item !== 'object') continue;
    const e = item as { key?: unknown; value?: unknown };
    if (typeof e.key !== 'string') continue;
    const v = e.value;
    out.push({ key: e.key, value: typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : v !== null && typeof v === 'object' ? JSON.stringify(v) : '' });
  }
  return out;
}

function organization(value: unknown): CkanOrganization | null {
  if (value === null || typeof value !== 'object') return null;
  const o = value as Record<string, unknown>;
  if (typeof o['name'] !== 'string') return null;
  return { id: typeof o['id'] === 'string' ? o['id'] : null, name: o['name'], title: text(o['title']) };
}

/** Parses one dataset dict; never throws. */
export function parseDataset(raw: unknown): { ok: true; dataset: CkanDataset } | { ok: false; malformed: MalformedDataset } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, malformed: { reason: 'dataset is not an object' } };
  const d = raw as Record<string, unknown>;
  const idResult = idSchema.safeParse(d['id']);
  if (!idResult.success) return { ok: false, malformed: { reason: 'dataset has no id' } };
  const id = idResult.data;
  const fail = (reason: string) => ({ ok: false as const, malformed: { id, reason } });
  const mm = d['metadata_modified'];
  if (!isCkanTimestamp(mm)) return fail('metadata_modified missing or not a timestamp');
  const rawResources = nullish(d['resources']);
  if (rawResources !== null && !Array.isArray(rawResources)) return fail('resources is not a list');
  const resources: CkanResource[] = [];
  for (const [i, r] of ((rawResources as unknown[] | null) ?? []).entries()) {
    const parsed = resourceSchema.safeParse(r);
    if (!parsed.success) return fail(`resources[${i}] is not a resource with an id`);
    resources.push(parsed.data);
  }
  const name = typeof d['name'] === 'string' && d['name'] !== '' ? d['name'] : id;
  const dataset: CkanDataset = {
    ...d,
    id,
    name,
    title: text(d['title']),
    notes: text(d['notes']),
    metadata_modified: mm,
    metadata_created: text(d['metadata_created']),
    private: bool(d['private']),
    state: text(d['state']),
    type: text(d['type']),
    license_id: text(d['license_id']),
    owner_org: text(d['owner_org']),
    organization: organization(d['organization']),
    groups: namedList(d['groups']),
    tags: tags(d['tags']),
    extras: extras(nullish(d['extras'])),
    resources,
  };
  return { ok: true, dataset };
}

export interface SearchPage {
  count: number;
  datasets: CkanDataset[];
  malformed: MalformedDataset[];
  /** How many raw results the page held (malformed ones included): paging goes by this. */
  returned: number;
}

const searchResultSchema = z.looseObject({
  count: z.coerce.number().int().nonnegative(),
  results: z.array(z.unknown()),
});

/** Parses a package_search `result`; throws only when the page itself is unusable. */
export function parseSearchResult(result: unknown): SearchPage | undefined {
  const parsed = searchResultSchema.safeParse(result);
  if (!parsed.success) return undefined;
  const datasets: CkanDataset[] = [];
  const malformed: MalformedDataset[] = [];
  for (const raw of parsed.data.results) {
    const r = parseDataset(raw);
    if (r.ok) datasets.push(r.dataset);
    else malformed.push(r.malformed);
  }
  return { count: parsed.data.count, datasets, malformed, returned: parsed.data.results.length };
}

export interface DatastoreSearchResult {
  total: number | null;
  limit: number | null;
  fields: { id: string; type: string | null }[];
  records: unknown[];
  [key: string]: unknown;
}

const datastoreSchema = z.looseObject({
  records: z.array(z.unknown()),
  fields: z
    .array(z.unknown())
    .nullish()
    .transform((fs) =>
      (fs ?? []).flatMap((f) => {
        if (f === null || typeof f !== 'object') return [];
        const o = f as { id?: unknown; type?: unknown };
        return typeof o.id === 'string' ? [{ id: o.id, type: typeof o.type === 'string' ? o.type : null }] : [];
      }),
    ),
  total: z.unknown().transform(integer),
  limit: z.unknown().transform(integer),
});

export function parseDatastoreResult(result: unknown): DatastoreSearchResult | undefined {
  const parsed = datastoreSchema.safeParse(result);
  return parsed.success ? parsed.data : undefined;
}

export interface CkanUser {
  id: string;
  name: string;
  fullname: string | null;
  email: string | null;
  [key: string]: unknown;
}

export function parseUser(result: unknown): CkanUser | undefined {
  if (result === null || typeof result !== 'object') return undefined;
  const u = result as Record<string, unknown>;
  if (typeof u['id'] !== 'string' || typeof u['name'] !== 'string') return undefined;
  return { ...u, id: u['id'], name: u['name'], fullname: text(u['fullname']), email: text(u['email']) };
}

export interface CkanOrganizationDetail {
  id: string;
  name: string;
  title: string | null;
  users: { id: string | null; name: string; capacity: string | null }[];
  [key: string]: unknown;
}

export function parseOrganization(result: unknown): CkanOrganizationDetail | undefined {
  if (result === null || typeof result !== 'object') return undefined;
  const o = result as Record<string, unknown>;
  if (typeof o['id'] !== 'string' || typeof o['name'] !== 'string') return undefined;
  const users = Array.isArray(o['users'])
    ? o['users'].flatMap((u: unknown) => {
        if (u === null || typeof u !== 'object') return [];
        const r = u as Record<string, unknown>;
        if (typeof r['name'] !== 'string') return [];
        return [{ id: typeof r['id'] === 'string' ? r['id'] : null, name: r['name'], capacity: typeof r['capacity'] === 'string' ? r['capacity'] : null }];
      })
    : [];
  return { ...o, id: o['id'], name: o['name'], title: text(o['title']), users };
}
