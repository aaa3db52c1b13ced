/**
 * The CKAN emulator's datasets: per dataset, the Solr-like index document and the serialised JSON
 * (built once per edit), so a 1000-row `package_search` page is mostly string concatenation even
 * with 100,000 datasets loaded. The dict itself is not kept: an object graph per dataset costs
 * ~10x its JSON in heap and made garbage collection dominate at 100k datasets; the rare reader
 * of a whole dict (edits, resource look-ups, tests) parses the JSON, which also hands every
 * caller its own copy.
 */
import { randomUUID } from 'node:crypto';
import { docValues, fieldKind, type IndexDoc } from './solr-query.js';
import { formatCkanTimestamp, parseCkanTimestamp } from './timestamps.js';

export type Dict = Record<string, unknown>;
export type ReadonlyDict = Readonly<Record<string, unknown>>;

export interface Entry {
  id: string;
  name: string;
  /** A fresh parse of `json` on every read. */
  readonly dict: Dict;
  /** UTF-8, outside the JS heap (and never two-byte, which non-ASCII titles would make a string). */
  readonly json: Buffer;
  doc: IndexDoc;
  /** `metadata_modified` truncated to milliseconds: Solr's precision for sorting and ranges (§0). */
  modifiedMs: number;
  createdMs: number;
  state: string;
  isPrivate: boolean;
  ownerOrg: string | undefined;
  orgName: string | undefined;
  creatorUserId: string | undefined;
  /** Re-assigned on every (re)index, like Solr's internal doc order: the final tie-breaker. */
  seq: number;
}

/** Keys CKAN's indexer fills itself; an extra with one of these names is only indexed as `extras_<key>` (§3.3). */
const INDEX_FIELDS = new Set([
  'id', 'name', 'title', 'notes', 'state', 'type', 'dataset_type', 'capacity', 'license_id', 'license',
  'organization', 'owner_org', 'groups', 'tags', 'res_format', 'res_url', 'res_type', 'res_name',
  'res_description', 'text', 'site_id', 'metadata_modified', 'metadata_created', 'author', 'maintainer',
  'url', 'version', 'private', 'creator_user_id', 'entity_type', 'permission_labels', 'index_id',
  'extras', 'resources', 'title_string', 'urls', 'ckan_url', 'download_url', 'validated_data_dict', 'data_dict',
]);

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function isObject(v: unknown): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}


/** CKAN's `munge_filename`, roughly: last path segment, lower-cased, unsafe characters replaced. */
export function mungeFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const cleaned = base.toLowerCase().replace(/\s+/g, '-').replace(/[^a-z0-9._-]/g, '').replace(/^[.-]+/, '');
  return (cleaned === '' ? 'file' : cleaned).slice(0, 100);
}

function urlFilename(url: string | undefined, fallback: string | undefined): string {
  if (url !== undefined && url !== '') {
    try {
      const path = new URL(url, 'http://x/').pathname;
      const last = decodeURIComponent(path.split('/').pop() ?? '');
      if (last !== '' && last !== 'download') return mungeFilename(last);
    } catch {
      // fall through to the resource name
    }
  }
  return mungeFilename(fallback ?? 'file');
}

export interface NormalizeContext {
  siteUrl: string;
  nowMicros: () => number;
}

function normalizeTag(t: unknown): Dict | undefined {
  if (typeof t === 'string') return { id: randomUUID(), name: t, display_name: t, state: 'active', vocabulary_id: null };
  if (!isObject(t) || typeof t.name !== 'string' || t.name === '') return undefined;
  return { id: str(t.id) ?? randomUUID(), display_name: t.name, state: 'active', vocabulary_id: null, ...t };
}

function normalizeExtras(v: unknown): Dict[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return v
    .filter((e): e is Dict => isObject(e) && typeof e.key === 'string')
    .map((e) => ({ key: e.key as string, value: typeof e.value === 'string' ? e.value : e.value === undefined || e.value === null ? '' : JSON.stringify(e.value) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Makes a dataset dict look like what CKAN serves: ids, positions and package ids on resources,
 * uploads pointing at this server's download route (§5.1), counters, timestamps in CKAN's format.
 * Unknown keys are kept as they are (custom schemas, §4).
 */
export function normalizeDataset(raw: Dict, ctx: NormalizeContext, previous?: ReadonlyDict): Dict {
  const d: Dict = { ...raw };
  d.id = str(d.id) ?? str(previous?.id) ?? randomUUID();
  d.name = str(d.name) ?? str(previous?.name) ?? String(d.id);
  d.state = str(d.state) ?? 'active';
  d.type = str(d.type) ?? 'dataset';
  d.private = d.private === true || d.private === 'true' || d.private === 'True';
  // An edit brings its own metadata_modified: reuse it rather than ticking the clock again.
  let nowText = parseCkanTimestamp(d.metadata_modified) === undefined ? undefined : String(d.metadata_modified);
  const now = (): string => (nowText ??= formatCkanTimestamp(ctx.nowMicros()));
  if (parseCkanTimestamp(d.metadata_created) === undefined) d.metadata_created = str(previous?.metadata_created) ?? now();
  if (parseCkanTimestamp(d.metadata_modified) === undefined) d.metadata_modified = now();
  if (d.tags !== undefined) {
    const tags = (Array.isArray(d.tags) ? d.tags : []).map(normalizeTag).filter((t): t is Dict => t !== undefined);
    tags.sort((a, b) => String(a.name).localeCompare(String(b.name)));
    d.tags = tags;
  } else d.tags = [];
  if (d.extras !== undefined) d.extras = normalizeExtras(d.extras) ?? [];
  d.groups = (Array.isArray(d.groups) ? d.groups : []).flatMap((g: unknown) => {
    if (typeof g === 'string') return [{ id: g, name: g, title: g, display_name: g, description: '', image_display_url: '' }];
    return isObject(g) && typeof g.name === 'string' ? [g] : [];
  });
  const oldResources = new Map<string, ReadonlyDict>();
  if (previous && Array.isArray(previous.resources)) {
    for (const r of previous.resources as ReadonlyDict[]) if (typeof r.id === 'string') oldResources.set(r.id, r);
  }
  const resources = (Array.isArray(d.resources) ? d.resources : []).filter(isObject).filter((r) => r.state === undefined || r.state === 'active');
  d.resources = resources.map((r, position) => normalizeResource(r, d, position, ctx, now, oldResources));
  d.num_resources = (d.resources as unknown[]).length;
  d.num_tags = (d.tags as unknown[]).length;
  if (isObject(d.organization) && d.owner_org === undefined) d.owner_org = d.organization.id ?? null;
  return d;
}

function normalizeResource(r: Dict, dataset: Dict, position: number, ctx: NormalizeContext, now: () => string, old: Map<string, ReadonlyDict>): Dict {
  const out: Dict = { ...r };
  out.id = str(out.id) ?? randomUUID();
  out.package_id = dataset.id;
  out.position = position;
  out.state = 'active';
  const before = old.get(out.id as string);
  if (out.created === undefined) out.created = before?.created ?? now();
  if (out.metadata_modified === undefined) out.metadata_modified = before?.metadata_modified ?? now();
  if (out.url_type === 'upload') {
    // Uploaded files are served by this CKAN whatever host the recorded URL names (§5.1).
    const filename = urlFilename(str(out.url), str(out.name));
    out.url = `${ctx.siteUrl}/dataset/${String(dataset.id)}/resource/${String(out.id)}/download/${filename}`;
  } else if (out.url_type === 'datastore') {
    out.url = `${ctx.siteUrl}/datastore/dump/${String(out.id)}`;
  } else if (typeof out.url === 'string' && out.url !== '' && !/^[a-z][a-z0-9+.-]*:/i.test(out.url)) {
    out.url = `http://${out.url}`;
  }
  return out;
}

/** The document CKAN's indexer would send to Solr for this dataset (`index.py@2.10`, §3.3). */
export function buildIndexDoc(d: ReadonlyDict, orgNameOf: (ownerOrg: string) => string | undefined): IndexDoc {
  const strings: string[] = [];
  const texts: string[] = [];
  const dates: Record<string, number> = {};
  const addString = (field: string, value: string | undefined): void => {
    if (value !== undefined) strings.push(field, value);
  };
  const addText = (field: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') texts.push(field, value);
  };
  const addDate = (field: string, value: unknown): void => {
    const micros = parseCkanTimestamp(value);
    if (micros !== undefined) dates[field] = Math.floor(micros / 1000);
  };
  const addAny = (field: string, value: string): void => {
    const kind = fieldKind(field);
    if (kind === 'date') addDate(field, value);
    else if (kind === 'text') addText(field, value);
    else addString(field, value);
  };

  addString('id', str(d.id));
  addString('name', str(d.name));
  addString('state', str(d.state));
  addString('type', str(d.type));
  addString('capacity', d.private === true ? 'private' : 'public');
  addString('private', d.private === true ? 'true' : 'false');
  addString('license_id', str(d.license_id) ?? undefined);
  addString('site_id', 'default');
  addString('creator_user_id', str(d.creator_user_id));
  addString('url', str(d.url));
  addString('version', str(d.version));
  const ownerOrg = str(d.owner_org);
  addString('owner_org', ownerOrg);
  const org = isObject(d.organization) ? str(d.organization.name) : ownerOrg === undefined ? undefined : orgNameOf(ownerOrg);
  addString('organization', org);
  if (isObject(d.organization)) addText('organization_title', str(d.organization.title));
  addText('title', str(d.title));
  addString('title_string', str(d.title));
  addText('notes', str(d.notes));
  addText('author', str(d.author));
  addText('maintainer', str(d.maintainer));
  addDate('metadata_modified', d.metadata_modified);
  addDate('metadata_created', d.metadata_created);
  for (const g of Array.isArray(d.groups) ? d.groups : []) if (isObject(g)) addString('groups', str(g.name));
  for (const t of Array.isArray(d.tags) ? d.tags : []) {
    if (!isObject(t)) continue;
    // Vocabulary tags are indexed under vocab_<vocabulary>, not under `tags` (§3.3).
    if (t.vocabulary_id !== null && t.vocabulary_id !== undefined && t.vocabulary_id !== '') addString(`vocab_${str(t.vocabulary_id) ?? ''}`, str(t.name));
    else addString('tags', str(t.name));
  }
  for (const r of Array.isArray(d.resources) ? d.resources : []) {
    if (!isObject(r)) continue;
    addString('res_format', str(r.format));
    addString('res_url', str(r.url));
    addString('res_type', str(r.resource_type) ?? undefined);
    addText('res_name', str(r.name));
    addText('res_description', str(r.description));
  }
  const extraValue = (key: string, value: string): void => {
    addText(`extras_${key}`, value);
    if (!INDEX_FIELDS.has(key)) addAny(key, value);
  };
  for (const e of Array.isArray(d.extras) ? d.extras : []) {
    if (isObject(e) && typeof e.key === 'string') extraValue(e.key, str(e.value) ?? '');
  }
  // Scheming fields are extras in the DB and therefore in the index (§3.3 "Scheming note");
  // custom top-level keys also reach Solr through the `*` catch-all.
  for (const [key, value] of Object.entries(d)) {
    if (INDEX_FIELDS.has(key) || key.startsWith('num_') || key === 'isopen' || key.startsWith('relationships_')) continue;
    const s = str(value);
    if (s !== undefined) extraValue(key, s);
  }
  return { strings, texts, dates };
}

export function makeEntry(dict: ReadonlyDict, seq: number, orgNameOf: (ownerOrg: string) => string | undefined): Entry {
  const doc = buildIndexDoc(dict, orgNameOf);
  const organization = isObject(dict.organization) ? dict.organization : undefined;
  const ownerOrg = str(dict.owner_org) ?? (organization ? str(organization.id) : undefined);
  return {
    id: String(dict.id),
    name: String(dict.name),
    json: Buffer.from(JSON.stringify(dict), 'utf8'),
    get dict(): Dict {
      return JSON.parse(this.json.toString('utf8')) as Dict;
    },
    doc,
    modifiedMs: doc.dates.metadata_modified ?? 0,
    createdMs: doc.dates.metadata_created ?? 0,
    state: String(dict.state),
    isPrivate: dict.private === true,
    ownerOrg,
    orgName: (organization ? str(organization.name) : undefined) ?? (ownerOrg === undefined ? undefined : orgNameOf(ownerOrg)),
    creatorUserId: str(dict.creator_user_id),
    seq,
  };
}

export function entryJson(entry: Entry): Buffer {
  return entry.json;
}

// ------------------------------------------------------------------------------------------------
// Sorting (Solr semantics: dates compared at millisecond precision, §0 and §3.4 point 3).

export interface SortKey {
  field: string;
  desc: boolean;
}

export const SORTABLE = new Set(['id', 'name', 'title_string', 'metadata_modified', 'metadata_created', 'license_id', 'state', 'type', 'score', 'views_recent', 'views_total']);

/** `"metadata_modified asc, id asc"` → keys; undefined if Solr would not understand it. */
export function parseSort(text: string): SortKey[] | undefined {
  const keys: SortKey[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z0-9_]+)\s+(asc|desc)\s*$/i.exec(part);
    if (!m || !SORTABLE.has(m[1]!)) return undefined;
    keys.push({ field: m[1]!, desc: m[2]!.toLowerCase() === 'desc' });
  }
  return keys.length === 0 ? undefined : keys;
}

function sortValue(e: Entry, field: string): string | number {
  switch (field) {
    case 'metadata_modified':
      return e.modifiedMs;
    case 'metadata_created':
      return e.createdMs;
    case 'id':
      return e.id;
    case 'name':
      return e.name;
    case 'score':
    case 'views_recent':
    case 'views_total':
      // No relevance scoring for filter-only searches: every document scores the same.
      return 0;
    default:
      return docValues(e.doc.strings, field)[0] ?? '';
  }
}

export function comparator(keys: readonly SortKey[]): (a: Entry, b: Entry) => number {
  return (a, b) => {
    for (const k of keys) {
      const va = sortValue(a, k.field);
      const vb = sortValue(b, k.field);
      if (va !== vb) {
        const c = va < vb ? -1 : 1;
        return k.desc ? -c : c;
      }
    }
    return a.seq - b.seq;
  };
}
