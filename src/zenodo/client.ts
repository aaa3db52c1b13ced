/**
 * Typed client for Zenodo's legacy deposit API as Zenodo-RDM serves it (reference zenodo-api.md;
 * §12 are the rules this follows). One shared undici Agent with explicit timeouts; every response
 * body is consumed; responses are parsed leniently (zod: the fields we use, the rest ignored).
 *
 * Retry policy (reference §8, §10):
 * - Idempotent calls (GET, PUT metadata, DELETE, edit, discard) are retried on 5xx, 429 and
 *   network errors with full-jitter exponential backoff; 429 waits for `Retry-After`.
 * - Non-idempotent calls are never blindly retried; after an answer we could not see (5xx,
 *   timeout, reset) the state is checked first:
 *   create → an unpublished draft carrying the same CKAN related identifier (our marker) is looked
 *   up and returned; newversion → the concept's pending draft; publish → the deposition is re-read
 *   and returned if it is published (publishing twice is impossible: RDM answers 404, Q8);
 *   file delete → the file list is re-read; discard → the deposition is re-read.
 *   A 429 or a refused connection never reached the handler, so those are simply retried.
 * - A 2xx answer we cannot read (cut short with a shorter Content-Length, an HTML or plain-text
 *   page from a proxy, JSON of the wrong shape) is a lost answer too, not a permanent error: the
 *   request may well have run (a proxy that mangled Zenodo's answer), or not (a captive portal
 *   answering in Zenodo's place). Idempotent calls send again; the others check the state as
 *   above. Such errors keep the code ZENODO_BAD_RESPONSE, are retryable, and carry
 *   `details.garbled = true` (see `isUnknownOutcome`).
 * - A stream body cannot be replayed: `uploadFile` is one attempt, `uploadFileWithRetry` reopens
 *   the source for every attempt (bucket PUT overwrites the key, so a retry is idempotent, §7).
 * - Pacing: every answer carries X-RateLimit-Limit/Remaining/Reset (§8). Once less than half the
 *   budget is left, the remaining requests are spread evenly over the time to the reset, and with
 *   nothing left we wait for the reset, so a long run stays under the limit instead of bursting
 *   into 429s. A 429 with Retry-After waits that long (all callers), not until the reset.
 *
 * The token goes only to the configured Zenodo origin (links from answers pointing elsewhere are
 * refused), and it is scrubbed from every error message and detail, even if a server echoes it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Transform, pipeline, type Readable } from 'node:stream';
import { setTimeout as realDelay } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { AppError, isAppError, type ErrorCode } from '../errors.js';
import { redactText, type Logger } from '../log.js';

// ------------------------------------------------------------------------------------------------
// Public types

export interface ZenodoFile {
  /** Deposition-file id (FileInstance UUID; shared with the versions the file was carried into). */
  id: string;
  filename: string;
  size: number;
  /** Bare md5 hex, lowercase. */
  md5: string;
}

/** A deposition (draft or published) or a record, normalised. Fits the sync worker's `ZDeposition`. */
export interface Deposition {
  id: number;
  conceptRecid: string | null;
  doi: string | null;
  conceptDoi: string | null;
  /** true once published (also while a published record is being edited). */
  submitted: boolean;
  /** "unsubmitted" (never published draft), "inprogress" (edit draft) or "done" (published). */
  state: string;
  bucketUrl: string | null;
  htmlUrl: string | null;
  title: string;
  files: ZenodoFile[];
  metadata: Record<string, unknown>;
  links: Record<string, string>;
}

export interface ListQuery {
  q?: string;
  page?: number;
  /** 1..100 (Zenodo refuses more). */
  size?: number;
  sort?: string;
  allVersions?: boolean;
  status?: 'draft' | 'published';
}

export interface UploadResult {
  key: string;
  size: number;
  /** Bare md5 hex of the bytes sent, equal to what Zenodo stored. */
  md5: string;
}

/** What an upload source opener may return: a bare stream (size given separately) or with its size. */
export type UploadSource = Readable | { body: Readable; size: number; cleanup?: () => Promise<void> };

export interface RetryOptions {
  /** Attempts per call, first one included (default 5). */
  maxAttempts?: number;
  /** Backoff base (default 500 ms); the n-th wait is random in [0, min(max, base·2^(n-1))]. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface ZenodoClientOptions {
  /** Site URL, e.g. https://zenodo.org or https://sandbox.zenodo.org (a trailing /api is accepted). */
  baseUrl: string;
  token: string;
  log: Logger;
  userAgent?: string;
  /** Connect, headers and idle-body timeout per request (default 60 s). */
  timeoutMs?: number;
  /** Wait for the answer after an upload body was sent (default max(timeoutMs, 10 min)). */
  uploadTimeoutMs?: number;
  dispatcher?: Dispatcher;
  retry?: RetryOptions;
  /** Jitter source (default Math.random); tests pass a seeded one. */
  random?: () => number;
  /** Clock in ms and sleep, for pacing and backoff (default Date.now / timers); tests inject a fake clock. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called with the status of every HTTP answer (metrics). */
  onResponse?: (status: number) => void;
}

export interface ZenodoClientStats {
  /** HTTP requests sent, retries included. */
  requests: number;
  /** 429 answers received (each one was waited out and retried, not handed to the caller). */
  rateLimited: number;
  retries: number;
  /** Milliseconds spent pacing ahead of the rate limit. */
  pacedMs: number;
}

export interface ZenodoClient {
  readonly apiUrl: string;
  getDeposition(id: number): Promise<Deposition>;
  listDepositions(query?: ListQuery): Promise<Deposition[]>;
  createDeposition(metadata?: Record<string, unknown> | object): Promise<Deposition>;
  /** PUT `{metadata}`: a full replacement (Q5), so always send the complete payload. */
  updateMetadata(id: number, metadata: Record<string, unknown> | object): Promise<Deposition>;
  listFiles(id: number): Promise<ZenodoFile[]>;
  deleteFile(id: number, fileId: string): Promise<void>;
  /** One streaming bucket PUT, verified by size and md5. Not retried: see `uploadFileWithRetry`. */
  uploadFile(bucketUrl: string, filename: string, body: Readable, size: number): Promise<UploadResult>;
  // Both upload calls refuse size 0 before any request (ZENODO_EMPTY_FILE, permanent) and never
  // leave the body emitting an unhandled 'error' (an undici body destroyed unread emits one).
  /** Reopens the source for every attempt; retries checksum mismatches, 5xx, 429, resets. */
  uploadFileWithRetry(bucketUrl: string, filename: string, openBody: () => Promise<UploadSource>, size?: number): Promise<UploadResult>;
  /** The concept's pending new-version draft, whether created now or already there. */
  newVersion(id: number): Promise<Deposition>;
  findPendingDraft(conceptRecid: string): Promise<Deposition | undefined>;
  /** A never-published draft whose related identifiers include `marker` (our CKAN dataset URL). */
  findUnpublishedDraft(marker: string): Promise<Deposition | undefined>;
  /** Latest published version of the concept `id` belongs to (record id or concept recid). */
  findLatestVersion(recordOrConceptId: string | number): Promise<Deposition | undefined>;
  /** Publishes exactly once; a lost answer is resolved by re-reading the deposition. */
  publish(id: number): Promise<Deposition>;
  edit(id: number): Promise<Deposition>;
  discard(id: number): Promise<void>;
  getRecord(id: number | string): Promise<Deposition>;
  stats(): ZenodoClientStats;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------
// Lenient response schemas (STYLE.md 3)

const idText = z.union([z.string(), z.number()]).transform((v) => String(v));
const linksSchema = z
  .record(z.string(), z.unknown())
  .transform((o) => Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => typeof e[1] === 'string')));

/** Deposition-file (§3.2) and record-file entries (`key`, `size`, `md5:` checksum) alike. */
const fileSchema = z.object({
  id: idText.optional(),
  file_id: idText.optional(),
  filename: z.string().optional(),
  key: z.string().optional(),
  filesize: z.number().optional(),
  size: z.number().optional(),
  checksum: z.string().optional(),
});

/** Integer ids; InvenioRDM-native answers carry them as numeric strings. */
const recordId = z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,18}$/).transform(Number)]);

const depositionSchema = z.object({
  id: recordId,
  conceptrecid: idText.nullish(),
  doi: z.string().nullish(),
  conceptdoi: z.string().nullish(),
  state: z.string().nullish(),
  submitted: z.boolean().nullish(),
  title: z.string().nullish(),
  files: z.array(z.unknown()).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  links: linksSchema.nullish(),
  status: z.string().nullish(),
});

const bucketObjectSchema = z.object({
  key: z.string(),
  size: z.number(),
  checksum: z.string().nullish(),
});

const versionsSchema = z.object({
  hits: z.object({ hits: z.array(z.unknown()) }),
});

const errorBodySchema = z.object({
  message: z.string().nullish(),
  errors: z
    .array(
      z.object({
        field: z.string().nullish(),
        messages: z.array(z.string()).nullish(),
        message: z.string().nullish(), // legacy Zenodo (§6)
      }),
    )
    .nullish(),
});

// ------------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface Call {
  /** Operation name for messages and logs, e.g. "publish". */
  op: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: URL;
  json?: unknown;
  /** Success statuses. */
  expect: readonly number[];
  /** "deposition 123", for messages. */
  subject?: string;
}

interface RateState {
  limit: number | undefined;
  remaining: number | undefined;
  resetAt: number | undefined; // ms
  blockedUntil: number; // ms, from a 429
  nextSlot: number; // ms, the paced schedule
  /**
   * This client's recent requests: our own view of the window. `at` is when the answer came
   * (Infinity while the request is in flight), never when it left: Zenodo counts a request when
   * it arrives, which can be much later than when it left (a connection to wait for, a slow
   * network), and a send time would let that request drop out of our window before Zenodo's.
   */
  sent: { at: number }[];
}

/** Zenodo's short rate-limit window (reference §8: "100 requests per minute"). */
const RATE_WINDOW_MS = 60_000;

const MAX_ERROR_BODY = 256 * 1024;
const LIST_PAGE_SIZE = 100;
/** Pages of the deposition list scanned when a search query finds nothing (index lag, Q15). */
const SCAN_PAGES = 3;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function header(headers: Answer['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function md5Of(checksum: string | null | undefined): string | undefined {
  if (typeof checksum !== 'string') return undefined;
  const hex = checksum.trim().toLowerCase().replace(/^md5:/, '');
  return /^[0-9a-f]{32}$/.test(hex) ? hex : undefined;
}

/**
 * Destroys a stream we are done with without letting it raise an unhandled 'error' (undici
 * bodies emit RequestAbortedError when destroyed unread).
 */
function release(stream: Readable): void {
  if (stream.listenerCount('error') === 0) stream.on('error', () => undefined);
  if (!stream.destroyed) stream.destroy();
}

/** Statuses and error codes of attempts that cannot have reached the handler. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN']);

export function createZenodoClient(opts: ZenodoClientOptions): ZenodoClient {
  const site = new URL(opts.baseUrl.trim().replace(/\/+$/, '').replace(/\/api$/, '') + '/');
  const apiBase = new URL('api/', site);
  const origin = site.origin;
  const token = opts.token;
  const log = opts.log;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const uploadTimeoutMs = opts.uploadTimeoutMs ?? Math.max(timeoutMs, 600_000);
  const maxAttempts = Math.max(1, opts.retry?.maxAttempts ?? 5);
  const baseDelay = Math.max(0, opts.retry?.baseDelayMs ?? 500);
  const maxDelay = Math.max(baseDelay, opts.retry?.maxDelayMs ?? 30_000);
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => realDelay(ms).then(() => undefined));
  const userAgent = opts.userAgent ?? `ckan-zenodo-sync/${packageVersion()} (+https://github.com/ckan-zenodo-sync)`;
  const ownAgent =
    opts.dispatcher === undefined
      ? new Agent({
          connect: { timeout: timeoutMs },
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          keepAliveTimeout: 10_000,
          keepAliveMaxTimeout: 60_000,
          connections: 16,
        })
      : undefined;
  const dispatcher: Dispatcher = opts.dispatcher ?? ownAgent!;
  const rate: RateState = { limit: undefined, remaining: undefined, resetAt: undefined, blockedUntil: 0, nextSlot: 0, sent: [] };
  const counters: ZenodoClientStats = { requests: 0, rateLimited: 0, retries: 0, pacedMs: 0 };

  /** Removes the token from anything that leaves the client (messages, details, logs). */
  const scrub = (s: string): string => redactText(s, [token]).split(token).join('***');

  function apiUrl(path: string): URL {
    return new URL(path.replace(/^\//, ''), apiBase);
  }

  function depositionUrl(id: number, suffix = ''): URL {
    return apiUrl(`deposit/depositions/${checkId(id)}${suffix}`);
  }

  function checkId(id: number | string): string {
    const s = String(id).trim();
    if (!/^\d{1,18}$/.test(s)) throw new AppError('ZENODO_NOT_FOUND', `"${scrub(s).slice(0, 60)}" is not a Zenodo record id`);
    return s;
  }

  /** A URL taken from an answer (bucket link): the token must never go to another host. */
  function ownUrl(link: string, what: string): URL {
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      throw new AppError('ZENODO_BAD_RESPONSE', `Zenodo gave an invalid ${what} link`);
    }
    if (url.origin !== origin) {
      throw new AppError('ZENODO_BAD_RESPONSE', `Zenodo's ${what} link points to ${url.origin}, not ${origin}; refusing to send the token there`);
    }
    return url;
  }

  // --- pacing ------------------------------------------------------------------------------------

  function noteRate(headers: Answer['headers'], status: number): void {
    const limit = Number(header(headers, 'x-ratelimit-limit'));
    const remaining = Number(header(headers, 'x-ratelimit-remaining'));
    const reset = Number(header(headers, 'x-ratelimit-reset'));
    if (Number.isFinite(limit) && limit > 0) rate.limit = limit;
    if (status === 429 && header(headers, 'retry-after') !== undefined) {
      // Zenodo said how long to wait: that long, not until the window's reset (a minute away
      // while Retry-After may say 1 s). The 429's remaining/reset are not taken as the pace:
      // its "0 left" would hold every worker until the reset; the next answer tells the pace.
      rate.blockedUntil = Math.max(rate.blockedUntil, now() + retryAfterMs(headers));
      return;
    }
    if (Number.isFinite(remaining) && remaining >= 0) rate.remaining = remaining;
    if (Number.isFinite(reset) && reset > 0) rate.resetAt = reset * 1000;
    // Without Retry-After the reset is all there is to go by.
    if (status === 429) rate.blockedUntil = Math.max(rate.blockedUntil, now() + retryAfterMs(headers), Number.isFinite(reset) && reset > 0 ? reset * 1000 : 0);
  }

  function retryAfterMs(headers: Answer['headers']): number {
    const ra = header(headers, 'retry-after');
    if (ra !== undefined) {
      const seconds = Number(ra);
      // Whole seconds, rounded down: "0" just before the reset would retry at once into another
      // 429, so it waits for the reset (at most a second away) instead.
      if (seconds === 0) {
        const reset = Number(header(headers, 'x-ratelimit-reset'));
        return Number.isFinite(reset) && reset > 0 ? Math.min(Math.max(0, reset * 1000 - now()) + 50, 1000) : 1000;
      }
      if (Number.isFinite(seconds) && seconds > 0) return Math.min(seconds * 1000, 3600_000);
      const date = Date.parse(ra);
      if (!Number.isNaN(date)) return Math.min(Math.max(0, date - now()), 3600_000);
    }
    const reset = Number(header(headers, 'x-ratelimit-reset'));
    if (Number.isFinite(reset) && reset > 0) return Math.min(Math.max(0, reset * 1000 - now()), 3600_000);
    return 1000;
  }

  /**
   * Waits until this request fits the budget and claims a slot in the paced schedule. Returns the
   * function to call once its answer (or failure) is in.
   */
  async function acquire(): Promise<() => void> {
    const entry = { at: Number.POSITIVE_INFINITY };
    const settle = (): void => {
      entry.at = Math.min(entry.at, now());
    };
    for (;;) {
      const t = now();
      if (rate.blockedUntil > t) {
        counters.pacedMs += rate.blockedUntil - t;
        await sleep(rate.blockedUntil - t);
        continue;
      }
      // The window moves: a request counts against the budget for a whole minute after it
      // arrived, so a burst now plus an even pace later can still overrun it. Our own log of the
      // last minute (see RateState.sent) keeps every minute-long stretch within the limit.
      rate.sent = rate.sent.filter((e) => e.at > t - RATE_WINDOW_MS);
      if (rate.limit !== undefined && rate.sent.length >= rate.limit) {
        // A slot frees when enough of the answered requests age out; requests still in flight
        // cannot age out before they are answered: look again shortly.
        const ats = rate.sent.map((e) => e.at).sort((a, b) => a - b);
        const frees = ats[ats.length - rate.limit]! + RATE_WINDOW_MS + 1;
        rate.blockedUntil = Math.max(rate.blockedUntil, Number.isFinite(frees) ? frees : t + 250);
        continue;
      }
      const { limit, remaining, resetAt } = rate;
      if (remaining === undefined || resetAt === undefined || resetAt <= t) {
        rate.sent.push(entry);
        break;
      }
      if (remaining <= 0) {
        // The window frees a slot at the reset (moving window, §8). Shared, so that concurrent
        // callers all wait for it rather than only the first one.
        rate.blockedUntil = Math.max(rate.blockedUntil, resetAt + 50);
        continue;
      }
      if (limit !== undefined && remaining >= limit / 2) {
        rate.remaining = remaining - 1;
        rate.sent.push(entry);
        break;
      }
      const interval = (resetAt - t) / remaining;
      const slot = Math.max(t, rate.nextSlot);
      rate.nextSlot = slot + interval;
      rate.remaining = remaining - 1;
      // Counted from now on, before waiting for the slot: concurrent callers that check the
      // window while this one waits must see it, or each of them takes the last free place.
      rate.sent.push(entry);
      if (slot > t) {
        counters.pacedMs += slot - t;
        await sleep(slot - t);
      }
      break;
    }
    return settle;
  }

  // --- one exchange ------------------------------------------------------------------------------

  function headersFor(url: URL, extra: Record<string, string>): Record<string, string> {
    if (url.origin !== origin) throw new AppError('INTERNAL', `refusing to send the Zenodo token to ${url.origin}`);
    return { 'user-agent': userAgent, accept: 'application/json', authorization: `Bearer ${token}`, ...extra };
  }

  async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      // Past the cap the rest is still read (so the socket can be reused) but not kept.
      if (size < MAX_ERROR_BODY) chunks.push(chunk);
      size += chunk.length;
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function networkError(call: Pick<Call, 'op' | 'subject'>, error: unknown): AppError {
    const e = error as { code?: string; message?: string };
    const code = typeof e?.code === 'string' ? e.code : undefined;
    const what = call.subject ? `${call.op} (${call.subject})` : call.op;
    return new AppError('ZENODO_UNAVAILABLE', scrub(`Zenodo ${what}: no answer (${code ?? 'network error'}: ${e?.message ?? String(error)})`), {
      retryable: true,
      cause: error,
      details: { operation: call.op, network: code ?? 'error', notSent: code !== undefined && NOT_SENT_CODES.has(code) },
    });
  }

  async function exchange(call: Call): Promise<Answer> {
    const settle = await acquire();
    try {
      return await exchangeOnce(call);
    } finally {
      settle();
    }
  }

  async function exchangeOnce(call: Call): Promise<Answer> {
    counters.requests++;
    const started = now();
    let res: Dispatcher.ResponseData;
    try {
      const body = call.json === undefined ? undefined : JSON.stringify(call.json);
      res = await request(call.url, {
        method: call.method,
        // Exactly application/json: Zenodo refuses even "; charset=utf-8" with 415 (§1).
        headers: headersFor(call.url, body === undefined ? {} : { 'content-type': 'application/json' }),
        body,
        dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      throw networkError(call, error);
    }
    let text: string;
    try {
      text = await readCapped(res.body);
    } catch (error) {
      // A body cut short (reset mid-answer) is a network failure, not a bad answer.
      throw networkError(call, error);
    }
    noteRate(res.headers, res.statusCode);
    opts.onResponse?.(res.statusCode);
    log.debug({ op: call.op, method: call.method, path: call.url.pathname, status: res.statusCode, ms: now() - started }, 'zenodo request');
    return { status: res.statusCode, headers: res.headers, text };
  }

  // --- errors ------------------------------------------------------------------------------------

  const LIMIT_MESSAGES = [/quota exceeded/i, /size limit exceeded/i, /exceeding the max amount/i, /too large/i];

  function statusError(call: Pick<Call, 'op' | 'subject'>, answer: Answer): AppError {
    const { status } = answer;
    let parsed: z.infer<typeof errorBodySchema> | undefined;
    try {
      const r = errorBodySchema.safeParse(JSON.parse(answer.text));
      parsed = r.success ? r.data : undefined;
    } catch {
      parsed = undefined;
    }
    const zenodoMessage = scrub((parsed?.message ?? '').slice(0, 500));
    const errors = (parsed?.errors ?? []).slice(0, 50).map((e) => ({
      field: scrub(e.field ?? ''),
      messages: (e.messages ?? (e.message ? [e.message] : [])).map((m) => scrub(m.slice(0, 500))),
    }));
    const fieldText = errors.map((e) => `${e.field || '(record)'}: ${e.messages.join(' ')}`).join('; ');
    const what = call.subject ? `${call.op} (${call.subject})` : call.op;
    const said = [zenodoMessage, fieldText].filter((s) => s !== '').join(' — ');
    const suffix = said === '' ? '' : `: ${said}`;
    const details: Record<string, unknown> = { status, operation: call.op };
    if (zenodoMessage !== '') details.message = zenodoMessage;
    if (errors.length > 0) details.errors = errors;

    let code: ErrorCode;
    let message: string;
    let retryable = false;
    let retryAfter: number | undefined;
    if (status === 401) {
      code = 'ZENODO_AUTH';
      message = `Zenodo refused the token for ${what} (401)${suffix}; check [zenodo] token (a personal access token with deposit:write and deposit:actions)`;
    } else if (status === 403) {
      code = 'ZENODO_FORBIDDEN';
      message =
        `Zenodo denied ${what} (403)${suffix}. The record belongs to another Zenodo account, or the token is invalid ` +
        `(Zenodo treats an unknown token as anonymous): share the record with the archive account, or check [zenodo] token`;
    } else if (status === 404 || status === 410) {
      code = 'ZENODO_NOT_FOUND';
      message = `Zenodo has no ${call.subject ?? 'such record'} for ${call.op} (${status})${suffix}`;
    } else if (status === 429) {
      code = 'ZENODO_RATE_LIMITED';
      retryable = true;
      retryAfter = retryAfterMs(answer.headers);
      message = `Zenodo rate limit reached during ${what}${suffix}; retry in ${Math.ceil(retryAfter / 1000)} s`;
    } else if (status >= 500) {
      code = 'ZENODO_UNAVAILABLE';
      retryable = true;
      message = `Zenodo failed ${what} (${status})${suffix}`;
    } else if (status === 413 || LIMIT_MESSAGES.some((re) => re.test(zenodoMessage))) {
      code = 'ZENODO_LIMIT_EXCEEDED';
      message = `Zenodo refused ${what}: over its limits (${status})${suffix}`;
    } else if (status === 400 && /upload transfer failed/i.test(zenodoMessage)) {
      code = 'ZENODO_UNAVAILABLE';
      retryable = true;
      message = `Zenodo lost the upload of ${what} (${status})${suffix}`;
    } else if (status === 409 || status === 412) {
      code = 'ZENODO_CONFLICT';
      retryable = true;
      message = `Zenodo reported a conflict for ${what} (${status})${suffix}`;
    } else {
      code = 'ZENODO_VALIDATION';
      message = `Zenodo refused ${what} (${status})${suffix}`;
    }
    return new AppError(code, scrub(message), { retryable, retryAfterMs: retryAfter, details });
  }

  function badResponse(call: Pick<Call, 'op' | 'subject'>, what: string): AppError {
    return new AppError('ZENODO_BAD_RESPONSE', scrub(`Zenodo answered ${call.op}${call.subject ? ` (${call.subject})` : ''} with ${what}`), {
      details: { operation: call.op, what },
    });
  }

  /**
   * A success answer we cannot read. Retryable, and an unknown outcome for a non-idempotent call
   * (module comment): what a proxy or a cut connection left of the answer says nothing about
   * whether Zenodo did the work.
   */
  function garbled(call: Pick<Call, 'op' | 'subject'>, status: number, what: string, cause?: unknown): AppError {
    const subject = call.subject ? ` (${call.subject})` : '';
    return new AppError('ZENODO_BAD_RESPONSE', scrub(`Zenodo's answer to ${call.op}${subject} could not be read (${status}, ${what}); the state is checked and the call repeated if it did not take effect`), {
      retryable: true,
      cause,
      details: { operation: call.op, status, garbled: true },
    });
  }

  /** Parses an answer; any failure to make sense of it is `garbled` (never a permanent error). */
  function readAnswer<T>(call: Pick<Call, 'op' | 'subject'>, answer: Answer, parse: (body: unknown) => T): T {
    const body = json(call, answer);
    try {
      return parse(body);
    } catch (error) {
      if (isAppError(error, 'ZENODO_BAD_RESPONSE') && error.details?.garbled !== true) {
        throw garbled(call, answer.status, typeof error.details?.what === 'string' ? error.details.what : 'an unexpected shape', error);
      }
      throw error;
    }
  }

  function backoff(attempt: number): number {
    return Math.round(random() * Math.min(maxDelay, baseDelay * 2 ** (attempt - 1)));
  }

  async function waitBeforeRetry(call: Pick<Call, 'op' | 'subject'>, error: AppError, attempt: number): Promise<void> {
    counters.retries++;
    if (error.code === 'ZENODO_RATE_LIMITED') counters.rateLimited++;
    // 429: `acquire` waits for Retry-After (noted in `noteRate`); others back off with jitter.
    const wait = error.code === 'ZENODO_RATE_LIMITED' ? 0 : backoff(attempt);
    log.warn({ op: call.op, subject: call.subject, attempt, code: error.code, status: error.details?.status, waitMs: wait }, 'zenodo request failed, retrying');
    if (wait > 0) await sleep(wait);
  }

  /** One attempt mapped to a result or an AppError. */
  async function attempt(call: Call): Promise<Answer> {
    const answer = await exchange(call);
    if (call.expect.includes(answer.status)) return answer;
    // A success status Zenodo does not give for this call: something in between answered.
    if (answer.status >= 200 && answer.status < 300) throw garbled(call, answer.status, `an unexpected status, ${call.expect.join(' or ')} was expected`);
    throw statusError(call, answer);
  }

  /**
   * Idempotent calls: retried on retryable errors, an answer that cannot be read included (the
   * parse runs inside the retry loop).
   */
  async function idempotent<T>(call: Call, parse: (answer: Answer) => T): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return parse(await attempt(call));
      } catch (error) {
        const e = asAppError(error);
        if (!e.retryable || n >= maxAttempts) throw e;
        await waitBeforeRetry(call, e, n);
      }
    }
  }

  /**
   * Non-idempotent calls: retried only when the request certainly did not run (429, connection
   * refused). Anything else, an unreadable answer included, is handed to the caller, who checks
   * the state first.
   */
  async function once<T>(call: Call, parse: (answer: Answer) => T): Promise<T> {
    for (let n = 1; ; n++) {
      let answer: Answer;
      try {
        answer = await attempt(call);
      } catch (error) {
        const e = asAppError(error);
        const notRun = e.code === 'ZENODO_RATE_LIMITED' || e.details?.notSent === true;
        if (!notRun || n >= maxAttempts) throw e;
        await waitBeforeRetry(call, e, n);
        continue;
      }
      return parse(answer);
    }
  }

  function asAppError(error: unknown): AppError {
    if (isAppError(error)) return error;
    return new AppError('INTERNAL', scrub(error instanceof Error ? error.message : String(error)), { cause: error });
  }

  /**
   * An error after which a non-idempotent request may or may not have run: no answer (5xx,
   * timeout, reset after sending) or an answer we could not read.
   */
  function isUnknownOutcome(error: AppError): boolean {
    if (error.details?.garbled === true) return true;
    return error.code === 'ZENODO_UNAVAILABLE' && error.details?.notSent !== true;
  }

  function json(call: Pick<Call, 'op' | 'subject'>, answer: Answer): unknown {
    // Zenodo answers application/json only (reference §1). Anything else came from something in
    // between (a proxy's error or login page) and is not trusted even if it happens to parse.
    const type = header(answer.headers, 'content-type');
    if (type !== undefined && !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type.trim())) {
      throw garbled(call, answer.status, `content type "${type.slice(0, 80)}" instead of JSON`);
    }
    try {
      return JSON.parse(answer.text) as unknown;
    } catch (error) {
      throw garbled(call, answer.status, answer.text.length === 0 ? 'an empty body' : 'a body that is not JSON, probably cut short', error);
    }
  }

  // --- parsing -----------------------------------------------------------------------------------

  function toFile(raw: unknown, call: Pick<Call, 'op' | 'subject'>): ZenodoFile {
    const r = fileSchema.safeParse(raw);
    const f = r.success ? r.data : undefined;
    const id = f?.id ?? f?.file_id;
    const filename = f?.filename ?? f?.key;
    const size = f?.filesize ?? f?.size;
    const md5 = md5Of(f?.checksum);
    if (id === undefined || filename === undefined || size === undefined || md5 === undefined) {
      throw badResponse(call, 'a file entry without id, name, size or md5 checksum');
    }
    return { id, filename, size, md5 };
  }

  function toDeposition(raw: unknown, call: Pick<Call, 'op' | 'subject'>): Deposition {
    const r = depositionSchema.safeParse(raw);
    if (!r.success) throw badResponse(call, 'a deposition without an integer id');
    const d = r.data;
    const links = d.links ?? {};
    const metadata = d.metadata ?? {};
    const state = d.state ?? (d.status === 'published' ? 'done' : 'unsubmitted');
    return {
      id: d.id,
      conceptRecid: d.conceptrecid ?? null,
      doi: d.doi ?? null,
      conceptDoi: d.conceptdoi ?? null,
      submitted: d.submitted ?? state !== 'unsubmitted',
      state,
      bucketUrl: links.bucket ?? null,
      htmlUrl: links.html ?? null,
      title: d.title ?? (typeof metadata.title === 'string' ? metadata.title : ''),
      files: (d.files ?? []).map((f) => toFile(f, call)),
      metadata,
      links,
    };
  }

  async function getJson<T>(call: Omit<Call, 'method' | 'expect'>, parse: (body: unknown) => T): Promise<T> {
    const full: Call = { ...call, method: 'GET', expect: [200] };
    return idempotent(full, (answer) => readAnswer(full, answer, parse));
  }

  // --- operations --------------------------------------------------------------------------------

  async function getDeposition(id: number): Promise<Deposition> {
    const call = { op: 'get deposition', subject: `deposition ${id}`, url: depositionUrl(id) };
    return getJson(call, (body) => toDeposition(body, call));
  }

  async function listDepositions(query: ListQuery = {}): Promise<Deposition[]> {
    const url = apiUrl('deposit/depositions');
    if (query.q !== undefined) url.searchParams.set('q', query.q);
    if (query.page !== undefined) url.searchParams.set('page', String(query.page));
    url.searchParams.set('size', String(Math.min(100, Math.max(1, query.size ?? 25))));
    if (query.sort !== undefined) url.searchParams.set('sort', query.sort);
    if (query.allVersions) url.searchParams.set('all_versions', 'true');
    if (query.status !== undefined) url.searchParams.set('status', query.status);
    const call = { op: 'list depositions', url };
    return getJson(call, (body) => {
      if (!Array.isArray(body)) throw badResponse(call, 'something other than a list');
      return body.map((d) => toDeposition(d, call));
    });
  }

  /** Searches with `q`, then scans the newest pages if the index has nothing yet (Q15). */
  async function findDeposition(q: string | undefined, match: (d: Deposition) => boolean, opts: { allVersions?: boolean } = {}): Promise<Deposition | undefined> {
    if (q !== undefined) {
      const hits = await listDepositions({ q, size: LIST_PAGE_SIZE, allVersions: opts.allVersions });
      const found = hits.filter(match);
      if (found.length > 0) return newest(found);
    }
    for (let page = 1; page <= SCAN_PAGES; page++) {
      const hits = await listDepositions({ page, size: LIST_PAGE_SIZE, sort: 'mostrecent', allVersions: opts.allVersions });
      const found = hits.filter(match);
      if (found.length > 0) return newest(found);
      if (hits.length < LIST_PAGE_SIZE) break;
    }
    return undefined;
  }

  function newest(list: Deposition[]): Deposition {
    return list.reduce((a, b) => (b.id > a.id ? b : a));
  }

  async function findPendingDraft(conceptRecid: string): Promise<Deposition | undefined> {
    const concept = checkId(conceptRecid);
    return findDeposition(`conceptrecid:${concept}`, (d) => d.conceptRecid === concept && d.state === 'unsubmitted');
  }

  async function findUnpublishedDraft(marker: string): Promise<Deposition | undefined> {
    const hasMarker = (d: Deposition): boolean => {
      const related = d.metadata.related_identifiers;
      return Array.isArray(related) && related.some((r) => r !== null && typeof r === 'object' && (r as Record<string, unknown>).identifier === marker);
    };
    // Never published: no concept DOI yet. Zenodo's search syntax for related identifiers is not
    // documented for the shim, so the match is done here on the newest depositions.
    return findDeposition(undefined, (d) => d.state === 'unsubmitted' && d.conceptDoi === null && hasMarker(d));
  }

  async function createDeposition(metadata?: Record<string, unknown> | object): Promise<Deposition> {
    const call: Call = { op: 'create deposition', method: 'POST', url: apiUrl('deposit/depositions'), json: metadata === undefined ? {} : { metadata }, expect: [201, 200] };
    const related = metadata === undefined ? undefined : (metadata as { related_identifiers?: unknown }).related_identifiers;
    const marker = Array.isArray(related) ? (related[0] as { identifier?: unknown } | undefined)?.identifier : undefined;
    for (let n = 1; ; n++) {
      try {
        return await once(call, (answer) => readAnswer(call, answer, (body) => toDeposition(body, call)));
      } catch (error) {
        const e = asAppError(error);
        if (!isUnknownOutcome(e)) throw e;
        // The draft may exist although the answer was lost (Q10). Without a marker to find it by,
        // a retry could leave an orphan draft: hand the error to the caller instead.
        if (typeof marker !== 'string') throw e;
        const existing = await lookUpCreated(marker, e);
        if (existing) {
          log.info({ depositionId: existing.id, code: e.code }, 'zenodo create: the answer was lost but the draft exists; using it');
          return existing;
        }
        if (n >= maxAttempts) throw e;
        await waitBeforeRetry(call, e, n);
      }
    }
  }

  /**
   * After a create whose answer was lost: the draft it made, if any. Zenodo's list lags behind
   * by a few seconds (Q15), so the list is read several times with growing pauses (at least 0.5,
   * 1 and 2 s with the default backoff) before the caller may create again.
   *
   * The remaining window: a create that ran but stays invisible for longer than these reads is
   * created a second time, and the first draft is left unpublished, never a second published
   * record (only the draft we return is ever published). If the lookup itself cannot be
   * completed, we do not create again at all: the caller gets the unknown outcome (retryable),
   * and the sync worker, which noted the creation before making it, searches again on its next
   * try (worker.ts openDraft, `mayHaveUnrecordedDeposition`), by then long after the lag.
   */
  async function lookUpCreated(marker: string, lost: AppError): Promise<Deposition | undefined> {
    const reads = 4;
    for (let k = 1; k <= reads; k++) {
      let found: Deposition | undefined;
      try {
        found = await findUnpublishedDraft(marker);
      } catch (error) {
        const e = asAppError(error);
        throw new AppError(
          'ZENODO_UNAVAILABLE',
          scrub(`Zenodo create deposition: the answer was lost and the drafts could not be listed to see whether it was created (${e.message}); it is looked up again before any new attempt`),
          { retryable: true, cause: lost, details: { operation: 'create deposition', lookup: e.code } },
        );
      }
      if (found) return found;
      if (k < reads) await sleep(baseDelay * 2 ** (k - 1) + backoff(k));
    }
    return undefined;
  }

  async function updateMetadata(id: number, metadata: Record<string, unknown> | object): Promise<Deposition> {
    const call: Call = { op: 'update metadata', subject: `deposition ${id}`, method: 'PUT', url: depositionUrl(id), json: { metadata }, expect: [200] };
    return idempotent(call, (answer) => readAnswer(call, answer, (body) => toDeposition(body, call)));
  }

  async function listFiles(id: number): Promise<ZenodoFile[]> {
    const call = { op: 'list files', subject: `deposition ${id}`, url: depositionUrl(id, '/files') };
    return getJson(call, (body) => {
      if (!Array.isArray(body)) throw badResponse(call, 'something other than a list of files');
      return body.map((f) => toFile(f, call));
    });
  }

  /**
   * DELETE-like calls. After an unknown outcome (no answer, or one we cannot read) `done()`
   * re-reads the state before sending again; a 404 on a retry also means an earlier attempt did
   * the job.
   */
  async function deleteLike(call: Call, done: () => Promise<boolean>): Promise<void> {
    for (let n = 1; ; n++) {
      let e: AppError;
      try {
        const answer = await attempt(call);
        // 204 has no body; a body on 200/201 (legacy discard) must be Zenodo's JSON, not a page
        // from something in between that may never have passed the request on.
        if (answer.status !== 204 && answer.text.trim() !== '') json(call, answer);
        return;
      } catch (error) {
        e = asAppError(error);
      }
      if (n > 1 && e.code === 'ZENODO_NOT_FOUND') return;
      if (isUnknownOutcome(e)) {
        let gone = false;
        try {
          gone = await done();
        } catch (error) {
          if (!asAppError(error).retryable) throw error;
        }
        if (gone) {
          log.info({ op: call.op, subject: call.subject, code: e.code }, 'zenodo: the answer was lost but the change is there');
          return;
        }
      }
      if (!e.retryable || n >= maxAttempts) throw e;
      await waitBeforeRetry(call, e, n);
    }
  }

  async function deleteFile(id: number, fileId: string): Promise<void> {
    if (!/^[A-Za-z0-9-]{1,100}$/.test(fileId)) throw new AppError('ZENODO_NOT_FOUND', `"${scrub(fileId).slice(0, 60)}" is not a Zenodo file id`);
    const call: Call = { op: 'delete file', subject: `file ${fileId} of deposition ${id}`, method: 'DELETE', url: depositionUrl(id, `/files/${fileId}`), expect: [204, 200] };
    await deleteLike(call, async () => !(await listFiles(id)).some((f) => f.id === fileId));
  }

  async function discard(id: number): Promise<void> {
    const call: Call = { op: 'discard', subject: `deposition ${id}`, method: 'POST', url: depositionUrl(id, '/actions/discard'), expect: [204, 201, 200] };
    // Discarding a never-published draft deletes it (Q16); an edit draft goes back to "done".
    await deleteLike(call, async () => {
      try {
        return (await getDeposition(id)).state === 'done';
      } catch (error) {
        if (isAppError(error, 'ZENODO_NOT_FOUND')) return true;
        throw error;
      }
    });
  }

  async function edit(id: number): Promise<Deposition> {
    // Idempotent in RDM: an existing edit draft is returned (DR:svc edit, §4.4).
    const call: Call = { op: 'edit', subject: `deposition ${id}`, method: 'POST', url: depositionUrl(id, '/actions/edit'), expect: [201, 200] };
    return idempotent(call, (answer) => readAnswer(call, answer, (body) => toDeposition(body, call)));
  }

  async function publish(id: number): Promise<Deposition> {
    const call: Call = { op: 'publish', subject: `deposition ${id}`, method: 'POST', url: depositionUrl(id, '/actions/publish'), expect: [202, 200] };
    let last: AppError | undefined;
    let reread = false;
    let refused: AppError | undefined;
    for (let n = 1; n <= maxAttempts; n++) {
      if (reread) {
        // The previous answer was lost or unreadable (504, reset, a mangled 200): did it publish? (Q8)
        let current: Deposition;
        try {
          current = await getDeposition(id);
        } catch (error) {
          // Unreadable or unavailable after the GET's own retries: look again next round, and
          // never publish again before we know.
          const e = asAppError(error);
          if (e.retryable) {
            last = e;
            continue;
          }
          throw e;
        }
        if (current.state === 'done' && current.submitted) {
          log.info({ depositionId: id, doi: current.doi, code: last?.code }, 'zenodo publish: the answer was lost but the record is published');
          return current;
        }
        if (refused) throw refused;
      }
      try {
        return await once(call, (answer) => readAnswer(call, answer, (body) => toDeposition(body, call)));
      } catch (error) {
        const e = asAppError(error);
        last = e;
        reread = true;
        // RDM answers 404 to publishing a published record: an earlier attempt (ours, or a run
        // that died) may have done it. The re-read decides; if it is not published, the 404 stands.
        if (e.code === 'ZENODO_NOT_FOUND') {
          refused = e;
          continue;
        }
        if (!isUnknownOutcome(e)) throw e;
        await waitBeforeRetry(call, e, n);
      }
    }
    throw new AppError(
      'ZENODO_PUBLISH_UNKNOWN',
      scrub(`Zenodo publish (deposition ${id}): no readable answer after ${maxAttempts} attempts and the deposition could not be seen as published; it will be checked again before any retry`),
      { retryable: true, cause: last, details: { operation: 'publish', depositionId: id } },
    );
  }

  function idOfLink(link: string | undefined): number | undefined {
    const m = link === undefined ? null : /\/(\d+)\/?$/.exec(new URL(link, apiBase).pathname);
    return m ? Number(m[1]) : undefined;
  }

  async function newVersion(id: number): Promise<Deposition> {
    const call: Call = { op: 'new version', subject: `record ${id}`, method: 'POST', url: depositionUrl(id, '/actions/newversion'), expect: [201, 200] };
    let concept: string | undefined;
    const conceptOf = async (): Promise<string> => {
      concept ??= (await getDeposition(id)).conceptRecid ?? undefined;
      if (concept === undefined) throw badResponse({ op: 'new version', subject: `record ${id}` }, 'a record without conceptrecid');
      return concept;
    };
    /** The pending draft, allowing for the list index lagging behind (Q15). */
    const pending = async (): Promise<Deposition | undefined> => {
      const c = await conceptOf();
      for (let n = 1; n <= 3; n++) {
        const found = await findPendingDraft(c);
        if (found) return found;
        if (n < 3) await sleep(backoff(n + 1) + 200);
      }
      return undefined;
    };
    for (let n = 1; ; n++) {
      let body: Deposition;
      try {
        body = await once(call, (answer) => readAnswer(call, answer, (raw) => toDeposition(raw, call)));
      } catch (error) {
        const e = asAppError(error);
        const filesFirst =
          e.code === 'ZENODO_VALIDATION' &&
          JSON.stringify(e.details?.errors ?? []).includes('remove all files first');
        if (filesFirst) {
          // A pending draft with files exists, e.g. from a run that crashed (Q1): resume it.
          const draft = await pending();
          if (draft) return draft;
          throw new AppError('ZENODO_CONFLICT', `Zenodo says record ${id} already has a new version in preparation, but it cannot be found in the deposition list yet; retry later`, {
            retryable: true, cause: e, details: { operation: 'new version', recordId: id },
          });
        }
        if (!isUnknownOutcome(e)) throw e;
        // Sending newversion again is safe under RDM: with a pending draft it answers 400 "remove
        // all files first" (resolved above, with the list's lag allowed for) or that same draft.
        const draft = await findPendingDraft(await conceptOf()).catch(() => undefined);
        if (draft) return draft;
        if (n >= maxAttempts) throw e;
        await waitBeforeRetry(call, e, n);
        continue;
      }
      if (body.id !== id) return body;
      // Legacy style (§4.3): the answer is the original record and the draft is behind
      // links.latest_draft. Under RDM latest_draft on an old version points at itself (Q3).
      const draftId = idOfLink(body.links.latest_draft);
      if (draftId !== undefined && draftId !== id) return getDeposition(draftId);
      const draft = await pending();
      if (draft) return draft;
      throw badResponse(call, 'the original record and no new draft');
    }
  }

  function toRecord(raw: unknown, call: Pick<Call, 'op' | 'subject'>): Deposition {
    const d = toDeposition(raw, call);
    // Records are published by definition; their JSON may say so with `status` only.
    return { ...d, state: d.state === 'unsubmitted' ? 'done' : d.state, submitted: true };
  }

  async function getRecord(id: number | string): Promise<Deposition> {
    const call = { op: 'get record', subject: `record ${String(id)}`, url: apiUrl(`records/${checkId(id)}`) };
    return getJson(call, (body) => toRecord(body, call));
  }

  function isLatest(hit: unknown): boolean {
    const h = hit as { versions?: { is_latest?: unknown }; metadata?: { relations?: { version?: { is_last?: unknown }[] } } } | null;
    return h?.versions?.is_latest === true || h?.metadata?.relations?.version?.[0]?.is_last === true;
  }

  async function latestViaVersions(id: string): Promise<Deposition | undefined> {
    const url = apiUrl(`records/${id}/versions`);
    url.searchParams.set('size', '10');
    url.searchParams.set('sort', 'version');
    const call = { op: 'list versions', subject: `record ${id}`, url };
    try {
      return await getJson(call, (body) => {
        const r = versionsSchema.safeParse(body);
        if (!r.success) throw badResponse(call, 'a versions list without hits');
        const hits = r.data.hits.hits;
        if (hits.length === 0) return undefined;
        const records = hits.map((h) => toRecord(h, call));
        const flagged = hits.findIndex(isLatest);
        return flagged >= 0 ? records[flagged] : newest(records);
      });
    } catch (error) {
      if (isAppError(error, 'ZENODO_NOT_FOUND')) return undefined;
      throw error;
    }
  }

  async function findLatestVersion(recordOrConceptId: string | number): Promise<Deposition | undefined> {
    const id = checkId(recordOrConceptId);
    const viaRecord = await latestViaVersions(id);
    if (viaRecord) return viaRecord;
    // Not a record id: maybe a concept recid. Find a published version of that concept among our
    // depositions, then ask its versions list for the latest.
    const member = await findDeposition(`conceptrecid:${id}`, (d) => d.conceptRecid === id && d.submitted, { allVersions: true });
    if (!member) return undefined;
    return (await latestViaVersions(String(member.id))) ?? member;
  }

  // --- uploads -----------------------------------------------------------------------------------

  async function uploadFile(bucketUrl: string, filename: string, body: Readable, size: number): Promise<UploadResult> {
    const subject = `file "${filename}"`;
    const call = { op: 'upload', subject };
    // Listened to for as long as the stream lives, before anything can destroy it: an undici
    // response body destroyed before it was read to the end emits RequestAbortedError, and an
    // 'error' without a listener kills the process (every restart resumed the same sync and died
    // again on a 0-byte resource).
    let sourceError: unknown;
    body.on('error', (error) => {
      sourceError ??= error;
    });
    if (size === 0) {
      release(body);
      throw emptyFile(filename);
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      release(body);
      throw new AppError('INTERNAL', `invalid upload size ${String(size)} for ${subject}`, { details: { operation: 'upload', filename, size } });
    }
    if (filename === '' || filename.includes('/')) {
      release(body);
      throw new AppError('ZENODO_VALIDATION', `a Zenodo file name cannot be empty or contain "/" (${subject})`, { details: { filename } });
    }
    let bucket: URL;
    try {
      bucket = ownUrl(bucketUrl, 'bucket');
    } catch (error) {
      release(body);
      throw error;
    }
    const url = new URL(`${bucket.href.replace(/\/+$/, '')}/${encodeURIComponent(filename)}`);
    const hash = createHash('md5');
    let sent = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        sent += chunk.length;
        done(null, chunk);
      },
    });
    // stream.pipeline destroys the source when undici aborts the upload, and the meter when the
    // source fails, so neither leaks.
    pipeline(body, meter, (error) => {
      if (error) sourceError ??= error;
    });
    // undici destroys the meter with its own error when the request fails; that error is the
    // request's rejection, handled below.
    meter.on('error', () => undefined);

    const settle = await acquire();
    counters.requests++;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: 'PUT',
        // Zenodo rejects chunked uploads and any type but octet-stream (§7, Q7).
        headers: headersFor(url, { 'content-type': 'application/octet-stream', 'content-length': String(size) }),
        body: meter,
        dispatcher,
        headersTimeout: uploadTimeoutMs,
        bodyTimeout: timeoutMs,
      }).finally(settle);
    } catch (error) {
      meter.destroy();
      release(body);
      if (sourceError !== undefined && body.errored) throw sourceFailure(sourceError, subject);
      const code = (error as { code?: string }).code;
      if (code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
        throw new AppError('DOWNLOAD_FAILED', `the source of ${subject} gave ${sent === size ? 'more' : `${sent}`} bytes, ${size} were announced`, {
          retryable: true, cause: error, details: { operation: 'upload', filename, expected: size, sent },
        });
      }
      throw networkError(call, error);
    }
    let text: string;
    try {
      text = await readCapped(res.body);
    } catch (error) {
      throw networkError(call, error);
    }
    noteRate(res.headers, res.statusCode);
    opts.onResponse?.(res.statusCode);
    const answer: Answer = { status: res.statusCode, headers: res.headers, text };
    if (res.statusCode !== 201 && res.statusCode !== 200) {
      throw res.statusCode >= 200 && res.statusCode < 300 ? garbled(call, res.statusCode, 'an unexpected status, 201 was expected') : statusError(call, answer);
    }
    // An unreadable answer: retryable like a lost one (a bucket PUT overwrites its key, §7).
    const parsed = readAnswer(call, answer, (raw) => {
      const r = bucketObjectSchema.safeParse(raw);
      if (!r.success) throw badResponse(call, 'an upload answer without key and size');
      return r.data;
    });
    const md5 = hash.digest('hex');
    const stored = md5Of(parsed.checksum);
    if (sent !== size || parsed.size !== size || stored !== md5) {
      throw new AppError(
        'ZENODO_CHECKSUM_MISMATCH',
        `Zenodo stored ${subject} with ${parsed.size} bytes and md5 ${stored ?? 'unknown'}, but ${sent} bytes with md5 ${md5} were sent; the upload is repeated`,
        { retryable: true, details: { operation: 'upload', filename, sentBytes: sent, storedBytes: parsed.size, sentMd5: md5, storedMd5: stored ?? null } },
      );
    }
    log.debug({ op: 'upload', filename, size, md5 }, 'zenodo upload verified');
    return { key: parsed.key, size: parsed.size, md5 };
  }

  function emptyFile(filename: string): AppError {
    return new AppError(
      'ZENODO_EMPTY_FILE',
      `file "${filename}" is empty (0 bytes) and Zenodo refuses empty files ("Empty files are not accepted."); remove the empty resource from the dataset or give it content`,
      { details: { operation: 'upload', filename, size: 0 } },
    );
  }

  function sourceFailure(error: unknown, subject: string): AppError {
    if (isAppError(error)) return error;
    return new AppError('DOWNLOAD_FAILED', scrub(`reading the source of ${subject} failed: ${(error as Error)?.message ?? String(error)}`), { retryable: true, cause: error });
  }

  async function uploadFileWithRetry(bucketUrl: string, filename: string, openBody: () => Promise<UploadSource>, size?: number): Promise<UploadResult> {
    const call = { op: 'upload', subject: `file "${filename}"` };
    for (let n = 1; ; n++) {
      if (size === 0) throw emptyFile(filename);
      const opened = await openBody();
      const stream = 'pipe' in opened ? opened : opened.body;
      const length = 'pipe' in opened ? size : opened.size;
      const cleanup = 'pipe' in opened ? undefined : opened.cleanup;
      stream.on('error', () => undefined); // see uploadFile: never an unhandled 'error'
      try {
        if (length === undefined) throw new AppError('INTERNAL', `upload of ${call.subject}: no size given`);
        return await uploadFile(bucketUrl, filename, stream, length);
      } catch (error) {
        const e = asAppError(error);
        if (!e.retryable || n >= maxAttempts) throw e;
        await waitBeforeRetry(call, e, n);
      } finally {
        release(stream);
        await cleanup?.().catch((error: unknown) => log.warn({ err: error, filename }, 'upload source cleanup failed'));
      }
    }
  }

  return {
    apiUrl: apiBase.href.replace(/\/$/, ''),
    getDeposition,
    listDepositions,
    createDeposition,
    updateMetadata,
    listFiles,
    deleteFile,
    uploadFile,
    uploadFileWithRetry,
    newVersion,
    findPendingDraft,
    findUnpublishedDraft,
    findLatestVersion,
    publish,
    edit,
    discard,
    getRecord,
    stats: () => ({ ...counters }),
    async close() {
      await ownAgent?.close();
    },
  };
}
