/**
 * Small typed client for the CKAN Action API (reference ckan-api.md). Read actions go out as GET
 * (every `get.py` action is side-effect free, §1.3) and are retried on 5xx, 429 and network
 * errors with jittered backoff; writes are POST JSON and never retried here (the caller's job
 * boundary decides). Error statuses follow §1.2: 403 → CKAN_AUTH, 404 → CKAN_NOT_FOUND,
 * 409/400 → CKAN_VALIDATION, 5xx → CKAN_UNAVAILABLE (retryable), anything unparseable →
 * CKAN_BAD_RESPONSE. Every response body is consumed, even on error, so sockets are reused.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { AppError, isAppError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import {
  parseDataset,
  parseDatastoreResult,
  parseOrganization,
  parseSearchResult,
  parseUser,
  type CkanDataset,
  type CkanOrganizationDetail,
  type CkanResource,
  type CkanUser,
  type DatastoreSearchResult,
  type SearchPage,
} from './ckan-types.js';

export interface CkanClientOptions {
  /** Site URL: origin plus optional path prefix, no trailing slash needed. */
  baseUrl: string;
  apiToken: string | undefined;
  log: Logger;
  timeoutMs: number;
  dispatcher?: Dispatcher;
  /** Attempts for idempotent reads (default 4) and the first backoff (default 250 ms). */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  userAgent?: string;
}

export interface PackageSearchParams {
  fq?: string;
  q?: string;
  sort?: string;
  rows: number;
  start?: number;
  includePrivate?: boolean;
  includeDrafts?: boolean;
  /** Solr stored fields; results are then raw Solr docs (reference §3.1 `fl`) — use `packageSearchRaw`. */
  fl?: string;
}

export interface DatastoreSearchParams {
  resourceId: string;
  limit?: number;
  offset?: number;
  sort?: string;
  filters?: Record<string, unknown>;
  q?: string;
  fields?: string[];
}

export interface DownloadResult {
  body: Readable;
  size: number | undefined;
  contentType: string | undefined;
}

export interface CkanClient {
  readonly baseUrl: string;
  /** How many HTTP requests this client has sent (retries included): scan reports and bench. */
  requestCount(): number;
  packageSearch(params: PackageSearchParams): Promise<SearchPage>;
  /** package_search with `fl`: the raw Solr docs (e.g. `{id, metadata_modified}`). */
  packageSearchRaw(params: PackageSearchParams): Promise<{ count: number; results: Record<string, unknown>[] }>;
  packageShow(idOrName: string): Promise<CkanDataset>;
  resourceShow(id: string): Promise<CkanResource>;
  /** Without `id`: the token's own user (the way to check a token, reference §2.1). */
  userShow(id?: string): Promise<CkanUser>;
  organizationShow(idOrName: string, opts?: { includeUsers?: boolean }): Promise<CkanOrganizationDetail>;
  /** Shallow update (reference §7): any top-level key sent replaces the whole value. */
  packagePatch(id: string, patch: Record<string, unknown>): Promise<CkanDataset>;
  datastoreSearch(params: DatastoreSearchParams): Promise<DatastoreSearchResult>;
  download(url: string, opts?: { signal?: AbortSignal }): Promise<DownloadResult>;
  close(): Promise<void>;
}

const MAX_REDIRECTS = 5;

export function createCkanClient(options: CkanClientOptions): CkanClient {
  const base = new URL(options.baseUrl.replace(/\/+$/, '') + '/');
  const origin = base.origin;
  const ownDispatcher =
    options.dispatcher === undefined
      ? new Agent({ connect: { timeout: options.timeoutMs }, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, keepAliveTimeout: 10_000 })
      : undefined;
  const dispatcher = options.dispatcher ?? (ownDispatcher);
  const attempts = Math.max(1, options.retry?.attempts ?? 4);
  const baseDelay = options.retry?.baseDelayMs ?? 250;
  const maxDelay = options.retry?.maxDelayMs ?? 10_000;
  const userAgent = options.userAgent ?? 'ckan-zenodo-sync';
  const log = options.log;
  let sent = 0;

  function headersFor(url: URL, extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { 'user-agent': userAgent, accept: 'application/json', ...extra };
    // Raw token, no "Bearer" (reference §2.1); only ever to the CKAN origin.
    if (options.apiToken && url.origin === origin) headers['authorization'] = options.apiToken;
    return headers;
  }

  function actionUrl(action: string): URL {
    return new URL(`api/3/action/${action}`, base);
  }

  /** One HTTP exchange for an action, mapped to a result or an AppError. */
  async function once(action: string, method: 'GET' | 'POST', params: Record<string, unknown>): Promise<unknown> {
    const url = actionUrl(action);
    let body: string | undefined;
    if (method === 'GET') {
      for (const [k, v] of Object.entries(params)) {
        if (v === undefined) continue;
        url.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v));
      }
    } else body = JSON.stringify(params);
    sent++;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method,
        headers: headersFor(url, body === undefined ? {} : { 'content-type': 'application/json' }),
        body,
        dispatcher,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
    } catch (error) {
      throw new AppError('CKAN_UNAVAILABLE', `CKAN ${action} failed: ${(error as Error).message}`, { retryable: true, cause: error });
    }
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw new AppError('CKAN_UNAVAILABLE', `CKAN ${action}: the response broke off: ${(error as Error).message}`, { retryable: true, cause: error });
    }
    const status = response.statusCode;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status >= 200 && status < 300) {
      if (json === undefined) {
        // A truncated body on a 200 is a network failure in disguise: worth another try.
        throw new AppError('CKAN_BAD_RESPONSE', `CKAN ${action} answered ${status} with a body that is not JSON`, { retryable: true, details: { status } });
      }
      const env = json as { success?: unknown; result?: unknown; error?: unknown };
      if (env === null || typeof env !== 'object' || env.success !== true || !('result' in env)) {
        throw new AppError('CKAN_BAD_RESPONSE', `CKAN ${action} answered without a successful result`, { details: { status, error: errorDetails(env?.error) } });
      }
      return env.result;
    }
    throw statusError(action, status, json, response.headers['retry-after']);
  }

  async function call(action: string, method: 'GET' | 'POST', params: Record<string, unknown>, idempotent: boolean): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(action, method, params);
      } catch (error) {
        if (!idempotent || attempt >= attempts || !isAppError(error) || !error.retryable) throw error;
        const backoff = Math.min(maxDelay, baseDelay * 2 ** (attempt - 1));
        const wait = Math.max(error.retryAfterMs ?? 0, Math.round(backoff / 2 + Math.random() * (backoff / 2)));
        log.warn({ action, attempt, code: error.code, waitMs: wait }, 'CKAN request failed, retrying');
        await delay(wait);
      }
    }
  }

  const read = (action: string, params: Record<string, unknown>): Promise<unknown> => call(action, 'GET', params, true);

  function searchParams(p: PackageSearchParams): Record<string, unknown> {
    return {
      q: p.q ?? '*:*',
      fq: p.fq,
      sort: p.sort,
      // Always explicit: omitted rows means 10 (reference §3.4).
      rows: String(p.rows),
      start: p.start === undefined ? undefined : String(p.start),
      include_private: p.includePrivate === undefined ? undefined : String(p.includePrivate),
      include_drafts: p.includeDrafts === undefined ? undefined : String(p.includeDrafts),
      fl: p.fl,
    };
  }

  function bad(action: string, what: string): AppError {
    return new AppError('CKAN_BAD_RESPONSE', `CKAN ${action} returned ${what}`);
  }

  return {
    baseUrl: base.toString().replace(/\/$/, ''),
    requestCount: () => sent,

    async packageSearch(p) {
      const result = await read('package_search', searchParams({ ...p, fl: undefined }));
      const page = parseSearchResult(result);
      if (page === undefined) throw bad('package_search', 'a result without count/results');
      for (const m of page.malformed) log.warn({ datasetId: m.id, reason: m.reason }, 'skipping malformed CKAN dataset');
      return page;
    },

    async packageSearchRaw(p) {
      const result = (await read('package_search', searchParams(p))) as { count?: unknown; results?: unknown } | null;
      if (result === null || typeof result !== 'object' || !Array.isArray(result.results)) throw bad('package_search', 'a result without results');
      const results = result.results.filter((r): r is Record<string, unknown> => r !== null && typeof r === 'object');
      return { count: Number(result.count ?? results.length), results };
    },

    async packageShow(idOrName) {
      const parsed = parseDataset(await read('package_show', { id: idOrName }));
      if (!parsed.ok) throw new AppError('CKAN_BAD_RESPONSE', `CKAN package_show ${idOrName}: ${parsed.malformed.reason}`, { details: { datasetId: parsed.malformed.id } });
      return parsed.dataset;
    },

    async resourceShow(id) {
      const result = await read('resource_show', { id });
      const parsed = parseDataset({ id: 'resource-parent', metadata_modified: '1970-01-01T00:00:00', resources: [result] });
      if (!parsed.ok || parsed.dataset.resources[0] === undefined) throw bad('resource_show', 'a resource without an id');
      return parsed.dataset.resources[0];
    },

    async userShow(id) {
      const user = parseUser(await read('user_show', id === undefined ? {} : { id }));
      if (user === undefined) throw bad('user_show', 'a user without id/name');
      return user;
    },

    async organizationShow(idOrName, opts = {}) {
      const org = parseOrganization(await read('organization_show', { id: idOrName, include_users: String(opts.includeUsers ?? true), include_datasets: 'false' }));
      if (org === undefined) throw bad('organization_show', 'an organization without id/name');
      return org;
    },

    async packagePatch(id, patch) {
      const parsed = parseDataset(await call('package_patch', 'POST', { ...patch, id }, false));
      if (!parsed.ok) throw new AppError('CKAN_BAD_RESPONSE', `CKAN package_patch ${id}: ${parsed.malformed.reason}`);
      return parsed.dataset;
    },

    async datastoreSearch(p) {
      const result = await read('datastore_search', {
        resource_id: p.resourceId,
        limit: p.limit === undefined ? undefined : String(p.limit),
        offset: p.offset === undefined ? undefined : String(p.offset),
        sort: p.sort,
        filters: p.filters,
        q: p.q,
        fields: p.fields?.join(','),
      });
      const parsed = parseDatastoreResult(result);
      if (parsed === undefined) throw bad('datastore_search', 'a result without records');
      return parsed;
    },

    async download(rawUrl, opts = {}) {
      let url: URL;
      try {
        url = new URL(rawUrl, base);
      } catch (error) {
        throw new AppError('DOWNLOAD_REFUSED', 'resource URL is not a valid URL', { cause: error });
      }
      for (let hop = 0; ; hop++) {
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AppError('DOWNLOAD_REFUSED', `resource URL scheme ${url.protocol} is not http(s)`);
        sent++;
        let response: Dispatcher.ResponseData;
        try {
          // undici's request does not follow redirects: we do, so the token rule applies per hop.
          response = await request(url, { method: 'GET', headers: headersFor(url, { accept: '*/*' }), dispatcher, signal: opts.signal });
        } catch (error) {
          throw new AppError('DOWNLOAD_FAILED', `could not download ${describe(url)}: ${(error as Error).message}`, { retryable: true, cause: error });
        }
        const status = response.statusCode;
        if (status >= 300 && status < 400 && response.headers.location !== undefined) {
          await response.body.dump();
          if (hop >= MAX_REDIRECTS) throw new AppError('DOWNLOAD_FAILED', `too many redirects downloading ${describe(url)}`);
          url = new URL(String(response.headers.location), url);
          continue;
        }
        if (status < 200 || status >= 300) {
          await response.body.dump();
          throw new AppError('DOWNLOAD_FAILED', `downloading ${describe(url)} answered HTTP ${status}`, { retryable: status >= 500 || status === 429, details: { status } });
        }
        const length = response.headers['content-length'];
        const type = response.headers['content-type'];
        return {
          body: response.body,
          size: typeof length === 'string' && /^\d+$/.test(length) ? Number(length) : undefined,
          contentType: typeof type === 'string' ? type : undefined,
        };
      }
    },

    async close() {
      if (ownDispatcher !== undefined) await ownDispatcher.close();
    },
  };
}

/** URL without its query string: signed URLs carry secrets there. */
function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function errorDetails(error: unknown): Record<string, unknown> | undefined {
  return error !== null && typeof error === 'object' ? (error as Record<string, unknown>) : undefined;
}

function statusError(action: string, status: number, json: unknown, retryAfter: string | string[] | undefined): AppError {
  const error = json !== null && typeof json === 'object' ? errorDetails((json as { error?: unknown }).error) : undefined;
  const type = typeof error?.['__type'] === 'string' ? error['__type'] : undefined;
  const message = typeof error?.['message'] === 'string' ? error['message'] : typeof json === 'string' ? json : undefined;
  const describeIt = `CKAN ${action} answered HTTP ${status}${type ? ` (${type})` : ''}${message ? `: ${message}` : ''}`;
  const details = { status, type, error };
  let code: ErrorCode;
  let retryable = false;
  if (status === 401 || status === 403) code = 'CKAN_AUTH';
  else if (status === 404) code = 'CKAN_NOT_FOUND';
  else if (status === 429 || status >= 500 || type === 'Search Error') {
    // 2.9 reports a down Solr as a 409 "Search Error" (reference §10).
    code = 'CKAN_UNAVAILABLE';
    retryable = true;
  } else if (status === 400 || status === 409) code = 'CKAN_VALIDATION';
  else code = 'CKAN_BAD_RESPONSE';
  return new AppError(code, describeIt, { retryable, retryAfterMs: parseRetryAfter(retryAfter), details });
}

function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v.trim())) return Math.min(Number(v) * 1000, 120_000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - Date.now()), 120_000);
}
