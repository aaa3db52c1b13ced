/**
 * A local CKAN (2.9-2.11 Action API, reference ckan-api.md) for tests, benchmarks and `demo`:
 * `package_search` with a real parser for the Solr subset clients send, `package_show`,
 * `resource_show`, `package_list`, `user_show`, `organization_show`, `member_list`,
 * `package_patch`, `datastore_search`, `status_show`, the upload download route and the
 * DataStore dump route, with CKAN's envelopes, error shapes, token rules and timestamp format.
 *
 * Files are never held whole: content is a seeded PRNG stream (content.ts), a file under
 * `<seedDir>/files/<resource id>`, or bytes set through the test API. Tests drive state through
 * the in-process methods or the same operations over HTTP under `/__emulator/`. Fault injection
 * follows src/emulators/faults.ts; routes are the action names plus `download` and `dump`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import type { Logger } from '../../log.js';
import { silentLogger } from '../../log.js';
import { createFaultInjector, parseFaultSpec, validateFaultSpec, type FaultAction, type FaultSpec } from '../faults.js';
import { generatedContent } from './content.js';
export { generateDatasets, type GenerateOptions, type GeneratedDataset, type GeneratedResource } from './generate.js';
import {
  compileSolrQuery, docValues, impliedLowerBound, parseSolrQuery, SolrQueryError, textTokens, type IndexDoc, type SolrNode,
} from './solr-query.js';
import {
  comparator, entryJson, makeEntry, normalizeDataset, parseSort, type Dict, type Entry, type ReadonlyDict, type SortKey,
} from './store.js';
import { createMicrosClock, formatCkanTimestamp } from './timestamps.js';

export const ckanActions = [
  'package_search', 'package_show', 'package_list', 'resource_show', 'user_show', 'organization_show',
  'member_list', 'package_patch', 'datastore_search', 'status_show',
] as const;
/** Fault routes: every action name, plus the file routes. */
export const ckanRoutes = [...ckanActions, 'download', 'dump'] as const;
export type CkanRoute = (typeof ckanRoutes)[number];

export type Capacity = 'admin' | 'editor' | 'member';

export interface CkanUserSpec {
  id?: string;
  name: string;
  fullname?: string;
  email?: string;
  sysadmin?: boolean;
  /** Organization name (or id) → capacity. */
  organizations?: Record<string, Capacity>;
}

export interface TokenSpec {
  user: string;
  sysadmin?: boolean;
}

export interface DatastoreTable {
  /** Without `_id`; it is added first, like CKAN does. */
  fields: { id: string; type: string; info?: Record<string, unknown> }[];
  records: Record<string, unknown>[];
}

export interface CkanEmulatorOptions {
  port?: number;
  host?: string;
  /** A directory of `*.json` (datasets, package_show/package_search envelopes, `{ "users": [...] }`) and `files/<resource id>`. */
  seedDir?: string;
  datasets?: object[];
  /** Default `{ 'ckan-test-token': { user: 'archiver', sysadmin: true } }`. */
  tokens?: Record<string, TokenSpec>;
  users?: CkanUserSpec[];
  faults?: FaultSpec[];
  faultSeed?: number;
  /** Size of generated content for resources whose `size` is null. Default 1024. */
  defaultFileSize?: number;
  /** Rows of the generated table of a `datastore_active` resource. Default 250. */
  datastoreRows?: number;
  /** 2.11 reads only `Authorization`; 2.9/2.10 also `X-CKAN-API-Key` (§2.1, §10). Default '2.10'. */
  ckanVersion?: '2.9' | '2.10' | '2.11';
  /** ckanext-scheming mode: these keys live at top level and may not be sent as extras (§4.1). */
  schemingFields?: string[];
  log?: Logger;
  /** Wall clock in ms (timestamps). Default Date.now. */
  now?: () => number;
}

export interface CkanRequestLogEntry {
  method: string;
  /** Without the query string. */
  path: string;
  action?: string;
  /** 0 when the connection was reset or cut by a fault. */
  status: number;
}

export type ResourceContent = Buffer | { size: number; seed?: string };

export interface CkanEmulator {
  /** `http://127.0.0.1:N`, no trailing slash (CKAN's site_url). */
  readonly url: string;
  close(): Promise<void>;
  setFaults(faults: FaultSpec[]): void;
  readonly requests: readonly CkanRequestLogEntry[];
  /** Adds (or replaces, same id) a dataset; returns what package_show now serves. */
  addDataset(dict: object): ReadonlyDict;
  /** package_patch semantics (shallow; a list given replaces the list); bumps metadata_modified. */
  updateDataset(idOrName: string, patch: object): ReadonlyDict;
  /**
   * resource_patch semantics (§7): a shallow update of one resource; the resource's and the
   * dataset's metadata_modified are bumped. Returns the dataset.
   */
  updateResource(datasetIdOrName: string, resourceId: string, patch: object): ReadonlyDict;
  /** CKAN's delete (state=deleted: gone from search, 403 to non-sysadmins), or `purge` (404). */
  deleteDataset(idOrName: string, opts?: { purge?: boolean }): void;
  /** Like a re-upload: new bytes, and size/hash/last_modified/metadata_modified updated. */
  setResourceContent(resourceId: string, content: ResourceContent): ReadonlyDict;
  setDatastoreTable(resourceId: string, table: DatastoreTable): void;
  getDataset(idOrName: string): ReadonlyDict | undefined;
  /** Deep-frozen stored dicts, in insertion order. */
  datasets(): readonly ReadonlyDict[];
}

// ------------------------------------------------------------------------------------------------

interface User {
  id: string;
  name: string;
  fullname: string;
  email: string;
  sysadmin: boolean;
  created: string;
  memberships: Map<string, Capacity>;
}

interface Org {
  id: string;
  name: string;
  dict: Dict;
}

interface Caller {
  user: User | undefined;
}

type Content =
  | { kind: 'buffer'; data: Buffer }
  | { kind: 'generated'; seed: string; size: number }
  | { kind: 'file'; path: string; size: number };

class ApiError extends Error {
  constructor(readonly status: number, readonly error: Dict) {
    super(String(error.message ?? error.__type));
  }
}

/** 400 with a bare JSON string body, not an envelope (§1.2). */
class BareError extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(body);
  }
}

/** A JSON value already serialised (cached dataset JSON). */
class RawJson {
  constructor(readonly pieces: (string | Buffer)[]) {}
}

/** Python's repr() of a str, which CKAN puts in some messages (`%r`). */
function pyRepr(s: string): string {
  if (s.includes("'") && !s.includes('"')) return `"${s.replace(/\\/g, '\\\\')}"`;
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const notFound = (detail?: string): ApiError =>
  new ApiError(404, { __type: 'Not Found Error', message: detail === undefined ? 'Not found' : `Not found: ${detail}` });
const notAuthorized = (detail: string): ApiError => new ApiError(403, { __type: 'Authorization Error', message: `Access denied: ${detail}` });
const validation = (fields: Dict): ApiError => new ApiError(409, { __type: 'Validation Error', ...fields });
const searchQuery = (detail: string): ApiError =>
  new ApiError(400, { __type: 'Search Query Error', message: `Search Query is invalid: (${pyRepr(detail)},)` });

const POST_ONLY = 'Bad request - JSON Error: Invalid request. Please use POST method for your request';
const JSON_TYPE = 'application/json;charset=utf-8';
const API_PATH = /^(?:\/([a-z]{2,3}(?:_[A-Za-z]{2,4})?))?\/api(?:\/3)?\/action\/([^/]+)\/?$/;
const DOWNLOAD_PATH = /^\/(?:[a-z][a-z0-9_-]*)\/([^/]+)\/resource\/([^/]+)\/download(?:\/([^/]*))?$/;
const DUMP_PATH = /^\/datastore\/dump\/([^/]+)$/;
const MAX_JSON_BODY = 32 * 1024 * 1024;

const SEARCH_PARAMS = new Set([
  'q', 'fq', 'fq_list', 'sort', 'rows', 'start', 'include_private', 'include_drafts', 'include_deleted', 'facet', 'facet.field',
  'facet.limit', 'facet.mincount', 'fl', 'qf', 'wt', 'bf', 'boost', 'tie', 'defType', 'mm', 'df', 'use_default_schema', 'callback', '_',
]);
const DEFAULT_SORT = 'score desc, metadata_modified desc';

/** CKAN's `boolean_validator` spellings. */
function asBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  return typeof v === 'string' && ['true', 'yes', 't', 'y', '1', 'on'].includes(v.trim().toLowerCase());
}

function asString(v: unknown): string | undefined {
  if (Array.isArray(v)) return asString(v[v.length - 1]);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function natural(params: Dict, key: string, fallback: number): number {
  const v = params[key];
  if (v === undefined || v === null || v === '') return fallback;
  const text = asString(v) ?? '';
  if (!/^\s*-?\d+\s*$/.test(text)) throw validation({ [key]: ['Invalid integer'] });
  const n = Number(text);
  if (n < 0) throw validation({ [key]: ['Must be a natural number'] });
  return n;
}

/** GET structured params are JSON text (`facet.field=["tags"]`, §1.3). */
function jsonParam(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function isObject(v: unknown): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function htmlPage(status: number, title: string, text: string): { status: number; headers: Record<string, string>; body: string } {
  return { status, headers: { 'content-type': 'text/html; charset=utf-8' }, body: `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>\n` };
}

const STATUS_TEXT: Record<number, string> = { 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

interface Reply {
  status: number;
  headers: Record<string, string>;
  /** Buffered body: Content-Length is set. */
  body?: string | Buffer | (string | Buffer)[];
  /** Streamed body; `length` set → Content-Length, else chunked. */
  stream?: Readable;
  length?: number;
}

function guessContentType(resource: ReadonlyDict, filename: string): string {
  if (typeof resource.mimetype === 'string' && /^[\w.+-]+\/[\w.+-]+$/.test(resource.mimetype)) return resource.mimetype;
  const ext = (filename.split('.').pop() ?? '').toLowerCase();
  const byExt: Record<string, string> = {
    csv: 'text/csv', json: 'application/json', xml: 'application/xml', pdf: 'application/pdf', zip: 'application/zip',
    xls: 'application/vnd.ms-excel', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    txt: 'text/plain', nc: 'application/x-netcdf', geojson: 'application/geo+json', tsv: 'text/tab-separated-values',
  };
  return byExt[ext] ?? 'application/octet-stream';
}

const STATIONS = ['Zürich', 'Αθήνα', '東京', 'Galway', 'Reykjavík', 'Kraków', 'São Paulo', 'Nairobi'];

/** A small deterministic table for a `datastore_active` resource that was given none. */
function generatedTable(resourceId: string, rows: number): DatastoreTable {
  const h = createHash('sha256').update(resourceId).digest();
  const records: Record<string, unknown>[] = [];
  for (let i = 0; i < rows; i++) {
    const b = h[i % h.length]! ^ (i * 31);
    records.push({
      station: STATIONS[b % STATIONS.length],
      observed: formatCkanTimestamp((Date.UTC(2024, 0, 1) + i * 3_600_000) * 1000),
      value: Math.round(((b * 7919 + i * 104729) % 100000) / 10) / 100,
      valid: b % 5 !== 0,
    });
  }
  return {
    fields: [
      { id: 'station', type: 'text' },
      { id: 'observed', type: 'timestamp' },
      { id: 'value', type: 'numeric' },
      { id: 'valid', type: 'bool' },
    ],
    records,
  };
}

function csvCell(v: unknown, sep: string): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : JSON.stringify(v);
  return s.includes(sep) || /["\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// ------------------------------------------------------------------------------------------------

export async function startCkanEmulator(opts: CkanEmulatorOptions = {}): Promise<CkanEmulator> {
  const log = opts.log ?? silentLogger();
  const nowMs = opts.now ?? Date.now;
  const clock = createMicrosClock(nowMs);
  const defaultFileSize = opts.defaultFileSize ?? 1024;
  const datastoreRows = opts.datastoreRows ?? 250;
  const ckanVersion = opts.ckanVersion ?? '2.10';
  const schemingFields = new Set(opts.schemingFields ?? []);
  const faults = createFaultInjector((opts.faults ?? []).map((f) => validateFaultSpec(f, ckanRoutes)), opts.faultSeed ?? 1);

  const entries = new Map<string, Entry>();
  const byName = new Map<string, string>();
  const byResource = new Map<string, string>();
  const orgs = new Map<string, Org>();
  const orgByName = new Map<string, string>();
  const users = new Map<string, User>();
  const userByName = new Map<string, string>();
  const tokens = new Map<string, string>();
  const contents = new Map<string, Content>();
  const tables = new Map<string, DatastoreTable>();
  const requests: CkanRequestLogEntry[] = [];
  const sortCache = new Map<string, { version: number; list: Entry[] }>();
  const matchCache = new Map<string, { version: number; matches: Entry[] }>();
  let version = 0;
  let seq = 0;
  let siteUrl = '';
  let seedFilesDir: string | undefined;

  // ---------------------------------------------------------------------------- users and orgs

  function addUser(spec: CkanUserSpec): User {
    const existingId = userByName.get(spec.name);
    const existing = existingId === undefined ? undefined : users.get(existingId);
    const user: User = existing ?? {
      id: spec.id ?? randomUUID(),
      name: spec.name,
      fullname: spec.fullname ?? spec.name,
      email: spec.email ?? `${spec.name}@example.org`,
      sysadmin: spec.sysadmin ?? false,
      created: formatCkanTimestamp(Math.floor(nowMs()) * 1000),
      memberships: new Map(),
    };
    if (existing) {
      // A seed file may name a user a token already created: its id wins (datasets refer to it).
      if (spec.id !== undefined && spec.id !== existing.id) {
        users.delete(existing.id);
        user.id = spec.id;
      }
      if (spec.fullname !== undefined) user.fullname = spec.fullname;
      if (spec.email !== undefined) user.email = spec.email;
      if (spec.sysadmin !== undefined) user.sysadmin = spec.sysadmin;
    }
    for (const [org, capacity] of Object.entries(spec.organizations ?? {})) {
      user.memberships.set(org, capacity);
      if (!orgByName.has(org) && !orgs.has(org)) registerOrg({ id: randomUUID(), name: org, title: org });
    }
    users.set(user.id, user);
    userByName.set(user.name, user.id);
    return user;
  }

  function registerOrg(dict: Dict): void {
    const id = asString(dict.id);
    const name = asString(dict.name);
    if (id === undefined || name === undefined) return;
    const previousId = orgByName.get(name);
    if (previousId !== undefined && previousId !== id) {
      // A member list named the org before any dataset did: keep one org, the dataset's id.
      orgs.delete(previousId);
    }
    if (orgs.has(id)) return;
    orgs.set(id, {
      id,
      name,
      dict: {
        id, name, title: dict.title ?? name, type: 'organization', description: dict.description ?? '',
        image_url: dict.image_url ?? '', created: dict.created ?? formatCkanTimestamp(Math.floor(nowMs()) * 1000), is_organization: true,
        approval_status: 'approved', state: 'active',
      },
    });
    orgByName.set(name, id);
  }

  const orgNameOf = (ownerOrg: string): string | undefined => orgs.get(ownerOrg)?.name;

  function capacityIn(user: User, e: { orgName: string | undefined; ownerOrg: string | undefined }): Capacity | undefined {
    return (e.orgName === undefined ? undefined : user.memberships.get(e.orgName)) ?? (e.ownerOrg === undefined ? undefined : user.memberships.get(e.ownerOrg));
  }

  function canRead(caller: Caller, e: Entry): boolean {
    if (e.state === 'active' && !e.isPrivate) return true;
    const user = caller.user;
    if (!user) return false;
    if (user.sysadmin) return true;
    if (e.state === 'deleted') return canEdit(caller, e);
    if (e.state === 'draft' && e.creatorUserId === user.id) return true;
    return capacityIn(user, e) !== undefined;
  }

  function canEdit(caller: Caller, e: Entry): boolean {
    const user = caller.user;
    if (!user) return false;
    if (user.sysadmin) return true;
    const capacity = capacityIn(user, e);
    if (capacity === 'admin' || capacity === 'editor') return true;
    return e.ownerOrg === undefined && e.creatorUserId === user.id;
  }

  function visibleInSearch(caller: Caller, e: Entry, includePrivate: boolean, includeDrafts: boolean): boolean {
    if (e.state === 'draft') {
      if (!includeDrafts || !caller.user) return false;
      const u = caller.user;
      if (!u.sysadmin && e.creatorUserId !== u.id && capacityIn(u, e) === undefined) return false;
    } else if (e.state !== 'active') return false;
    if (e.isPrivate) {
      // CKAN prepends +capacity:public unless include_private (§3.1); then permission labels.
      if (!includePrivate || !caller.user) return false;
      if (!caller.user.sysadmin && capacityIn(caller.user, e) === undefined) return false;
    }
    return true;
  }

  // ---------------------------------------------------------------------------- datasets

  function findEntry(idOrName: string): Entry | undefined {
    return entries.get(idOrName) ?? entries.get(byName.get(idOrName) ?? '');
  }

  function requireEntry(idOrName: string): Entry {
    const e = findEntry(idOrName);
    if (!e) throw new Error(`no dataset "${idOrName}" in the CKAN emulator`);
    return e;
  }

  function index(dict: Dict): Entry {
    if (isObject(dict.organization)) registerOrg(dict.organization);
    const previous = entries.get(String(dict.id));
    if (previous) {
      byName.delete(previous.name);
      for (const r of (previous.dict.resources as ReadonlyDict[] | undefined) ?? []) byResource.delete(String(r.id));
    }
    const entry = makeEntry(dict, ++seq, orgNameOf);
    entries.set(entry.id, entry);
    byName.set(entry.name, entry.id);
    for (const r of (dict.resources as Dict[] | undefined) ?? []) byResource.set(String(r.id), entry.id);
    version++;
    return entry;
  }

  function normalize(raw: Dict, previous?: ReadonlyDict): Dict {
    return normalizeDataset(raw, { siteUrl, nowMicros: clock }, previous);
  }

  function insert(raw: object): Entry {
    if (!isObject(raw)) throw new Error('a dataset must be a JSON object');
    const dict = normalize(raw);
    const clash = byName.get(String(dict.name));
    if (clash !== undefined && clash !== dict.id) throw new Error(`dataset name "${String(dict.name)}" is already used by ${clash}`);
    return index(dict);
  }

  function addDataset(raw: object): ReadonlyDict {
    return insert(raw).dict;
  }

  /** package_patch's shallow update (§7) + package_update's metadata_modified bump. */
  function patchEntry(e: Entry, patch: Dict): Entry {
    const merged: Dict = { ...e.dict, ...patch, id: e.id, metadata_modified: formatCkanTimestamp(clock()) };
    const dict = normalize(merged, e.dict);
    return index(dict);
  }

  function validatePatch(e: Entry, patch: Dict): void {
    const errors: Dict = {};
    if (patch.name !== undefined) {
      const name = patch.name;
      if (typeof name !== 'string' || !/^[a-z0-9_-]{2,100}$/.test(name)) {
        errors.name = ['Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_'];
      } else {
        const owner = byName.get(name);
        if (owner !== undefined && owner !== e.id) errors.name = ['That URL is already in use.'];
      }
    }
    if (patch.extras !== undefined) {
      if (!Array.isArray(patch.extras)) errors.extras = ['Not a list'];
      else {
        // `extra_key_not_in_root_schema` (§4.1): an extra may not shadow a schema field.
        let bad = false;
        const itemErrors = patch.extras.map((x: unknown) => {
          if (!isObject(x) || typeof x.key !== 'string' || x.key === '') {
            bad = true;
            return { key: ['Missing value'] };
          }
          if (schemingFields.has(x.key) || ROOT_SCHEMA_KEYS.has(x.key)) {
            bad = true;
            return { key: ['There is a schema field with the same name'] };
          }
          return {};
        });
        if (bad) errors.extras = itemErrors;
      }
    }
    if (patch.resources !== undefined && !Array.isArray(patch.resources)) errors.resources = ['Not a list'];
    if (patch.tags !== undefined && !Array.isArray(patch.tags)) errors.tags = ['Not a list'];
    if (Object.keys(errors).length > 0) throw validation(errors);
  }

  function updateDataset(idOrName: string, patch: object): ReadonlyDict {
    const e = requireEntry(idOrName);
    if (!isObject(patch)) throw new Error('a patch must be a JSON object');
    validatePatch(e, patch);
    return patchEntry(e, patch).dict;
  }

  function updateResource(datasetIdOrName: string, resourceId: string, patch: object): ReadonlyDict {
    const e = requireEntry(datasetIdOrName);
    const resources = (e.dict.resources as ReadonlyDict[] | undefined) ?? [];
    if (!resources.some((r) => r.id === resourceId)) throw new Error(`dataset "${datasetIdOrName}" has no resource "${resourceId}"`);
    if (!isObject(patch)) throw new Error('a patch must be a JSON object');
    const now = formatCkanTimestamp(clock());
    const next = resources.map((r) => (r.id === resourceId ? { ...r, ...patch, id: resourceId, metadata_modified: now } : r));
    return patchEntry(e, { resources: next }).dict;
  }

  function deleteDataset(idOrName: string, options: { purge?: boolean } = {}): void {
    const e = requireEntry(idOrName);
    if (options.purge) {
      entries.delete(e.id);
      byName.delete(e.name);
      for (const r of (e.dict.resources as ReadonlyDict[] | undefined) ?? []) {
        byResource.delete(String(r.id));
        contents.delete(String(r.id));
        tables.delete(String(r.id));
      }
      version++;
      return;
    }
    patchEntry(e, { state: 'deleted' });
  }

  function findResource(resourceId: string): { entry: Entry; resource: ReadonlyDict } | undefined {
    const datasetId = byResource.get(resourceId);
    const entry = datasetId === undefined ? undefined : entries.get(datasetId);
    const resource = (entry?.dict.resources as ReadonlyDict[] | undefined)?.find((r) => r.id === resourceId);
    return entry && resource ? { entry, resource } : undefined;
  }

  function setResourceContent(resourceId: string, content: ResourceContent): ReadonlyDict {
    const found = findResource(resourceId);
    if (!found) throw new Error(`no resource "${resourceId}" in the CKAN emulator`);
    let size: number;
    let hash = '';
    if (Buffer.isBuffer(content)) {
      contents.set(resourceId, { kind: 'buffer', data: content });
      size = content.length;
      hash = createHash('md5').update(content).digest('hex');
    } else {
      if (!Number.isSafeInteger(content.size) || content.size < 0) throw new Error('content size must be a non-negative integer');
      size = content.size;
      contents.set(resourceId, { kind: 'generated', seed: content.seed ?? `${resourceId}:${clock()}`, size });
    }
    const now = formatCkanTimestamp(clock());
    const resources = (found.entry.dict.resources as ReadonlyDict[]).map((r) =>
      r.id === resourceId ? { ...r, size, hash, last_modified: now, metadata_modified: now } : r,
    );
    return patchEntry(found.entry, { resources }).dict;
  }

  function contentOf(resourceId: string, resource: ReadonlyDict): Content {
    const set = contents.get(resourceId);
    if (set) return set;
    const size = typeof resource.size === 'number' && Number.isSafeInteger(resource.size) && resource.size >= 0 ? resource.size : defaultFileSize;
    return { kind: 'generated', seed: resourceId, size };
  }

  function tableOf(resourceId: string, resource: ReadonlyDict): DatastoreTable | undefined {
    const set = tables.get(resourceId);
    if (set) return set;
    if (resource.datastore_active !== true) return undefined;
    const table = generatedTable(resourceId, datastoreRows);
    tables.set(resourceId, table);
    return table;
  }

  function sorted(keys: readonly SortKey[]): Entry[] {
    const cacheKey = keys.map((k) => `${k.field} ${k.desc ? 'desc' : 'asc'}`).join(',');
    const hit = sortCache.get(cacheKey);
    if (hit && hit.version === version) return hit.list;
    const list = [...entries.values()].filter((e) => e.state !== 'deleted').sort(comparator(keys));
    sortCache.set(cacheKey, { version, list });
    return list;
  }

  // ---------------------------------------------------------------------------- actions

  const now = (): number => nowMs();

  function compileQueryParam(text: string | undefined, isQ: boolean): { node: SolrNode; test: (doc: IndexDoc) => boolean } | undefined {
    if (text === undefined || text.trim() === '' || text.trim() === '*:*') return undefined;
    if (isQ && !text.includes(':')) {
      // No field: CKAN switches to dismax over its default fields (§3.1); approximated as "every word somewhere".
      const words = textTokens(text).map((w) => ({ type: 'term' as const, field: 'text', value: w }));
      const node: SolrNode = words.length === 0 ? { type: 'all' } : { type: 'and', items: words };
      return { node: { type: 'all' }, test: compileSolrQuery(node, now()) };
    }
    try {
      const node = parseSolrQuery(text);
      return { node, test: compileSolrQuery(node, now()) };
    } catch (error) {
      if (error instanceof SolrQueryError) throw searchQuery(error.message);
      throw error;
    }
  }

  function packageSearch(params: Dict, caller: Caller): RawJson {
    const unknown = Object.keys(params).filter((k) => !SEARCH_PARAMS.has(k) && !k.startsWith('ext_'));
    if (unknown.length > 0) throw searchQuery(`Invalid search parameters: [${unknown.map(pyRepr).join(', ')}]`);
    // Silently clamped, never refused (§0, ckan.search.rows_max).
    const rows = Math.min(1000, natural(params, 'rows', 10));
    const start = natural(params, 'start', 0);
    const includePrivate = asBool(params.include_private);
    const includeDrafts = asBool(params.include_drafts);
    const sortParam = asString(params.sort);
    const sortText = sortParam === undefined || sortParam.trim() === '' || sortParam.trim() === 'rank' ? DEFAULT_SORT : sortParam;
    const keys = parseSort(sortText);
    if (!keys) throw searchQuery('Invalid "sort" parameter');
    const filters: { node: SolrNode; test: (doc: IndexDoc) => boolean }[] = [];
    const q = compileQueryParam(asString(params.q), true);
    if (q) filters.push(q);
    const fq = compileQueryParam(asString(params.fq), false);
    if (fq) filters.push(fq);
    const fqList = jsonParam(params.fq_list);
    for (const item of Array.isArray(fqList) ? fqList : fqList === undefined ? [] : [fqList]) {
      const f = compileQueryParam(asString(item), false);
      if (f) filters.push(f);
    }
    const cacheKey = JSON.stringify([params.q, params.fq, params.fq_list, sortText, includePrivate, includeDrafts, caller.user?.id]);
    let matches = matchCache.get(cacheKey)?.version === version ? matchCache.get(cacheKey)!.matches : undefined;
    if (matches === undefined) {
      const list = sorted(keys);
      let from = 0;
      if (keys[0]?.field === 'metadata_modified' && !keys[0].desc) {
        // Keyset scans ask for metadata_modified:[X TO *]: start at X in the date-sorted index.
        let bound: number | undefined;
        for (const f of filters) {
          const b = impliedLowerBound(f.node, 'metadata_modified', now());
          if (b !== undefined && (bound === undefined || b > bound)) bound = b;
        }
        if (bound !== undefined) {
          let lo = 0;
          let hi = list.length;
          while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if (list[mid]!.modifiedMs < bound) lo = mid + 1;
            else hi = mid;
          }
          from = lo;
        }
      }
      matches = [];
      for (let i = from; i < list.length; i++) {
        const e = list[i]!;
        if (visibleInSearch(caller, e, includePrivate, includeDrafts) && filters.every((f) => f.test(e.doc))) matches.push(e);
      }
      // Offset paging repeats the same query with another `start`: answer it from the last matches.
      matchCache.set(cacheKey, { version, matches });
      if (matchCache.size > 8) matchCache.delete(matchCache.keys().next().value!);
    }
    const count = matches.length;
    const page = matches.slice(start, start + rows);
    const facetFields = (() => {
      const v = jsonParam(params['facet.field']);
      return Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
    })();
    const facetsOn = facetFields.length > 0 && params.facet !== 'false';
    const facetCounts = new Map<string, Map<string, number>>(facetFields.map((f) => [f, new Map()]));
    if (facetsOn) {
      for (const e of matches) {
        for (const [field, counts] of facetCounts) {
          for (const v of docValues(e.doc.strings, field)) counts.set(v, (counts.get(v) ?? 0) + 1);
        }
      }
    }
    const facets: Dict = {};
    const searchFacets: Dict = {};
    if (facetsOn) {
      const limit = natural(params, 'facet.limit', 50);
      const minCount = natural(params, 'facet.mincount', 1);
      for (const [field, counts] of facetCounts) {
        const items = [...counts].filter(([, c]) => c >= minCount).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, limit);
        facets[field] = Object.fromEntries(items);
        searchFacets[field] = { title: field, items: items.map(([name, c]) => ({ name, display_name: name, count: c })) };
      }
    }
    const fl = asString(params.fl);
    const results: (string | Buffer)[] = fl === undefined || fl.trim() === '' ? page.map(entryJson) : page.map((e) => JSON.stringify(solrDoc(e, fl)));
    const pieces: (string | Buffer)[] = [`{"count": ${count}, "facets": ${JSON.stringify(facets)}, "results": [`];
    results.forEach((r, i) => {
      if (i > 0) pieces.push(', ');
      pieces.push(r);
    });
    pieces.push(`], "sort": ${JSON.stringify(sortText)}, "search_facets": ${JSON.stringify(searchFacets)}}`);
    return new RawJson(pieces);
  }

  /** A raw Solr document for `fl` (§3.1): dates in Solr form, `extras_<k>` returned under `<k>`. */
  function solrDoc(e: Entry, fl: string): Dict {
    const out: Dict = {};
    for (const field of fl.split(/[\s,]+/).filter((f) => f !== '')) {
      if (field === 'metadata_modified' || field === 'metadata_created') {
        const ms = field === 'metadata_modified' ? e.modifiedMs : e.createdMs;
        out[field] = new Date(ms).toISOString();
      } else if (field === 'validated_data_dict' || field === 'data_dict') out[field] = entryJson(e);
      else if (field.startsWith('extras_')) {
        const key = field.slice('extras_'.length);
        const extra = (e.dict.extras as ReadonlyDict[] | undefined)?.find((x) => x.key === key);
        const value = extra?.value ?? (typeof e.dict[key] === 'string' ? e.dict[key] : undefined);
        if (value !== undefined) out[key] = value;
      } else {
        const values = docValues(e.doc.strings, field);
        if (values.length > 0) out[field] = values.length === 1 && !['tags', 'groups', 'res_format', 'res_url'].includes(field) ? values[0] : values;
      }
    }
    return out;
  }

  function userName(caller: Caller): string {
    // CKAN formats the anonymous user as an empty string: "User  not authorized ..." (§1.2).
    return caller.user?.name ?? '';
  }

  function packageShow(params: Dict, caller: Caller): RawJson {
    const id = asString(params.id) ?? asString(params.name_or_id);
    if (id === undefined || id === '') throw validation({ name_or_id: ['Missing value'] });
    const e = findEntry(id);
    if (!e) throw notFound();
    if (!canRead(caller, e)) throw notAuthorized(`User ${userName(caller)} not authorized to read package ${e.id}`);
    return new RawJson([entryJson(e)]);
  }

  function packageList(params: Dict): string[] {
    const limit = params.limit === undefined ? undefined : natural(params, 'limit', 0);
    const offset = natural(params, 'offset', 0);
    const names = [...entries.values()].filter((e) => e.state === 'active' && !e.isPrivate).map((e) => e.name).sort();
    return names.slice(offset, limit === undefined ? undefined : offset + limit);
  }

  function resourceShow(params: Dict, caller: Caller): unknown {
    const id = asString(params.id);
    if (id === undefined || id === '') throw validation({ id: ['Missing value'] });
    const found = findResource(id);
    if (!found) throw notFound('Resource was not found.');
    if (!canRead(caller, found.entry)) throw notAuthorized(`User ${userName(caller)} not authorized to read resource ${id}`);
    return found.resource;
  }

  function userDict(user: User, caller: Caller): Dict {
    const d: Dict = {
      id: user.id, name: user.name, fullname: user.fullname, display_name: user.fullname, about: null, created: user.created,
      state: 'active', sysadmin: user.sysadmin, email_hash: createHash('md5').update(user.email.trim().toLowerCase()).digest('hex'),
      number_created_packages: [...entries.values()].filter((e) => e.creatorUserId === user.id && e.state === 'active' && !e.isPrivate).length,
      image_url: '', image_display_url: '', activity_streams_email_notifications: false, last_active: null,
    };
    // email only for the user themselves or a sysadmin (`user_dictize`, §6).
    if (caller.user && (caller.user.sysadmin || caller.user.id === user.id)) d.email = user.email;
    return d;
  }

  function userShow(params: Dict, caller: Caller): unknown {
    const id = asString(params.id);
    let user: User | undefined;
    if (id === undefined || id === '') user = caller.user;
    else user = users.get(id) ?? users.get(userByName.get(id) ?? '');
    if (!user) throw notFound(id === undefined || id === '' ? undefined : 'User not found');
    return userDict(user, caller);
  }

  function findOrg(params: Dict): Org {
    const id = asString(params.id);
    if (id === undefined || id === '') throw validation({ id: ['Missing value'] });
    const org = orgs.get(id) ?? orgs.get(orgByName.get(id) ?? '');
    if (!org) throw notFound('Group not found');
    return org;
  }

  function orgMembers(org: Org): { user: User; capacity: Capacity }[] {
    const out: { user: User; capacity: Capacity }[] = [];
    for (const user of users.values()) {
      const capacity = user.memberships.get(org.name) ?? user.memberships.get(org.id);
      if (capacity) out.push({ user, capacity });
    }
    return out;
  }

  function organizationShow(params: Dict, caller: Caller): unknown {
    const org = findOrg(params);
    const datasets = [...entries.values()].filter((e) => (e.ownerOrg === org.id || e.orgName === org.name) && e.state === 'active' && (!e.isPrivate || canRead(caller, e)));
    const result: Dict = {
      ...org.dict, display_name: org.dict.title, image_display_url: org.dict.image_url, package_count: datasets.length,
      extras: [], tags: [], groups: [], num_followers: 0,
    };
    if (params.include_users === undefined || asBool(params.include_users)) {
      result.users = orgMembers(org).map(({ user, capacity }) => ({ ...userDict(user, caller), capacity }));
    }
    if (asBool(params.include_datasets)) result.packages = datasets.slice(0, 10).map((e) => e.dict);
    return result;
  }

  function memberList(params: Dict): unknown {
    const org = findOrg(params);
    const objectType = asString(params.object_type);
    const capacity = asString(params.capacity);
    const out: [string, string, string][] = [];
    // Capacities go through CKAN's role translation ("Admin"), unlike organization_show (§6).
    const label = (c: string): string => c.charAt(0).toUpperCase() + c.slice(1);
    if (objectType === undefined || objectType === 'user') {
      for (const m of orgMembers(org)) if (capacity === undefined || capacity === m.capacity) out.push([m.user.id, 'user', label(m.capacity)]);
    }
    if (objectType === 'package') {
      for (const e of entries.values()) if (e.ownerOrg === org.id && e.state === 'active') out.push([e.id, 'package', 'organization']);
    }
    return out;
  }

  function packagePatch(params: Dict, caller: Caller): RawJson {
    const id = asString(params.id) ?? asString(params.name);
    if (id === undefined || id === '') throw validation({ id: ['Missing value'] });
    const e = findEntry(id);
    if (!e) throw notFound();
    if (!canRead(caller, e)) throw notAuthorized(`User ${userName(caller)} not authorized to read package ${e.id}`);
    if (!canEdit(caller, e)) throw notAuthorized(`User ${userName(caller)} not authorized to edit package ${e.id}`);
    const patch: Dict = { ...params };
    delete patch.id;
    validatePatch(e, patch);
    return new RawJson([entryJson(patchEntry(e, patch))]);
  }

  function datastoreSearch(params: Dict, caller: Caller, url: URL, method: string): RawJson {
    const id = asString(params.resource_id) ?? asString(params.id);
    if (id === undefined || id === '') throw validation({ resource_id: ['Missing value'] });
    const found = findResource(id);
    const table = found ? tableOf(id, found.resource) : undefined;
    if (!found || !table) throw notFound(`Resource "${id}" was not found.`);
    if (!canRead(caller, found.entry)) throw notAuthorized(`User ${userName(caller)} not authorized to read resource ${id}`);
    // Default 100, clamped to 32000; the response shows the clamped value (§8.1).
    const limit = Math.min(32000, natural(params, 'limit', 100));
    const offset = natural(params, 'offset', 0);
    let rows = table.records.map((r, i) => ({ _id: i + 1, ...r }));
    const filters = jsonParam(params.filters);
    if (isObject(filters)) {
      rows = rows.filter((r) => Object.entries(filters).every(([k, v]) => (Array.isArray(v) ? v : [v]).some((x) => String((r as Dict)[k]) === String(x))));
    }
    const q = asString(params.q);
    if (q !== undefined && q !== '') {
      const needle = q.toLowerCase();
      rows = rows.filter((r) => Object.values(r).some((v) => String(v).toLowerCase().includes(needle)));
    }
    const sortText = asString(params.sort);
    if (sortText !== undefined && sortText.trim() !== '') {
      const sortKeys = sortText.split(',').map((s) => {
        const m = /^\s*"?([^"]+?)"?(?:\s+(asc|desc))?\s*$/i.exec(s);
        const field = m?.[1];
        if (!field || (field !== '_id' && !table.fields.some((f) => f.id === field))) throw validation({ sort: [`field "${s.trim()}" not in table`] });
        return { field, desc: m?.[2]?.toLowerCase() === 'desc' };
      });
      rows.sort((a, b) => {
        for (const k of sortKeys) {
          const va = (a as Dict)[k.field] as string | number;
          const vb = (b as Dict)[k.field] as string | number;
          if (va !== vb) return (va < vb ? -1 : 1) * (k.desc ? -1 : 1);
        }
        return a._id - b._id;
      });
    }
    const fieldsParam = jsonParam(params.fields);
    const wanted = Array.isArray(fieldsParam) ? fieldsParam.map(String) : typeof fieldsParam === 'string' ? fieldsParam.split(',').map((s) => s.trim()) : undefined;
    const allFields = [{ id: '_id', type: 'int' }, ...table.fields];
    const fields = wanted === undefined ? allFields : allFields.filter((f) => wanted.includes(f.id));
    const format = asString(params.records_format) ?? 'objects';
    const pageRows = rows.slice(offset, offset + limit);
    const records = format === 'lists'
      ? pageRows.map((r) => fields.map((f) => (r as Dict)[f.id] ?? null))
      : pageRows.map((r) => Object.fromEntries(fields.map((f) => [f.id, (r as Dict)[f.id] ?? null])));
    // _links are relative and rebuilt from the request; `next` is always there (§8.1).
    const base = url.pathname.replace(API_PATH, (_m, _locale, action: string) => `/api/3/action/${action}`);
    const query = new URLSearchParams(method === 'GET' ? url.search : '');
    query.delete('offset');
    const startLink = query.size > 0 ? `${base}?${query.toString()}` : base;
    query.set('offset', String(offset + limit));
    const includeTotal = params.include_total === undefined || asBool(params.include_total);
    const head: Dict = { include_total: includeTotal, limit, records_format: format, resource_id: id, total_estimation_threshold: null };
    const tail: Dict = { fields, _links: { start: startLink, next: `${base}?${query.toString()}` } };
    if (includeTotal) {
      tail.total = rows.length;
      tail.total_was_estimated = false;
    }
    const headJson = JSON.stringify(head);
    const tailJson = JSON.stringify(tail);
    // The records array is embedded raw, compact (PostgreSQL's array_to_json, §8.1).
    return new RawJson([headJson.slice(0, -1), ', "records": ', JSON.stringify(records), ', ', tailJson.slice(1)]);
  }

  function statusShow(): unknown {
    return {
      site_title: 'CKAN emulator', site_description: 'Local CKAN for ckan-zenodo-sync tests', site_url: siteUrl,
      ckan_version: ckanVersion === '2.9' ? '2.9.11' : ckanVersion === '2.10' ? '2.10.9' : '2.11.5', error_emails_to: null,
      locale_default: 'en', extensions: ['datastore', 'activity'],
    };
  }

  type Handler = (params: Dict, caller: Caller, url: URL, method: string) => unknown;
  const actions: Record<string, { read: boolean; handler: Handler }> = {
    package_search: { read: true, handler: packageSearch },
    package_show: { read: true, handler: packageShow },
    package_list: { read: true, handler: packageList },
    resource_show: { read: true, handler: resourceShow },
    user_show: { read: true, handler: userShow },
    organization_show: { read: true, handler: organizationShow },
    member_list: { read: true, handler: memberList },
    package_patch: { read: false, handler: packagePatch },
    datastore_search: { read: true, handler: datastoreSearch },
    status_show: { read: true, handler: statusShow },
  };

  // ---------------------------------------------------------------------------- HTTP plumbing

  function callerOf(req: IncomingMessage): Caller {
    // Raw token, no "Bearer" parsing (§2.1); 2.11 no longer reads X-CKAN-API-Key by default.
    const candidates: (string | string[] | undefined)[] = ckanVersion === '2.11'
      ? [req.headers.authorization]
      : [req.headers['x-ckan-api-key'], req.headers.authorization];
    for (const c of candidates) {
      const token = Array.isArray(c) ? c[0] : c;
      if (token === undefined || token === '') continue;
      const name = tokens.get(token);
      // An unknown token is not an error: the request simply runs as anonymous (§2.1).
      if (name !== undefined) return { user: users.get(userByName.get(name) ?? '') };
    }
    return { user: undefined };
  }

  async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of req) {
      const b = chunk as Buffer;
      total += b.length;
      if (total > limit) throw new BareError(413, 'Request body too large');
      chunks.push(b);
    }
    return Buffer.concat(chunks);
  }

  async function requestParams(req: IncomingMessage, url: URL): Promise<Dict> {
    const params: Dict = {};
    if (req.method === 'GET' || req.method === 'HEAD') {
      for (const key of new Set(url.searchParams.keys())) {
        const all = url.searchParams.getAll(key);
        // A repeated key becomes a list (`mixed()` in views/api.py, §1.3).
        params[key] = all.length === 1 ? all[0] : all;
      }
      return params;
    }
    const body = await readBody(req, MAX_JSON_BODY);
    const type = String(req.headers['content-type'] ?? '');
    if (type.includes('application/x-www-form-urlencoded')) {
      for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
      return params;
    }
    if (body.length === 0) return params;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new BareError(400, 'Bad request - JSON Error: Error decoding JSON data. Error: "Expecting value" ');
    }
    if (!isObject(parsed)) throw new BareError(400, 'Bad request - JSON Error: Request data JSON decoded to "" but it needs to be a dictionary.');
    return parsed;
  }

  function helpUrl(locale: string | undefined, action: string): string {
    return `${siteUrl}${locale ? `/${locale}` : ''}/api/3/action/help_show?name=${encodeURIComponent(action)}`;
  }

  function envelope(status: number, help: string, payload: { result: unknown } | { error: Dict }, callback?: string): Reply {
    const head = `{"help": ${JSON.stringify(help)}, "success": ${'result' in payload ? 'true' : 'false'}, `;
    let pieces: (string | Buffer)[];
    if ('result' in payload) {
      pieces = payload.result instanceof RawJson ? [head, '"result": ', ...payload.result.pieces, '}'] : [head, '"result": ', JSON.stringify(payload.result), '}'];
    } else pieces = [head, '"error": ', JSON.stringify(payload.error), '}'];
    if (callback !== undefined && status === 200 && /^[\w.$]+$/.test(callback)) {
      return { status, headers: { 'content-type': 'application/javascript;charset=utf-8' }, body: [`${callback}(`, ...pieces, ');'] };
    }
    return { status, headers: { 'content-type': JSON_TYPE }, body: pieces };
  }

  async function apiReply(req: IncomingMessage, url: URL, locale: string | undefined, actionName: string): Promise<Reply> {
    const def = Object.hasOwn(actions, actionName) ? actions[actionName] : undefined;
    if (!def) return { status: 400, headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(`Bad request - Action name not known: ${actionName}`) };
    const help = helpUrl(locale, actionName);
    try {
      if (req.method !== 'POST' && !def.read) throw new BareError(400, POST_ONLY);
      if (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'HEAD') throw new BareError(400, POST_ONLY);
      const params = await requestParams(req, url);
      const caller = callerOf(req);
      const callback = req.method === 'GET' ? asString(params.callback) : undefined;
      delete params.callback;
      if (actionName !== 'package_search') delete params._;
      const result = def.handler(params, caller, url, req.method ?? 'GET');
      return envelope(200, help, { result }, callback);
    } catch (error) {
      if (error instanceof BareError) return { status: error.status, headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(error.body) };
      if (error instanceof ApiError) return envelope(error.status, help, { error: error.error });
      log.error({ err: error, action: actionName }, 'CKAN emulator action failed');
      return envelope(500, help, { error: { __type: 'Internal Server Error', message: 'Internal Server Error' } });
    }
  }

  function downloadReply(req: IncomingMessage, datasetRef: string, resourceId: string, caller: Caller): Reply {
    const found = findResource(resourceId);
    const entry = findEntry(decodeURIComponent(datasetRef));
    // Errors here are HTML pages, not JSON (`views/resource.py` download, §5.1).
    if (!found || !entry || found.entry.id !== entry.id) return htmlPage(404, 'Not Found', 'Resource not found');
    if (!canRead(caller, found.entry)) return htmlPage(403, 'Forbidden', 'Not authorized to download resource');
    const resource = found.resource;
    if (resource.url_type !== 'upload') {
      const target = typeof resource.url === 'string' ? resource.url : '';
      if (target === '') return htmlPage(404, 'Not Found', 'No download is available');
      return { status: 302, headers: { location: target, 'content-type': 'text/html; charset=utf-8' }, body: `<a href="${target}">redirect</a>` };
    }
    const filename = decodeURIComponent(new URL(String(resource.url)).pathname.split('/').pop() ?? 'file');
    const headers = { 'content-type': guessContentType(resource, filename), 'last-modified': new Date(found.entry.modifiedMs).toUTCString() };
    const content = contentOf(resourceId, resource);
    const head = req.method === 'HEAD';
    switch (content.kind) {
      case 'buffer':
        return { status: 200, headers, body: head ? '' : content.data, length: content.data.length };
      case 'file':
        return { status: 200, headers, stream: head ? undefined : createReadStream(content.path), length: content.size };
      case 'generated':
        return { status: 200, headers, stream: head ? undefined : generatedContent(content.seed, content.size), length: content.size };
    }
  }

  function dumpReply(url: URL, resourceId: string, caller: Caller): Reply {
    const found = findResource(resourceId);
    const table = found ? tableOf(resourceId, found.resource) : undefined;
    // 2.10+: not found and not authorised both answer 404 (§8.2).
    if (!found || !table || !canRead(caller, found.entry)) return htmlPage(404, 'Not Found', 'DataStore resource not found');
    const format = (url.searchParams.get('format') ?? 'csv').toLowerCase();
    if (format !== 'csv' && format !== 'tsv' && format !== 'json') return htmlPage(400, 'Bad Request', `format: must be one of csv, tsv, json`);
    const bom = asBool(url.searchParams.get('bom') ?? '');
    const fieldIds = ['_id', ...table.fields.map((f) => f.id)];
    const records = table.records;
    const sep = format === 'tsv' ? '\t' : ',';
    function* lines(): Generator<string> {
      if (format === 'json') {
        yield `{"fields": ${JSON.stringify([{ id: '_id', type: 'int' }, ...table!.fields])}, "records": [`;
        for (let i = 0; i < records.length; i++) yield `${i === 0 ? '' : ','}${JSON.stringify(fieldIds.map((f, j) => (j === 0 ? i + 1 : (records[i]![f] ?? null))))}`;
        yield ']}\n';
        return;
      }
      yield `${bom ? '\uFEFF' : ''}${fieldIds.map((f) => csvCell(f, sep)).join(sep)}\r\n`;
      // Batches like CKAN's pages of datastore_search, so the body goes out in chunks.
      for (let i = 0; i < records.length; i += 500) {
        let batch = '';
        for (let j = i; j < Math.min(records.length, i + 500); j++) {
          batch += `${fieldIds.map((f, k) => csvCell(k === 0 ? j + 1 : records[j]![f], sep)).join(sep)}\r\n`;
        }
        yield batch;
      }
    }
    const type = format === 'json' ? 'application/json; charset=utf-8' : format === 'tsv' ? 'text/tab-separated-values; charset=utf-8' : 'text/csv; charset=utf-8';
    return {
      status: 200,
      headers: { 'content-type': type, 'content-disposition': `attachment; filename="${resourceId}.${format}"` },
      stream: Readable.from(lines()),
    };
  }

  /** Writes with backpressure; returns false if the client went away. */
  async function writeChunk(res: ServerResponse, chunk: Buffer | string): Promise<boolean> {
    if (res.destroyed) return false;
    if (res.write(chunk)) return true;
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(ok);
      };
      const onDrain = (): void => done(true);
      const onClose = (): void => done(false);
      res.on('drain', onDrain);
      res.on('close', onClose);
    });
  }

  async function send(req: IncomingMessage, res: ServerResponse, reply: Reply, fault: FaultAction | undefined): Promise<number> {
    const headers = { ...reply.headers };
    let parts: Buffer[] | undefined;
    let length = reply.length;
    if (reply.body !== undefined) {
      const list = Array.isArray(reply.body) ? reply.body : [reply.body];
      parts = list.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p));
      length ??= parts.reduce((n, p) => n + p.length, 0);
    }
    if (length !== undefined) headers['content-length'] = String(length);
    res.writeHead(reply.status, headers);
    if (req.method === 'HEAD') {
      reply.stream?.destroy();
      res.end();
      return reply.status;
    }
    // The truncated-transfer fault: promise the whole length, deliver a prefix, cut the connection.
    const cut = fault?.type === 'truncate';
    const budget = cut ? Math.floor((length ?? 64 * 1024) * fault.fraction) : Infinity;
    let sent = 0;
    const source: AsyncIterable<Buffer | string> | Iterable<Buffer> = parts ?? reply.stream ?? [];
    try {
      for await (const chunk of source) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        const room = budget - sent;
        const piece = buf.length > room ? buf.subarray(0, room) : buf;
        if (piece.length > 0 && !(await writeChunk(res, piece))) return 0;
        sent += piece.length;
        if (sent >= budget) break;
      }
    } finally {
      reply.stream?.destroy();
    }
    if (cut) {
      // Flush what was written, then close without finishing the body (no final chunk either).
      res.socket?.destroySoon();
      return 0;
    }
    res.end();
    return reply.status;
  }

  // ---------------------------------------------------------------------------- test API

  async function emulatorApi(req: IncomingMessage, url: URL): Promise<Reply> {
    const parts = url.pathname.split('/').filter((p) => p !== '').slice(1).map(decodeURIComponent);
    const json = (status: number, value: unknown): Reply => ({ status, headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(value) });
    const bodyJson = async (): Promise<unknown> => {
      const body = await readBody(req, MAX_JSON_BODY);
      return body.length === 0 ? undefined : JSON.parse(body.toString('utf8'));
    };
    try {
      const [kind, id, sub] = parts;
      if (kind === 'datasets' && id === undefined) {
        if (req.method === 'GET') return json(200, [...entries.values()].map((e) => e.dict));
        if (req.method === 'POST') {
          const value = await bodyJson();
          const added = (Array.isArray(value) ? value : [value]).map((d) => addDataset(d as object));
          return json(201, Array.isArray(value) ? added : added[0]);
        }
      }
      if (kind === 'datasets' && id !== undefined && sub === undefined) {
        if (req.method === 'GET') {
          const d = findEntry(id);
          return d ? json(200, d.dict) : json(404, { error: `no dataset ${id}` });
        }
        if (!findEntry(id)) return json(404, { error: `no dataset ${id}` });
        if (req.method === 'PATCH') return json(200, updateDataset(id, (await bodyJson()) as object));
        if (req.method === 'DELETE') {
          deleteDataset(id, { purge: asBool(url.searchParams.get('purge') ?? '') });
          return { status: 204, headers: {}, body: '' };
        }
      }
      if (kind === 'datasets' && id !== undefined && sub === 'resources' && parts[3] !== undefined && req.method === 'PATCH') {
        if (!findEntry(id)) return json(404, { error: `no dataset ${id}` });
        return json(200, updateResource(id, parts[3], (await bodyJson()) as object));
      }
      if (kind === 'resources' && id !== undefined && sub === 'content' && req.method === 'PUT') {
        if (!findResource(id)) return json(404, { error: `no resource ${id}` });
        const isJson = String(req.headers['content-type'] ?? '').includes('application/json');
        const content: ResourceContent = isJson ? ((await bodyJson()) as { size: number; seed?: string }) : await readBody(req, 512 * 1024 * 1024);
        return json(200, setResourceContent(id, content));
      }
      if (kind === 'datastore' && id !== undefined && req.method === 'PUT') {
        if (!findResource(id)) return json(404, { error: `no resource ${id}` });
        setDatastoreTable(id, (await bodyJson()) as DatastoreTable);
        return { status: 204, headers: {}, body: '' };
      }
      if (kind === 'faults' && id === undefined && (req.method === 'POST' || req.method === 'PUT')) {
        const isJson = String(req.headers['content-type'] ?? '').includes('application/json');
        const value = isJson ? await bodyJson() : (await readBody(req, 1 << 20)).toString('utf8');
        const specs = typeof value === 'string'
          ? parseFaultSpec(value, ckanRoutes)
          : (Array.isArray(value) ? value : isObject(value) && Array.isArray(value.faults) ? value.faults : []).map((f) => validateFaultSpec(f as FaultSpec, ckanRoutes));
        faults.set(specs);
        return json(200, { faults: faults.specs });
      }
      if (kind === 'requests' && id === undefined) {
        if (req.method === 'GET') return json(200, requests);
        if (req.method === 'DELETE') {
          requests.length = 0;
          return { status: 204, headers: {}, body: '' };
        }
      }
      return json(404, { error: `unknown emulator route ${req.method ?? ''} ${url.pathname}` });
    } catch (error) {
      if (error instanceof ApiError) return json(409, error.error);
      return json(400, { error: (error as Error).message });
    }
  }

  // ---------------------------------------------------------------------------- server

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const path = url.pathname;
    const entry: CkanRequestLogEntry = { method: req.method ?? 'GET', path, status: 0 };
    requests.push(entry);
    if (path.startsWith('/__emulator/')) {
      entry.status = await send(req, res, await emulatorApi(req, url), undefined);
      return;
    }
    const api = API_PATH.exec(path);
    const download = api ? undefined : DOWNLOAD_PATH.exec(path);
    const dump = api || download ? undefined : DUMP_PATH.exec(path);
    const route = api ? api[2]! : download ? 'download' : dump ? 'dump' : undefined;
    if (api) entry.action = api[2]!;
    const fault = route === undefined ? undefined : faults.decide(route);
    if (fault?.type === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.type === 'status') {
      req.resume();
      const headers: Record<string, string> = {};
      if (fault.status === 429) headers['retry-after'] = String(fault.retryAfterSeconds);
      const page = htmlPage(fault.status, `${fault.status} ${STATUS_TEXT[fault.status] ?? 'Error'}`, 'Injected fault');
      entry.status = await send(req, res, { ...page, headers: { ...page.headers, ...headers } }, undefined);
      return;
    }
    if (fault?.type === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    let reply: Reply;
    const caller = callerOf(req);
    if (api) reply = await apiReply(req, url, api[1], api[2]!);
    else if (download) reply = downloadReply(req, download[1]!, decodeURIComponent(download[2]!), caller);
    else if (dump) reply = dumpReply(url, decodeURIComponent(dump[1]!), caller);
    else reply = htmlPage(404, 'Not Found', 'The requested URL was not found on the server.');
    if (fault?.type === 'status-after') {
      // The action ran (a patch is applied), but the client only sees the gateway error.
      reply.stream?.destroy();
      reply = htmlPage(fault.status, `${fault.status} ${STATUS_TEXT[fault.status] ?? 'Error'}`, 'Injected fault');
    }
    entry.status = await send(req, res, reply, fault);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: error }, 'CKAN emulator request failed');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('Internal Server Error');
      } else res.destroy();
    });
  });
  // Multi-GiB downloads must not be cut by Node's default request timeout.
  server.requestTimeout = 0;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = opts.host ?? '127.0.0.1';
  // Read outside the callbacks: a closure over `opts` would keep the caller's datasets alive.
  const listenPort = opts.port ?? 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  siteUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  async function close(): Promise<void> {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  }

  // ---------------------------------------------------------------------------- seeding

  function setDatastoreTable(resourceId: string, table: DatastoreTable): void {
    if (!findResource(resourceId)) throw new Error(`no resource "${resourceId}" in the CKAN emulator`);
    if (!isObject(table) || !Array.isArray(table.fields) || !Array.isArray(table.records)) throw new Error('a table needs fields[] and records[]');
    tables.set(resourceId, { fields: table.fields.filter((f) => f.id !== '_id'), records: table.records });
  }

  try {
    for (const spec of opts.users ?? []) addUser(spec);
    const tokenSpecs = opts.tokens ?? { 'ckan-test-token': { user: 'archiver', sysadmin: true } };
    for (const [token, spec] of Object.entries(tokenSpecs)) {
      const user = addUser({ name: spec.user, ...(spec.sysadmin === undefined ? {} : { sysadmin: spec.sysadmin }) });
      tokens.set(token, user.name);
    }
    if (opts.seedDir !== undefined) await loadSeedDir(opts.seedDir);
    for (const d of opts.datasets ?? []) insert(d);
  } catch (error) {
    await close();
    throw error;
  }

  async function loadSeedDir(dir: string): Promise<void> {
    const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
    for (const name of names) {
      const file = join(dir, name);
      let value: unknown;
      try {
        value = JSON.parse(await readFile(file, 'utf8'));
      } catch (error) {
        log.warn({ file, err: (error as Error).message }, 'CKAN emulator: skipping seed file that is not valid JSON');
        continue;
      }
      const { datasets, users: seedUsers } = classifySeed(value);
      for (const u of seedUsers) if (isObject(u) && typeof u.name === 'string') addUser(u as unknown as CkanUserSpec);
      if (datasets.length === 0 && seedUsers.length === 0) {
        log.info({ file }, 'CKAN emulator: seed file holds no dataset (e.g. a datastore_search response); skipped');
        continue;
      }
      let loaded = 0;
      for (const d of datasets) {
        try {
          insert(d);
          loaded++;
        } catch (error) {
          log.warn({ file, err: (error as Error).message }, 'CKAN emulator: skipping a dataset of a seed file');
        }
      }
      log.info({ file, datasets: loaded }, 'CKAN emulator: seed file loaded');
    }
    const filesDir = join(dir, 'files');
    let files: string[] = [];
    try {
      files = await readdir(filesDir);
    } catch {
      return;
    }
    seedFilesDir = filesDir;
    for (const rid of files) {
      const path = join(seedFilesDir, rid);
      let st: Stats;
      try {
        st = await stat(path);
      } catch {
        continue;
      }
      const found = findResource(rid);
      if (!st.isFile() || !found) continue;
      contents.set(rid, { kind: 'file', path, size: st.size });
      if (found.resource.size !== st.size) {
        const resources = (found.entry.dict.resources as ReadonlyDict[]).map((r) => (r.id === rid ? { ...r, size: st.size } : r));
        index(normalize({ ...found.entry.dict, resources }, found.entry.dict));
      }
    }
  }

  return {
    url: siteUrl,
    close,
    setFaults: (specs) => faults.set(specs.map((f) => validateFaultSpec(f, ckanRoutes))),
    requests,
    addDataset,
    updateDataset,
    updateResource,
    deleteDataset,
    setResourceContent,
    setDatastoreTable,
    getDataset: (idOrName) => findEntry(idOrName)?.dict,
    datasets: () => [...entries.values()].map((e) => e.dict),
  };
}

/** Core package fields: an extra with one of these keys fails validation (§4.1). */
const ROOT_SCHEMA_KEYS = new Set([
  'id', 'name', 'title', 'author', 'author_email', 'maintainer', 'maintainer_email', 'license_id', 'notes', 'url',
  'version', 'state', 'type', 'owner_org', 'private', 'tags', 'extras', 'resources', 'groups', 'metadata_created',
  'metadata_modified', 'creator_user_id', 'relationships_as_object', 'relationships_as_subject',
]);

/**
 * The bundled sample datasets (src/emulators/samples). JSON is not copied into dist by tsc, so a
 * build run from dist looks for them in the package's src directory.
 */
export function samplesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '../samples'), join(here, '../../../src/emulators/samples')];
  return candidates.find((c) => existsSync(join(c, 'users.json'))) ?? candidates[0]!;
}

/** Which datasets (and users) a seed JSON value holds: bare dict, show or search envelope, list. */
export function classifySeed(value: unknown): { datasets: Dict[]; users: unknown[] } {
  const looksLikeDataset = (v: unknown): v is Dict => isObject(v) && typeof v.id === 'string' && (typeof v.name === 'string' || Array.isArray(v.resources));
  if (Array.isArray(value)) return { datasets: value.filter(looksLikeDataset), users: [] };
  if (!isObject(value)) return { datasets: [], users: [] };
  if (Array.isArray(value.users) && !('id' in value)) return { datasets: Array.isArray(value.datasets) ? value.datasets.filter(looksLikeDataset) : [], users: value.users };
  const result = 'result' in value ? value.result : value;
  if (isObject(result) && Array.isArray(result.results)) return { datasets: result.results.filter(looksLikeDataset), users: [] };
  if (looksLikeDataset(result)) return { datasets: [result], users: [] };
  return { datasets: [], users: [] };
}
