/**
 * A local Zenodo: the legacy deposit API (`/api/deposit/depositions`, buckets, records) as Zenodo
 * runs it today on InvenioRDM, i.e. the "legacy shim" (reference zenodo-api.md §0-§8). Tests,
 * benchmarks and `demo` run the real client against it over loopback HTTP.
 *
 * File content is streamed to a temp directory (md5 computed on the way), never held in memory, so
 * multi-GiB uploads can be checked by checksum. Rate limits follow §8, fault injection follows
 * src/emulators/faults.ts. Statements marked UNVERIFIED in the reference (§13) follow its best guess
 * and say so where they are implemented.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createFaultInjector, validateFaultSpec, type FaultAction, type FaultSpec } from '../faults.js';
import { createRateLimiter, type RateLimit } from './rate-limit.js';
import {
  deserializeDeposition, guessMimetype, publishErrors, secureFilename, todayUtc,
  type FieldError, type LegacyMetadata,
} from './metadata.js';

export const zenodoRoutes = [
  'create', 'get', 'list', 'update', 'upload', 'files', 'publish', 'edit', 'discard', 'newversion', 'records',
] as const;
export type ZenodoRoute = (typeof zenodoRoutes)[number];
export type ZenodoFaultSpec = FaultSpec<ZenodoRoute>;

export interface ZenodoEmulatorOptions {
  port?: number;
  host?: string;
  /** Valid tokens; each one is a separate user (owner id = index + 1). Default `['test-token']`. */
  tokens?: string[];
  /** DOIs with the 10.5072 test prefix, like sandbox.zenodo.org (§9). */
  sandbox?: boolean;
  /** Per token. Default 100/min and 5000/h (§8); `false` disables limits and their headers. */
  rateLimit?: RateLimit | false;
  /** Per client address, for requests without a valid token. Default 133/min and 8000/h (§8). */
  guestRateLimit?: RateLimit;
  faults?: FaultSpec[];
  /** Seed of the fault dice (default 1): same seed + same request order = same faults. */
  faultSeed?: number;
  /** Per-deposition bucket quota in bytes. Default 50 GB (§7). */
  quotaBytes?: number;
  /** Default 100 (§7). */
  maxFiles?: number;
  /** Default 50 GB (§7). */
  maxFileBytes?: number;
  /** Where file content is kept; default a fresh temp directory removed by `close()`. */
  dataDir?: string;
  /** Clock in ms, for rate-limit windows and timestamps. Default `Date.now`. */
  now?: () => number;
  /** First id handed out; a first deposit gets conceptrecid = N and id = N + 1. Default 100000. */
  firstId?: number;
}

export interface FileView {
  /** FileInstance id: the deposition-file `id`; shared with the versions the file was carried into. */
  id: string;
  key: string;
  size: number;
  /** Bare md5 hex. */
  md5: string;
  /** Path of the content on disk. */
  path: string;
}

export interface DepositionView {
  id: number;
  conceptrecid: string;
  owner: number;
  state: 'unsubmitted' | 'inprogress' | 'done';
  submitted: boolean;
  doi?: string;
  conceptdoi?: string;
  /** What GET returns: the draft's metadata if there is a draft, else the published one. */
  metadata: LegacyMetadata;
  version?: string;
  bucketId: string;
  files: FileView[];
  /** The published record behind this id, if any. */
  published?: { doi: string; metadata: LegacyMetadata; bucketId: string; files: FileView[]; publishedAt: string };
}

export interface RecordView {
  id: number;
  conceptrecid: string;
  doi: string;
  conceptdoi: string;
  metadata: LegacyMetadata;
  version?: string;
  bucketId: string;
  files: FileView[];
  publishedAt: string;
  latest: boolean;
}

export interface ConceptView {
  conceptrecid: string;
  conceptdoi?: string;
  /** Published version ids, oldest first. */
  versions: number[];
  pendingDraftId?: number;
}

export interface BucketView {
  id: string;
  depositionId: number;
  locked: boolean;
  files: FileView[];
}

export interface ZenodoEmulatorState {
  depositions: DepositionView[];
  records: RecordView[];
  concepts: ConceptView[];
  buckets: BucketView[];
}

export interface RequestLogEntry {
  method: string;
  /** Path without the query string (so tokens given as `?access_token=` never land in logs). */
  path: string;
  route: ZenodoRoute | undefined;
  /** 0 when the connection was reset by a fault. */
  status: number;
  at: number;
}

export interface ZenodoEmulator {
  /** `http://127.0.0.1:N`, no trailing slash; the API is under `${url}/api`. */
  readonly url: string;
  close(): Promise<void>;
  setFaults(faults: FaultSpec[]): void;
  setRateLimit(limit: RateLimit | false): void;
  /** A fresh deep copy on every read. */
  readonly state: ZenodoEmulatorState;
  readonly requests: readonly RequestLogEntry[];
  /** Forgets all depositions, files, the request log and rate-limit windows; ids start over. */
  reset(): void;
}

// ------------------------------------------------------------------------------------------------

interface StoredFile {
  id: string;
  key: string;
  size: number;
  md5: string;
  path: string;
  mimetype: string;
  versionId: string;
  created: string;
  updated: string;
}

interface Bucket {
  id: string;
  depositionId: number;
  locked: boolean;
  files: StoredFile[];
}

interface Draft {
  kind: 'new' | 'edit';
  metadata: LegacyMetadata;
  bucketId: string;
}

interface Published {
  metadata: LegacyMetadata;
  bucketId: string;
  doi: string;
  publishedAt: string;
}

interface Deposition {
  id: number;
  concept: Concept;
  owner: number;
  created: string;
  modified: string;
  revision: number;
  draft?: Draft;
  record?: Published;
}

interface Concept {
  id: number;
  doi?: string;
  versions: number[];
  pendingDraft?: number;
}

interface Store {
  nextId: number;
  depositions: Map<number, Deposition>;
  buckets: Map<string, Bucket>;
}

interface Reply {
  status: number;
  json?: unknown;
  headers?: Record<string, string>;
  file?: { path: string; size: number; contentType: string };
  /** The handler already dealt with a `truncate` fault. */
  truncateHandled?: boolean;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly errors?: FieldError[]) {
    super(message);
  }
}

function validationError(errors: FieldError[]): HttpError {
  return new HttpError(400, 'A validation error occurred.', errors);
}

const MiB = 1024 * 1024;
const multipartLimit = 100 * MiB; // MAX_CONTENT_LENGTH (APPRDM, §2)
const jsonLimit = 10 * MiB;

function isoTime(ms: number): string {
  // Zenodo prints microseconds and +00:00 (§1).
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

interface Ctx {
  req: IncomingMessage;
  url: URL;
  params: string[];
  owner: number | undefined;
  fault: FaultAction | undefined;
}

interface RouteDef {
  method: string;
  pattern: RegExp;
  route: ZenodoRoute;
  handler: (ctx: Ctx) => Promise<Reply> | Reply;
}

export async function startZenodoEmulator(opts: ZenodoEmulatorOptions = {}): Promise<ZenodoEmulator> {
  const now = opts.now ?? Date.now;
  const tokens = opts.tokens ?? ['test-token'];
  const owners = new Map(tokens.map((t, i) => [t, i + 1]));
  const doiPrefix = opts.sandbox ? '10.5072' : '10.5281';
  const quotaBytes = opts.quotaBytes ?? 50 * 10 ** 9;
  const maxFiles = opts.maxFiles ?? 100;
  const maxFileBytes = opts.maxFileBytes ?? 50 * 10 ** 9;
  const firstId = opts.firstId ?? 100000;
  let rateLimit: RateLimit | false = opts.rateLimit === undefined ? { perMinute: 100, perHour: 5000 } : opts.rateLimit;
  const guestLimit = opts.guestRateLimit ?? { perMinute: 133, perHour: 8000 };
  const limiter = createRateLimiter();
  const faults = createFaultInjector((opts.faults ?? []).map((f) => validateFaultSpec(f, zenodoRoutes)), opts.faultSeed ?? 1);
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'zenodo-emulator-')));
  const requests: RequestLogEntry[] = [];
  const sockets = new Set<Socket>();
  let store: Store = { nextId: firstId, depositions: new Map(), buckets: new Map() };
  let base = '';

  const api = (): string => `${base}/api`;

  // --- store helpers ------------------------------------------------------------------------------

  function newBucket(depositionId: number, files: StoredFile[] = [], locked = false): Bucket {
    const bucket: Bucket = { id: randomUUID(), depositionId, locked, files: files.map((f) => ({ ...f })) };
    store.buckets.set(bucket.id, bucket);
    return bucket;
  }

  function bucketOf(id: string): Bucket {
    const bucket = store.buckets.get(id);
    if (!bucket) throw new Error(`emulator invariant: bucket ${id} missing`);
    return bucket;
  }

  /** Removes a bucket and the content no other bucket still references. */
  function dropBucket(id: string): void {
    const bucket = store.buckets.get(id);
    if (!bucket) return;
    store.buckets.delete(id);
    for (const f of bucket.files) releaseContent(f);
  }

  function releaseContent(file: StoredFile): void {
    for (const b of store.buckets.values()) if (b.files.some((f) => f.path === file.path)) return;
    unlink(file.path).catch(() => undefined);
  }

  function currentBucket(dep: Deposition): Bucket {
    return bucketOf(dep.draft?.bucketId ?? dep.record!.bucketId);
  }

  function stateOf(dep: Deposition): 'unsubmitted' | 'inprogress' | 'done' {
    if (dep.draft) return dep.record ? 'inprogress' : 'unsubmitted';
    return 'done';
  }

  function touch(dep: Deposition): void {
    dep.modified = isoTime(now());
    dep.revision += 1;
  }

  function latestVersion(concept: Concept): Deposition | undefined {
    const id = concept.versions[concept.versions.length - 1];
    return id === undefined ? undefined : store.depositions.get(id);
  }

  // --- JSON shapes (§3) ---------------------------------------------------------------------------

  function fileJson(dep: Deposition, f: StoredFile): Record<string, unknown> {
    return {
      id: f.id, filename: f.key, filesize: f.size, checksum: f.md5,
      links: {
        self: `${api()}/deposit/depositions/${dep.id}/files/${f.id}`,
        // Always the draft form, even for published records (ZR:ser dump_files, §3.1).
        download: `${api()}/records/${dep.id}/draft/files/${encodeURIComponent(f.key)}/content`,
      },
    };
  }

  function bucketObjectJson(bucket: Bucket, f: StoredFile): Record<string, unknown> {
    const self = `${api()}/files/${bucket.id}/${encodeURIComponent(f.key)}`;
    return {
      created: f.created, updated: f.updated, version_id: f.versionId, key: f.key, size: f.size,
      mimetype: f.mimetype, checksum: `md5:${f.md5}`, is_head: true, delete_marker: false,
      links: { self, version: `${self}?version_id=${f.versionId}`, uploads: `${self}?uploads=1` },
    };
  }

  function depositionJson(dep: Deposition): Record<string, unknown> {
    const state = stateOf(dep);
    const metadata = dep.draft?.metadata ?? dep.record!.metadata;
    const bucket = currentBucket(dep);
    const doi = dep.record?.doi ?? (typeof metadata.doi === 'string' ? metadata.doi : undefined);
    const conceptdoi = dep.concept.doi;
    const ui = base;
    const deposit = `${api()}/deposit/depositions/${dep.id}`;
    const links: Record<string, string> = {};
    if (state === 'done') {
      // links.self moves to /api/records after publish (Q14).
      links.self = `${api()}/records/${dep.id}`;
      links.html = `${ui}/records/${dep.id}`;
    } else {
      links.self = deposit;
      links.html = `${ui}/deposit/${dep.id}`;
    }
    if (doi) links.doi = `https://doi.org/${doi}`;
    if (state === 'done' && conceptdoi) {
      links.parent_doi = `https://doi.org/${conceptdoi}`;
      links.conceptbadge = `${ui}/badge/doi/${conceptdoi}.svg`;
    }
    links.badge = `${ui}/badge/doi/${doi ?? ''}.svg`;
    links.files = state === 'done' ? `${api()}/records/${dep.id}/files` : `${deposit}/files`;
    links.bucket = `${api()}/files/${bucket.id}`;
    // Always the object's own id, never the concept's pending draft (gh:zenodo/zenodo-rdm#858, Q3).
    links.latest_draft = deposit;
    links.latest_draft_html = `${ui}/deposit/${dep.id}`;
    for (const action of ['publish', 'edit', 'discard', 'newversion']) links[action] = `${deposit}/actions/${action}`;
    if (dep.record) {
      links.record = `${api()}/records/${dep.id}`;
      // UNVERIFIED path (§3.1, §13): the reference's best guess.
      links.record_html = `${ui}/record/${dep.id}`;
      // A redirect endpoint, not a resolved id (Q14).
      links.latest = `${api()}/records/${dep.id}/versions/latest`;
      links.latest_html = `${ui}/records/${dep.id}/latest`;
    }
    const body: Record<string, unknown> = {
      created: dep.created,
      modified: dep.modified,
      id: dep.id,
      record_id: dep.id,
      conceptrecid: String(dep.concept.id),
      owner: dep.owner,
      title: typeof metadata.title === 'string' ? metadata.title : '',
      state,
      submitted: dep.record !== undefined,
      files: bucket.files.map((f) => fileJson(dep, f)),
      // prereserve_doi is hard-coded to 10.5281, even on the sandbox (Q20).
      metadata: { ...clone(metadata), prereserve_doi: { doi: `10.5281/zenodo.${dep.id}`, recid: dep.id } },
      links,
    };
    if (doi) {
      body.doi = doi;
      body.doi_url = `https://doi.org/${doi}`;
      (body.metadata as Record<string, unknown>).doi = doi;
    }
    if (conceptdoi) body.conceptdoi = conceptdoi;
    return body;
  }

  /**
   * GET /api/records/:id. Not described by the reference; modelled on Zenodo's JSON record
   * serializer (legacy-like metadata, `md5:` checksums, `metadata.relations.version`). Clients
   * should rely only on id, conceptrecid, doi, conceptdoi, metadata, files and links.
   */
  function recordJson(dep: Deposition): Record<string, unknown> {
    const rec = dep.record!;
    const concept = dep.concept;
    const index = concept.versions.indexOf(dep.id);
    const isLast = index === concept.versions.length - 1;
    const bucket = bucketOf(rec.bucketId);
    const self = `${api()}/records/${dep.id}`;
    const links: Record<string, string> = {
      self, html: `${base}/records/${dep.id}`, doi: `https://doi.org/${rec.doi}`,
      badge: `${base}/badge/doi/${rec.doi}.svg`, files: `${self}/files`, bucket: `${api()}/files/${rec.bucketId}`,
      latest: `${self}/versions/latest`, latest_html: `${base}/records/${dep.id}/latest`, versions: `${self}/versions`,
    };
    if (concept.doi) {
      links.parent_doi = `https://doi.org/${concept.doi}`;
      links.conceptbadge = `${base}/badge/doi/${concept.doi}.svg`;
    }
    return {
      created: rec.publishedAt, modified: dep.modified, updated: dep.modified,
      id: dep.id, recid: String(dep.id), conceptrecid: String(concept.id),
      doi: rec.doi, conceptdoi: concept.doi, doi_url: `https://doi.org/${rec.doi}`,
      title: typeof rec.metadata.title === 'string' ? rec.metadata.title : '',
      metadata: {
        ...clone(rec.metadata), doi: rec.doi,
        relations: { version: [{ index, is_last: isLast, count: concept.versions.length, parent: { pid_type: 'recid', pid_value: String(concept.id) } }] },
      },
      files: bucket.files.map((f) => ({
        id: f.id, key: f.key, size: f.size, checksum: `md5:${f.md5}`,
        links: { self: `${self}/files/${encodeURIComponent(f.key)}/content` },
      })),
      links, owners: [{ id: dep.owner }], status: 'published', state: 'done', submitted: true, revision: dep.revision,
    };
  }

  // --- access ---------------------------------------------------------------------------------------

  function requireUser(ctx: Ctx): number {
    // RDM answers 403 (not 401) without a valid token; an invalid token is anonymous (§1).
    if (ctx.owner === undefined) throw new HttpError(403, 'Permission denied.');
    return ctx.owner;
  }

  function parseId(text: string | undefined): number {
    const id = Number(text);
    if (!Number.isSafeInteger(id)) throw new HttpError(404, 'The persistent identifier does not exist.');
    return id;
  }

  function ownDeposition(ctx: Ctx, idText: string | undefined): Deposition {
    const user = requireUser(ctx);
    const dep = store.depositions.get(parseId(idText));
    if (!dep) throw new HttpError(404, 'The persistent identifier does not exist.');
    if (dep.owner !== user) throw new HttpError(403, 'Permission denied.');
    return dep;
  }

  /** For PUT/DELETE/publish/files: those need a draft; a published record without one is 404 (ZR:t-flow). */
  function withDraft(dep: Deposition): Draft {
    if (!dep.draft) throw new HttpError(404, 'The persistent identifier does not exist.');
    return dep.draft;
  }

  // --- bodies ---------------------------------------------------------------------------------------

  /**
   * Buffers a small body. Past `limit` the rest is drained, not read into memory, and the answer
   * is 413; the stream is never destroyed, so the client still gets that answer.
   */
  function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let ended = false;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= limit) chunks.push(chunk);
        else chunks.length = 0;
      });
      req.on('end', () => {
        ended = true;
        if (size > limit) reject(new HttpError(413, 'Request Entity Too Large'));
        else resolve(Buffer.concat(chunks));
      });
      req.on('error', reject);
      req.on('close', () => {
        if (!ended) reject(new Error('request aborted'));
      });
    });
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const type = req.headers['content-type'];
    // flask-resources looks the RAW header up in {application/json}: even "; charset=utf-8" is
    // refused (§1, derived; UNVERIFIED in production). No header at all defaults to JSON.
    if (type !== undefined && type !== 'application/json') {
      req.resume();
      throw new HttpError(415, "Invalid 'Content-Type' header. Expected one of: application/json");
    }
    const raw = await readBody(req, jsonLimit);
    if (raw.length === 0) return {};
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch {
      throw new HttpError(400, 'Unable to decode JSON data in request body.');
    }
  }

  // --- deposition handlers --------------------------------------------------------------------------

  async function create(ctx: Ctx): Promise<Reply> {
    const body = await readJson(ctx.req);
    const user = requireUser(ctx);
    const conceptId = store.nextId;
    const id = conceptId + 1;
    const result = deserializeDeposition(body, { now: now(), sandbox: opts.sandbox === true, recid: id });
    if (result.errors.length > 0) throw validationError(result.errors);
    // The concept PID is minted first, so a first deposit has conceptrecid = id - 1 (§3.1).
    store.nextId += 2;
    const time = isoTime(now());
    const dep: Deposition = {
      id, concept: { id: conceptId, versions: [] }, owner: user, created: time, modified: time, revision: 1,
      draft: { kind: 'new', metadata: result.metadata, bucketId: '' },
    };
    dep.draft!.bucketId = newBucket(id).id;
    store.depositions.set(id, dep);
    return { status: 201, json: depositionJson(dep) };
  }

  function get(ctx: Ctx): Reply {
    return { status: 200, json: depositionJson(ownDeposition(ctx, ctx.params[0])) };
  }

  async function update(ctx: Ctx): Promise<Reply> {
    const body = await readJson(ctx.req);
    const dep = ownDeposition(ctx, ctx.params[0]);
    const draft = withDraft(dep);
    const result = deserializeDeposition(body, { now: now(), sandbox: opts.sandbox === true, recid: dep.id });
    if (result.errors.length > 0) throw validationError(result.errors);
    // Full replacement (Q5): fields left out are gone.
    draft.metadata = result.metadata;
    touch(dep);
    return { status: 200, json: depositionJson(dep) };
  }

  /** DELETE and actions/discard are the same handler in the shim (§2, Q16). */
  function discard(ctx: Ctx): Reply {
    ctx.req.resume();
    const dep = ownDeposition(ctx, ctx.params[0]);
    const draft = withDraft(dep);
    dropBucket(draft.bucketId);
    delete dep.draft;
    if (dep.record) {
      touch(dep);
    } else {
      store.depositions.delete(dep.id);
      if (dep.concept.pendingDraft === dep.id) delete dep.concept.pendingDraft;
    }
    return { status: 204 };
  }

  function list(ctx: Ctx): Reply {
    const user = requireUser(ctx);
    const q = ctx.url.searchParams;
    const size = q.has('size') ? Number(q.get('size')) : 25; // default page size derived (§2, §13)
    const page = q.has('page') ? Number(q.get('page')) : 1;
    if (!Number.isInteger(size) || size < 1) throw validationError([{ field: 'size', messages: ['Not a valid integer.'] }]);
    if (size > 100) throw validationError([{ field: 'size', messages: ['Page size cannot be greater than 100.'] }]);
    if (!Number.isInteger(page) || page < 1) throw validationError([{ field: 'page', messages: ['Not a valid integer.'] }]);
    const allVersions = ['1', 'true', ''].includes(q.get('all_versions') ?? 'no');
    let hits = [...store.depositions.values()].filter((d) => d.owner === user);
    if (!allVersions) {
      // Latest published version of each concept, plus every draft. Whether a concept with a
      // pending new-version draft lists both is UNVERIFIED (§2); both are listed here, which is
      // what clients looking for the pending draft (DESIGN: match conceptrecid + unsubmitted) need.
      hits = hits.filter((d) => d.draft !== undefined || latestVersion(d.concept) === d);
    }
    // `status` is accepted by ZR:params but no interpreter was found (UNVERIFIED, §13); the legacy
    // docs' meaning is implemented: draft = has an unpublished draft, published = submitted.
    const status = q.get('status');
    if (status === 'draft') hits = hits.filter((d) => d.draft !== undefined);
    else if (status === 'published') hits = hits.filter((d) => d.record !== undefined);
    const text = (q.get('q') ?? '').trim();
    if (text !== '') hits = hits.filter((d) => matchesQuery(d, text));
    // Legacy docs: sort=bestmatch|mostrecent, a leading "-" for ascending; newest first by default.
    const sort = q.get('sort') ?? 'mostrecent';
    const ascending = sort.startsWith('-');
    hits.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id - b.id));
    if (!ascending) hits.reverse();
    const pageHits = hits.slice((page - 1) * size, page * size);
    // A bare array: no total, no pagination links (ZR:ser LegacyListSchema, §2).
    return { status: 200, json: pageHits.map((d) => depositionJson(d)) };
  }

  /** A small subset of the search syntax: `field:value` terms (AND) and free text on the title. */
  function matchesQuery(dep: Deposition, query: string): boolean {
    const metadata = dep.draft?.metadata ?? dep.record?.metadata ?? {};
    const title = typeof metadata.title === 'string' ? metadata.title.toLowerCase() : '';
    const terms = query.match(/[\w.]+:"[^"]*"|[\w.]+:\S+|"[^"]*"|\S+/g) ?? [];
    return terms.every((term) => {
      const colon = term.indexOf(':');
      const unquote = (s: string): string => s.replace(/^"|"$/g, '');
      if (colon < 0 || term.startsWith('"')) {
        const t = unquote(term).toLowerCase();
        return title.includes(t);
      }
      const field = term.slice(0, colon);
      const value = unquote(term.slice(colon + 1));
      switch (field) {
        case 'conceptrecid':
          return String(dep.concept.id) === value;
        case 'id':
        case 'recid':
          return String(dep.id) === value;
        case 'doi':
          return dep.record?.doi === value;
        case 'conceptdoi':
          return dep.concept.doi === value;
        case 'title':
        case 'metadata.title':
          return title.includes(value.toLowerCase());
        case 'state':
          return stateOf(dep) === value;
        default: {
          const key = field.replace(/^metadata\./, '');
          const v = metadata[key];
          return Array.isArray(v) ? v.map(String).includes(value) : String(v) === value;
        }
      }
    });
  }

  // --- files ----------------------------------------------------------------------------------------

  function findFile(bucket: Bucket, fileId: string | undefined): StoredFile {
    const file = bucket.files.find((f) => f.id === fileId);
    if (!file) throw new HttpError(404, 'File not found.');
    return file;
  }

  function listFiles(ctx: Ctx): Reply {
    const dep = ownDeposition(ctx, ctx.params[0]);
    return { status: 200, json: currentBucket(dep).files.map((f) => fileJson(dep, f)) };
  }

  function getFile(ctx: Ctx): Reply {
    const dep = ownDeposition(ctx, ctx.params[0]);
    return { status: 200, json: fileJson(dep, findFile(currentBucket(dep), ctx.params[1])) };
  }

  function deleteFile(ctx: Ctx): Reply {
    const dep = ownDeposition(ctx, ctx.params[0]);
    // Published without a draft: 403 (ZR:t-flow); an edit draft's bucket is locked (403, UNVERIFIED §4.4).
    if (!dep.draft) throw new HttpError(403, 'Permission denied.');
    const bucket = bucketOf(dep.draft.bucketId);
    if (bucket.locked) throw new HttpError(403, 'Bucket is locked for modifications.');
    const file = findFile(bucket, ctx.params[1]);
    bucket.files = bucket.files.filter((f) => f !== file);
    releaseContent(file);
    touch(dep);
    return { status: 204 };
  }

  function notAllowed(ctx: Ctx): Reply {
    ctx.req.resume();
    ownDeposition(ctx, ctx.params[0]);
    // RDM dropped file sorting and renaming from the legacy API (ZR:t-flow): 405, as Zenodo answers.
    throw new HttpError(405, 'The method is not allowed for the requested URL.');
  }

  /** Checks the limits that Zenodo checks up front from the declared length (RR:xfer, RR:fmeta). */
  function checkLimits(bucket: Bucket, key: string, length: number): void {
    if (length === 0) throw new HttpError(400, 'Empty files are not accepted.');
    if (length > maxFileBytes) throw new HttpError(400, 'File size limit exceeded.');
    const replacing = bucket.files.find((f) => f.key === key);
    if (!replacing && bucket.files.length >= maxFiles) {
      throw new HttpError(400, 'Uploading selected files will result in exceeding the max amount per record.');
    }
    const used = bucket.files.reduce((sum, f) => sum + (f === replacing ? 0 : f.size), 0);
    if (used + length > quotaBytes) throw new HttpError(400, 'Bucket quota exceeded.');
  }

  function storeFile(bucket: Bucket, key: string, content: { path: string; size: number; md5: string }): StoredFile {
    const time = isoTime(now());
    const previous = bucket.files.find((f) => f.key === key);
    const file: StoredFile = {
      id: randomUUID(), key, size: content.size, md5: content.md5, path: content.path, mimetype: guessMimetype(key),
      versionId: randomUUID(), created: time, updated: time,
    };
    // Overwrite = delete the old file, then create the new one (ZR:res _create_or_update_file).
    if (previous) {
      bucket.files = bucket.files.map((f) => (f === previous ? file : f));
      releaseContent(previous);
    } else bucket.files.push(file);
    return file;
  }

  function uploadTarget(ctx: Ctx, bucketId: string | undefined): { bucket: Bucket; dep: Deposition } {
    const user = requireUser(ctx);
    const bucket = bucketId === undefined ? undefined : store.buckets.get(bucketId);
    if (!bucket) throw new HttpError(404, 'Bucket does not exist.');
    const dep = store.depositions.get(bucket.depositionId);
    if (!dep) throw new HttpError(404, 'Bucket does not exist.');
    if (dep.owner !== user) throw new HttpError(403, 'Permission denied.');
    // Published and edit-draft buckets are locked: 403 (legacy; RDM status UNVERIFIED, §7, §13).
    if (bucket.locked) throw new HttpError(403, 'Bucket is locked for modifications.');
    return { bucket, dep };
  }

  async function bucketPut(ctx: Ctx): Promise<Reply> {
    const { req } = ctx;
    const type = req.headers['content-type'];
    if (type !== undefined && type !== 'application/octet-stream') {
      throw new HttpError(415, "Invalid 'Content-Type' header. Expected one of: application/octet-stream");
    }
    let key: string;
    try {
      key = decodeURIComponent(ctx.params[1] ?? '');
    } catch {
      throw new HttpError(400, 'Invalid file key.');
    }
    if (key === '') throw new HttpError(404, 'The requested URL was not found on the server.');
    const { bucket, dep } = uploadTarget(ctx, ctx.params[0]);
    const lengthHeader = req.headers['content-length'];
    // Without Content-Length the WSGI stream is empty, so Zenodo sees an empty file (§7, derived;
    // chunked uploads are UNVERIFIED in production, §13). Refused the same way here.
    const length = lengthHeader === undefined ? 0 : Number(lengthHeader);
    if (!Number.isSafeInteger(length) || length < 0) throw new HttpError(400, 'Invalid Content-Length.');
    checkLimits(bucket, key, length);

    const truncate = ctx.fault?.type === 'truncate' ? ctx.fault : undefined;
    const keep = truncate ? Math.floor(length * truncate.fraction) : length;
    const tmp = join(dataDir, `${randomUUID()}.part`);
    const hash = createHash('md5');
    let received = 0;
    let kept = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        const room = keep - kept;
        if (room <= 0) return done();
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
        kept += part.length;
        hash.update(part);
        done(null, part);
      },
    });
    try {
      await pipeline(req, meter, createWriteStream(tmp));
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
    if (received !== length) {
      await unlink(tmp).catch(() => undefined);
      throw new HttpError(400, 'The file upload transfer failed, please try again.');
    }
    // The deposition may have been published, discarded or edited while the body was streaming.
    if (store.buckets.get(bucket.id) !== bucket || bucket.locked) {
      await unlink(tmp).catch(() => undefined);
      throw new HttpError(403, 'Bucket is locked for modifications.');
    }
    const path = join(dataDir, randomUUID());
    await rename(tmp, path);
    const file = storeFile(bucket, key, { path, size: kept, md5: hash.digest('hex') });
    touch(dep);
    if (truncate) {
      // The "truncated upload" fault: part of the body was stored as if complete, and the gateway
      // answered 502. The client must notice via size/md5 and upload again.
      return { status: 502, json: { status: 502, message: 'Bad Gateway' }, truncateHandled: true };
    }
    return { status: 201, json: bucketObjectJson(bucket, file) };
  }

  async function multipartUpload(ctx: Ctx): Promise<Reply> {
    const { req } = ctx;
    const dep = ownDeposition(ctx, ctx.params[0]);
    if (!dep.draft) {
      req.resume();
      throw new HttpError(404, 'The persistent identifier does not exist.');
    }
    const bucket = bucketOf(dep.draft.bucketId);
    if (bucket.locked) {
      req.resume();
      throw new HttpError(403, 'Bucket is locked for modifications.');
    }
    const type = req.headers['content-type'] ?? '';
    if (!type.toLowerCase().startsWith('multipart/form-data')) {
      req.resume();
      throw new HttpError(400, 'Expected a multipart/form-data body with a "file" field.');
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > multipartLimit) {
      req.resume();
      throw new HttpError(413, 'Request Entity Too Large');
    }
    const raw = await readBody(req, multipartLimit);
    let form: FormData;
    try {
      form = await new Response(raw, { headers: { 'content-type': type } }).formData();
    } catch {
      throw new HttpError(400, 'Invalid multipart body.');
    }
    const file = form.get('file');
    if (file === null || typeof file === 'string') throw new HttpError(400, 'Missing "file" field.');
    const nameField = form.get('name');
    // `filename` form fields are ignored; only `name`, else the part's own file name (Q22).
    const key = secureFilename(typeof nameField === 'string' && nameField !== '' ? nameField : file.name);
    if (key === '') throw new HttpError(400, 'Invalid file name.');
    if (bucket.files.some((f) => f.key === key)) throw new HttpError(400, `File with key ${key} already exists.`);
    if (ctx.fault?.type === 'truncate') {
      // Multipart bodies are small (≤ 100 MiB): a truncated transfer stores nothing.
      return { status: 502, json: { status: 502, message: 'Bad Gateway' }, truncateHandled: true };
    }
    const content = Buffer.from(await file.arrayBuffer());
    checkLimits(bucket, key, content.length);
    const path = join(dataDir, randomUUID());
    await writeFile(path, content);
    const stored = storeFile(bucket, key, { path, size: content.length, md5: createHash('md5').update(content).digest('hex') });
    touch(dep);
    return { status: 201, json: fileJson(dep, stored) };
  }

  function bucketFile(ctx: Ctx): { bucket: Bucket; file: StoredFile; dep: Deposition } {
    const user = requireUser(ctx);
    const bucket = store.buckets.get(ctx.params[0] ?? '');
    const dep = bucket ? store.depositions.get(bucket.depositionId) : undefined;
    if (!bucket || !dep) throw new HttpError(404, 'Bucket does not exist.');
    if (dep.owner !== user) throw new HttpError(403, 'Permission denied.');
    let key: string;
    try {
      key = decodeURIComponent(ctx.params[1] ?? '');
    } catch {
      throw new HttpError(404, 'Object does not exist.');
    }
    const file = bucket.files.find((f) => f.key === key);
    if (!file) throw new HttpError(404, 'Object does not exist.');
    return { bucket, file, dep };
  }

  function bucketGet(ctx: Ctx): Reply {
    const { file } = bucketFile(ctx);
    return { status: 200, file: { path: file.path, size: file.size, contentType: 'application/octet-stream' } };
  }

  function bucketDelete(ctx: Ctx): Reply {
    const { bucket, file, dep } = bucketFile(ctx);
    if (bucket.locked) throw new HttpError(403, 'Bucket is locked for modifications.');
    bucket.files = bucket.files.filter((f) => f !== file);
    releaseContent(file);
    touch(dep);
    return { status: 204 };
  }

  function bucketList(ctx: Ctx): Reply {
    const user = requireUser(ctx);
    const bucket = store.buckets.get(ctx.params[0] ?? '');
    const dep = bucket ? store.depositions.get(bucket.depositionId) : undefined;
    if (!bucket || !dep) throw new HttpError(404, 'Bucket does not exist.');
    if (dep.owner !== user) throw new HttpError(403, 'Permission denied.');
    // Shape UNVERIFIED (§2, §13; it returned 500 in production once): invenio-files-rest's
    // `{contents: [...]}`. Clients should list files through the deposition instead.
    return { status: 200, json: { id: bucket.id, locked: bucket.locked, contents: bucket.files.map((f) => bucketObjectJson(bucket, f)) } };
  }

  // --- actions --------------------------------------------------------------------------------------

  function publish(ctx: Ctx): Reply {
    ctx.req.resume();
    const dep = ownDeposition(ctx, ctx.params[0]);
    // Publishing again (no draft) is 404 in RDM (ZR:t-flow, Q8).
    const draft = withDraft(dep);
    const errors = publishErrors(draft.metadata);
    if (errors.length > 0) throw validationError(errors);
    const bucket = bucketOf(draft.bucketId);
    if (bucket.files.length === 0) {
      throw validationError([{ field: 'files.enabled', messages: ['Missing uploaded files. To disable files for this record please mark it as metadata-only.'] }]);
    }
    const time = isoTime(now());
    if (draft.kind === 'edit' && dep.record) {
      // Metadata-only edit: same id, same DOI, same (locked) files.
      dep.record.metadata = draft.metadata;
      dropBucket(draft.bucketId);
    } else {
      const external = typeof draft.metadata.doi === 'string' ? draft.metadata.doi : undefined;
      bucket.locked = true; // the draft bucket becomes the record's, locked (DR:files _publish_new)
      dep.record = { metadata: draft.metadata, bucketId: bucket.id, doi: external ?? `${doiPrefix}/zenodo.${dep.id}`, publishedAt: time };
      const concept = dep.concept;
      concept.doi ??= `${doiPrefix}/zenodo.${concept.id}`; // concept DOI minted on the first publish
      concept.versions.push(dep.id);
      if (concept.pendingDraft === dep.id) delete concept.pendingDraft;
    }
    delete dep.draft;
    touch(dep);
    return { status: 202, json: depositionJson(dep) };
  }

  function edit(ctx: Ctx): Reply {
    ctx.req.resume();
    const dep = ownDeposition(ctx, ctx.params[0]);
    if (!dep.record) throw new HttpError(404, 'The persistent identifier is not registered.');
    if (!dep.draft) {
      // Files are copied into a new, locked bucket (DR:files edit, RDM_LOCK_EDIT_PUBLISHED_FILES).
      const bucket = newBucket(dep.id, bucketOf(dep.record.bucketId).files, true);
      dep.draft = { kind: 'edit', metadata: clone(dep.record.metadata), bucketId: bucket.id };
      touch(dep);
    }
    // Idempotent: an existing edit draft is returned (DR:svc edit).
    return { status: 201, json: depositionJson(dep) };
  }

  function newVersion(ctx: Ctx): Reply {
    ctx.req.resume();
    const dep = ownDeposition(ctx, ctx.params[0]);
    // An unpublished draft (including a pending new version) cannot be versioned (§4.2, derived).
    if (!dep.record) throw new HttpError(404, 'The persistent identifier is not registered.');
    const concept = dep.concept;
    const latest = latestVersion(concept) ?? dep;
    const latestRecord = latest.record!;
    if (typeof latestRecord.metadata.doi === 'string' && latestRecord.metadata.doi === latestRecord.doi) {
      // External-DOI records cannot be versioned (Q12, derived).
      throw new HttpError(403, 'Permission denied.');
    }
    const sourceFiles = bucketOf(latestRecord.bucketId).files;
    const pending = concept.pendingDraft === undefined ? undefined : store.depositions.get(concept.pendingDraft);
    if (pending?.draft) {
      const bucket = bucketOf(pending.draft.bucketId);
      if (bucket.files.length > 0) {
        throw validationError([{ field: 'files.enabled', messages: ['Please remove all files first.'] }]);
      }
      // An emptied pending draft is returned and the latest files imported again (§4.2, derived).
      bucket.files = sourceFiles.map((f) => ({ ...f }));
      touch(pending);
      return { status: 201, json: depositionJson(pending) };
    }
    // Metadata of the LATEST version, whichever id was given; version dropped, publication_date
    // reset to today, pids not copied (RDM:meta new_version_skip_fields, RDM:pids).
    const metadata = clone(latestRecord.metadata);
    delete metadata.version;
    delete metadata.doi;
    metadata.publication_date = todayUtc(now());
    const id = store.nextId;
    store.nextId += 1;
    const time = isoTime(now());
    const draftDep: Deposition = {
      id, concept, owner: dep.owner, created: time, modified: time, revision: 1,
      draft: { kind: 'new', metadata, bucketId: newBucket(id, sourceFiles).id },
    };
    store.depositions.set(id, draftDep);
    concept.pendingDraft = id;
    return { status: 201, json: depositionJson(draftDep) };
  }

  // --- records --------------------------------------------------------------------------------------

  function publishedRecord(idText: string | undefined): Deposition {
    const dep = store.depositions.get(parseId(idText));
    if (!dep) throw new HttpError(404, 'The persistent identifier does not exist.');
    if (!dep.record) throw new HttpError(404, 'The persistent identifier is not registered.');
    return dep;
  }

  function getRecord(ctx: Ctx): Reply {
    return { status: 200, json: recordJson(publishedRecord(ctx.params[0])) };
  }

  function recordVersions(ctx: Ctx): Reply {
    const dep = publishedRecord(ctx.params[0]);
    const q = ctx.url.searchParams;
    const size = q.has('size') ? Number(q.get('size')) : 10;
    const page = q.has('page') ? Number(q.get('page')) : 1;
    if (!Number.isInteger(size) || size < 1 || size > 100) throw validationError([{ field: 'size', messages: ['Page size cannot be greater than 100.'] }]);
    if (!Number.isInteger(page) || page < 1) throw validationError([{ field: 'page', messages: ['Not a valid integer.'] }]);
    // Newest first, like RDM's versions endpoint sorted by version.
    const all = [...dep.concept.versions].reverse().map((id) => store.depositions.get(id)!);
    return {
      status: 200,
      json: {
        hits: { hits: all.slice((page - 1) * size, page * size).map((d) => recordJson(d)), total: all.length },
        links: { self: `${api()}/records/${dep.id}/versions?page=${page}&size=${size}` },
        sortBy: 'version',
      },
    };
  }

  function latestRedirect(ctx: Ctx): Reply {
    const dep = publishedRecord(ctx.params[0]);
    const latest = latestVersion(dep.concept) ?? dep;
    return { status: 302, headers: { Location: `${api()}/records/${latest.id}` }, json: { status: 302, message: 'Redirecting to the latest version.' } };
  }

  function recordFiles(ctx: Ctx): Reply {
    const dep = publishedRecord(ctx.params[0]);
    const bucket = bucketOf(dep.record!.bucketId);
    return {
      status: 200,
      json: {
        entries: bucket.files.map((f) => ({ key: f.key, size: f.size, checksum: `md5:${f.md5}`, file_id: f.id,
          links: { content: `${api()}/records/${dep.id}/files/${encodeURIComponent(f.key)}/content` } })),
      },
    };
  }

  function recordFileContent(draft: boolean) {
    return (ctx: Ctx): Reply => {
      let bucket: Bucket;
      if (draft) {
        // The shim prints the draft download link even for published records (§3.1); serve the
        // draft if there is one, else the record.
        const dep = ownDeposition(ctx, ctx.params[0]);
        bucket = currentBucket(dep);
      } else {
        bucket = bucketOf(publishedRecord(ctx.params[0]).record!.bucketId);
      }
      let key: string;
      try {
        key = decodeURIComponent(ctx.params[1] ?? '');
      } catch {
        throw new HttpError(404, 'File not found.');
      }
      const file = bucket.files.find((f) => f.key === key);
      if (!file) throw new HttpError(404, 'File not found.');
      return { status: 200, file: { path: file.path, size: file.size, contentType: 'application/octet-stream' } };
    };
  }

  // --- routing --------------------------------------------------------------------------------------

  const depPath = '/api/deposit/depositions';
  const seg = '([^/]+)';
  const routes: RouteDef[] = [
    { method: 'GET', pattern: new RegExp(`^${depPath}/?$`), route: 'list', handler: list },
    { method: 'POST', pattern: new RegExp(`^${depPath}/?$`), route: 'create', handler: create },
    { method: 'GET', pattern: new RegExp(`^${depPath}/${seg}$`), route: 'get', handler: get },
    { method: 'PUT', pattern: new RegExp(`^${depPath}/${seg}$`), route: 'update', handler: update },
    { method: 'DELETE', pattern: new RegExp(`^${depPath}/${seg}$`), route: 'discard', handler: discard },
    { method: 'GET', pattern: new RegExp(`^${depPath}/${seg}/files/?$`), route: 'files', handler: listFiles },
    { method: 'POST', pattern: new RegExp(`^${depPath}/${seg}/files/?$`), route: 'upload', handler: multipartUpload },
    { method: 'PUT', pattern: new RegExp(`^${depPath}/${seg}/files/?$`), route: 'files', handler: notAllowed },
    { method: 'GET', pattern: new RegExp(`^${depPath}/${seg}/files/${seg}$`), route: 'files', handler: getFile },
    { method: 'PUT', pattern: new RegExp(`^${depPath}/${seg}/files/${seg}$`), route: 'files', handler: notAllowed },
    { method: 'DELETE', pattern: new RegExp(`^${depPath}/${seg}/files/${seg}$`), route: 'files', handler: deleteFile },
    { method: 'POST', pattern: new RegExp(`^${depPath}/${seg}/actions/publish$`), route: 'publish', handler: publish },
    { method: 'POST', pattern: new RegExp(`^${depPath}/${seg}/actions/edit$`), route: 'edit', handler: edit },
    { method: 'POST', pattern: new RegExp(`^${depPath}/${seg}/actions/discard$`), route: 'discard', handler: discard },
    { method: 'POST', pattern: new RegExp(`^${depPath}/${seg}/actions/newversion$`), route: 'newversion', handler: newVersion },
    { method: 'PUT', pattern: new RegExp(`^/api/files/${seg}/${seg}$`), route: 'upload', handler: bucketPut },
    { method: 'GET', pattern: new RegExp(`^/api/files/${seg}/${seg}$`), route: 'files', handler: bucketGet },
    { method: 'DELETE', pattern: new RegExp(`^/api/files/${seg}/${seg}$`), route: 'files', handler: bucketDelete },
    { method: 'GET', pattern: new RegExp(`^/api/files/${seg}/?$`), route: 'files', handler: bucketList },
    { method: 'GET', pattern: new RegExp(`^/api/records/${seg}$`), route: 'records', handler: getRecord },
    { method: 'GET', pattern: new RegExp(`^/api/records/${seg}/versions/?$`), route: 'records', handler: recordVersions },
    { method: 'GET', pattern: new RegExp(`^/api/records/${seg}/versions/latest$`), route: 'records', handler: latestRedirect },
    { method: 'GET', pattern: new RegExp(`^/api/records/${seg}/files/?$`), route: 'records', handler: recordFiles },
    { method: 'GET', pattern: new RegExp(`^/api/records/${seg}/files/${seg}/content$`), route: 'records', handler: recordFileContent(false) },
    { method: 'GET', pattern: new RegExp(`^/api/records/${seg}/draft/files/${seg}/content$`), route: 'records', handler: recordFileContent(true) },
  ];

  function match(method: string, path: string): { def: RouteDef; params: string[] } | undefined {
    for (const def of routes) {
      if (def.method !== method) continue;
      const m = def.pattern.exec(path);
      if (m) return { def, params: m.slice(1) };
    }
    return undefined;
  }

  function tokenOf(req: IncomingMessage, url: URL): string | undefined {
    const header = req.headers.authorization;
    if (header) {
      const m = /^Bearer\s+(.+)$/i.exec(header.trim());
      if (m) return m[1]!.trim();
    }
    return url.searchParams.get('access_token') ?? undefined;
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) }),
    });
    res.end(text);
  }

  function errorBody(error: HttpError): Record<string, unknown> {
    const body: Record<string, unknown> = { status: error.status, message: error.message };
    if (error.errors) body.errors = error.errors;
    return body;
  }

  const statusMessages: Record<number, string> = {
    429: 'Too many requests.', 500: 'Internal server error.', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = now();
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://emulator');
    } catch {
      url = new URL('http://emulator/');
    }
    const path = url.pathname;
    const found = match(method, path);
    const route = found?.def.route;
    const log = (status: number): void => {
      requests.push({ method, path, route, status, at });
    };
    const token = tokenOf(req, url);
    const owner = token === undefined ? undefined : owners.get(token);
    const headers: Record<string, string> = {};
    if (rateLimit !== false) {
      const key = owner !== undefined ? `token:${token}` : `guest:${req.socket.remoteAddress ?? ''}`;
      const decision = limiter.check(key, owner !== undefined ? rateLimit : guestLimit, now());
      Object.assign(headers, decision.headers);
      if (!decision.allowed) {
        req.resume();
        sendJson(res, 429, { status: 429, message: decision.message }, headers);
        log(429);
        return;
      }
    }
    const fault = faults.decide(route ?? '*');
    if (fault?.type === 'reset') {
      log(0);
      req.socket.destroy();
      return;
    }
    if (fault?.type === 'status') {
      req.resume();
      if (fault.status === 429) headers['Retry-After'] = String(fault.retryAfterSeconds);
      sendJson(res, fault.status, { status: fault.status, message: statusMessages[fault.status] ?? 'Error' }, headers);
      log(fault.status);
      return;
    }
    if (fault?.type === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));

    let reply: Reply;
    try {
      if (!found) {
        req.resume();
        throw new HttpError(404, 'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.');
      }
      reply = await found.def.handler({ req, url, params: found.params, owner, fault });
    } catch (error) {
      if (error instanceof HttpError) reply = { status: error.status, json: errorBody(error) };
      else if (req.destroyed || res.destroyed) {
        // The client went away mid-request (e.g. an aborted upload): nothing to answer.
        log(0);
        return;
      } else {
        reply = { status: 500, json: { status: 500, message: 'Internal server error.', error_id: randomUUID().replace(/-/g, '') } };
      }
    }
    if (fault?.type === 'status-after') {
      // The handler ran and changed state; only the answer is lost (e.g. publish → 504, Q8).
      reply = { status: fault.status, json: { status: fault.status, message: statusMessages[fault.status] ?? 'Error' } };
    }
    if (!req.complete) req.resume();
    Object.assign(headers, reply.headers ?? {});
    log(reply.status);
    if (fault?.type === 'truncate' && !reply.truncateHandled) {
      // A response cut short: full Content-Length announced, a prefix sent, connection dropped.
      if (reply.file) {
        res.writeHead(reply.status, { ...headers, 'Content-Type': reply.file.contentType, 'Content-Length': String(reply.file.size) });
        const end = Math.floor(reply.file.size * fault.fraction);
        if (end <= 0) {
          res.flushHeaders();
          res.socket?.destroy();
          return;
        }
        const stream = createReadStream(reply.file.path, { start: 0, end: end - 1 });
        stream.on('end', () => res.socket?.destroy());
        stream.pipe(res, { end: false });
        return;
      }
      const text = reply.json === undefined ? '' : JSON.stringify(reply.json);
      const bytes = Buffer.from(text);
      res.writeHead(reply.status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(bytes.length) });
      res.write(bytes.subarray(0, Math.floor(bytes.length * fault.fraction)), () => res.socket?.destroy());
      return;
    }
    if (reply.file) {
      res.writeHead(reply.status, { ...headers, 'Content-Type': reply.file.contentType, 'Content-Length': String(reply.file.size) });
      await pipeline(createReadStream(reply.file.path), res).catch(() => undefined);
      return;
    }
    if (reply.json !== undefined && reply.status < 300 && typeof reply.json === 'object') {
      headers.ETag = `"${createHash('md5').update(JSON.stringify(reply.json)).digest('hex').slice(0, 16)}"`;
    }
    sendJson(res, reply.status, reply.status === 204 ? undefined : reply.json, headers);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // handle() answers every error itself; this only guards against a socket that broke while
      // the answer was written. Never crash the emulator on hostile input.
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // Long uploads must not be cut by Node's default request timeout (5 min since Node 18).
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  base = `http://${host}:${address.port}`;

  let closed: Promise<void> | undefined;
  const emulator: ZenodoEmulator = {
    url: base,
    get state() {
      return snapshot();
    },
    get requests() {
      return requests;
    },
    setFaults(next) {
      faults.set(next.map((f) => validateFaultSpec(f, zenodoRoutes)));
    },
    setRateLimit(limit) {
      rateLimit = limit;
      limiter.clear();
    },
    reset() {
      for (const bucket of store.buckets.values()) for (const f of bucket.files) unlink(f.path).catch(() => undefined);
      store = { nextId: firstId, depositions: new Map(), buckets: new Map() };
      requests.length = 0;
      limiter.clear();
      faults.set(faults.specs);
    },
    close() {
      closed ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
        if (ownDir) await rm(dataDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };

  function fileView(f: StoredFile): FileView {
    return { id: f.id, key: f.key, size: f.size, md5: f.md5, path: f.path };
  }

  function snapshot(): ZenodoEmulatorState {
    const depositions: DepositionView[] = [];
    const records: RecordView[] = [];
    const concepts = new Map<number, ConceptView>();
    for (const d of store.depositions.values()) {
      const metadata = d.draft?.metadata ?? d.record!.metadata;
      const bucket = currentBucket(d);
      const view: DepositionView = {
        id: d.id, conceptrecid: String(d.concept.id), owner: d.owner, state: stateOf(d), submitted: d.record !== undefined,
        metadata: clone(metadata), bucketId: bucket.id, files: bucket.files.map(fileView),
      };
      if (typeof metadata.version === 'string') view.version = metadata.version;
      const doi = d.record?.doi;
      if (doi) view.doi = doi;
      if (d.concept.doi) view.conceptdoi = d.concept.doi;
      if (d.record) {
        const files = bucketOf(d.record.bucketId).files.map(fileView);
        view.published = { doi: d.record.doi, metadata: clone(d.record.metadata), bucketId: d.record.bucketId, files, publishedAt: d.record.publishedAt };
        const rv: RecordView = {
          id: d.id, conceptrecid: String(d.concept.id), doi: d.record.doi, conceptdoi: d.concept.doi ?? '',
          metadata: clone(d.record.metadata), bucketId: d.record.bucketId, files, publishedAt: d.record.publishedAt,
          latest: latestVersion(d.concept) === d,
        };
        if (typeof d.record.metadata.version === 'string') rv.version = d.record.metadata.version;
        records.push(rv);
      }
      depositions.push(view);
      if (!concepts.has(d.concept.id)) {
        const cv: ConceptView = { conceptrecid: String(d.concept.id), versions: [...d.concept.versions] };
        if (d.concept.doi) cv.conceptdoi = d.concept.doi;
        if (d.concept.pendingDraft !== undefined) cv.pendingDraftId = d.concept.pendingDraft;
        concepts.set(d.concept.id, cv);
      }
    }
    const buckets = [...store.buckets.values()].map((b) => ({ id: b.id, depositionId: b.depositionId, locked: b.locked, files: b.files.map(fileView) }));
    return { depositions, records, concepts: [...concepts.values()], buckets };
  }

  return emulator;
}
