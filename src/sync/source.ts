/**
 * Opens the bytes of one resource for upload: CKAN download or DataStore CSV export.
 *
 * - The CKAN token is sent only to the CKAN origin, never to another host (a resource URL or a
 *   redirect target elsewhere).
 * - Every hop is checked by the SSRF guard (url-guard.ts), at connection time.
 * - Zenodo needs a Content-Length (reference zenodo-api.md §7); when the source gives none
 *   (DataStore dumps, chunked responses) the body is spooled to a temp file first, so memory stays
 *   flat whatever the size.
 * - Resource servers are hostile or broken: every download has a deadline and a minimum rate (a
 *   server sending 1 byte/s would otherwise hold a sync slot for days), and bytes are counted
 *   while they stream: more than the rule's max_size, the Content-Length or CKAN's declared size
 *   stops the download at once, and all spool files of this process together stay under
 *   `[sync] spool_max` (the disk may also hold the embedded database).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatBytes, type PlannedFile } from './plan.js';
import { checkUrl, guardedLookup, isAllowListed, isPublicAddress, type HostPolicy } from './url-guard.js';

/** Limits of one download (`[sync] download_*`). */
export interface DownloadLimits {
  /** Longest one download may take, first request to last byte. */
  timeoutMs: number;
  /** Slowest accepted average rate in bytes/s over `minRateWindowMs`; 0: no minimum. */
  minRate: number;
  minRateWindowMs: number;
}

/**
 * Bytes held by this process's spool files together, against `[sync] spool_max`. One per process
 * (created by the composition root), shared by every concurrent download.
 */
export interface SpoolBudget {
  readonly max: number;
  used: number;
}

export function createSpoolBudget(max: number): SpoolBudget {
  return { max, used: 0 };
}

export interface SourceOptions {
  ckanUrl: string;
  ckanToken: string | undefined;
  policy: HostPolicy;
  spoolDir: string;
  userAgent: string;
  timeoutMs: number;
  dispatcher?: Dispatcher;
  limits: DownloadLimits;
  spool: SpoolBudget;
  /** The rule's `resources.max_size` in bytes. */
  maxBytes?: number | undefined;
  /** The size CKAN declares for the resource; null, undefined or 0: unknown. */
  declaredSize?: number | null | undefined;
  /** When this file's download time started (epoch ms); default now. See createSourceOpener. */
  startedAt?: number | undefined;
}

export interface OpenedSource {
  body: Readable;
  size: number;
  /** True when the body comes from a spool file (deleted by `cleanup`). */
  spooled: boolean;
  cleanup(): Promise<void>;
}

const MAX_REDIRECTS = 5;

/** The dispatcher all downloads share: timeouts, keep-alive and the SSRF-checking DNS lookup. */
export function createDownloadDispatcher(policy: HostPolicy, timeoutMs: number): Agent {
  return new Agent({
    connect: { timeout: timeoutMs, lookup: guardedLookup(policy) as never },
    headersTimeout: timeoutMs,
    // A stalled body is a failed download; large files keep flowing, so this is not a size limit.
    bodyTimeout: timeoutMs,
  });
}

function unwrap(error: unknown): AppError | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (isAppError(e)) return e;
  }
  return undefined;
}

/**
 * Drops a response body without reading it. Not `dump()`: it reads on, and a hostile server can
 * send that slowly. undici's body emits an abort error when destroyed unread, which without a
 * listener is an uncaught exception that ends the process.
 */
function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** URL without credentials and query string (queries can carry signed-URL secrets), kept short. */
function describe(url: URL): string {
  const path = url.pathname.length > 200 ? `${url.pathname.slice(0, 200)}…` : url.pathname;
  return `${url.origin}${path}`;
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 3600 && s % 3600 === 0 ? `${s / 3600} h` : s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}

function deadlineError(what: string, limits: DownloadLimits, received: number): AppError {
  // Permanent: the default deadline is generous (a day), so a download that needs longer is a
  // size/rate mismatch that a retry an hour later rarely fixes, and every retry would hold a
  // sync slot for as long again. The operator raises the limit and runs `retry <dataset>`.
  return new AppError(
    'DOWNLOAD_FAILED',
    `the download of ${what} did not finish within ${seconds(limits.timeoutMs)} (${formatBytes(received)} received): raise [sync] download_timeout_seconds (now ${Math.round(limits.timeoutMs / 1000)}) if the server is known to be this slow, then retry the dataset`,
    { details: { url: what, limit: 'download_timeout_seconds', timeoutMs: limits.timeoutMs, received } },
  );
}

/** Sends a GET, following redirects by hand so the token and the guard apply per hop. */
async function get(rawUrl: string, opts: SourceOptions, deadlineAt: number, signal: AbortSignal | undefined): Promise<{ response: Dispatcher.ResponseData; url: URL }> {
  const ckanOrigin = new URL(opts.ckanUrl).origin;
  let url = checkUrl(rawUrl, opts.policy);
  const visited = new Set<string>([url.href]);
  // The deadline covers waiting for answers too (a server that never answers redirects slowly);
  // only the request phase is aborted this way: the body is watched by the stream guard.
  const expiry = new AbortController();
  const timer = setTimeout(() => expiry.abort(), Math.max(0, deadlineAt - Date.now()));
  timer.unref();
  const combined = signal ? AbortSignal.any([signal, expiry.signal]) : expiry.signal;
  try {
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': opts.userAgent, accept: '*/*' };
      // CKAN takes its API token raw in Authorization (ckan-api.md §2); never beyond its origin.
      if (opts.ckanToken && url.origin === ckanOrigin) headers.authorization = opts.ckanToken;
      let response: Dispatcher.ResponseData;
      try {
        // undici's request never follows redirects by itself (v7), which is what we need here.
        response = await request<null>(url, { method: 'GET', headers, signal: combined, dispatcher: opts.dispatcher });
      } catch (error) {
        const guard = unwrap(error);
        if (guard) throw guard;
        if (expiry.signal.aborted && !signal?.aborted) throw deadlineError(describe(url), opts.limits, 0);
        throw new AppError('DOWNLOAD_FAILED', `could not download ${describe(url)}: ${(error as Error).message}`, { retryable: true, cause: error });
      }
      if (response.statusCode >= 300 && response.statusCode < 400 && response.headers.location) {
        discard(response.body);
        // Both are properties of the resource URL, not passing faults: permanent, fixed in CKAN.
        let next: URL;
        try {
          next = checkUrl(new URL(String(response.headers.location), url).toString(), opts.policy);
        } catch (error) {
          if (isAppError(error)) throw error;
          throw new AppError('DOWNLOAD_FAILED', `downloading ${describe(url)} redirects to an invalid URL; fix the resource URL in CKAN`, { cause: error });
        }
        if (visited.has(next.href)) {
          throw new AppError('DOWNLOAD_FAILED', `downloading ${describe(url)} runs into a redirect loop (back to ${describe(next)}); fix the resource URL in CKAN or the server's redirects`, {
            details: { url: describe(url), redirects: hop + 1 },
          });
        }
        if (hop >= MAX_REDIRECTS) {
          throw new AppError('DOWNLOAD_FAILED', `downloading ${describe(url)} was redirected more than ${MAX_REDIRECTS} times; put the final address of the file in CKAN`, {
            details: { url: describe(url), redirects: hop + 1 },
          });
        }
        visited.add(next.href);
        url = next;
        continue;
      }
      if (response.statusCode >= 200 && response.statusCode < 300) return { response, url };
      discard(response.body);
      const retryable = response.statusCode >= 500 || response.statusCode === 429 || response.statusCode === 408;
      const hint =
        response.statusCode === 403 || response.statusCode === 401
          ? ' (the CKAN token cannot read this resource: is the dataset private and the token not a member or sysadmin?)'
          : response.statusCode === 404
            ? ' (the file is missing on the server)'
            : '';
      throw new AppError('DOWNLOAD_FAILED', `downloading ${describe(url)} answered HTTP ${response.statusCode}${hint}`, {
        retryable,
        details: { status: response.statusCode },
      });
    }
  } finally {
    clearTimeout(timer);
  }
}

interface GuardSpec {
  /** The resource, as shown in messages. */
  what: string;
  limits: DownloadLimits;
  deadlineAt: number;
  maxBytes: number | undefined;
  /** Sizes the sources announced: more bytes than any of them is a lie. */
  declared: { bytes: number; by: 'Content-Length' | 'CKAN' }[];
  /** Set when the bytes go to a spool file. */
  spool: SpoolBudget | undefined;
}

interface Guard {
  stream: Transform;
  received(): number;
  /** Gives this download's spooled bytes back to the budget (spool file deleted). */
  release(): void;
}

/**
 * A pass-through that enforces the limits while bytes stream: counts (max_size, declared sizes,
 * spool budget) on every chunk, time (deadline, minimum rate) on a timer, so a server that sends
 * nothing at all is cut too. It fails by destroying itself with an AppError, which stops the
 * download (pipeline destroys the response) and reaches whoever reads it.
 */
function guardDownload(spec: GuardSpec): Guard {
  const { limits } = spec;
  let received = 0;
  let spooled = 0;
  let samples: { at: number; bytes: number }[] = [{ at: Date.now(), bytes: 0 }];
  const fail = (stream: Transform, error: AppError): void => {
    if (!stream.destroyed) stream.destroy(error);
  };
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      if (spec.maxBytes !== undefined && received > spec.maxBytes) {
        const ckan = spec.declared.find((d) => d.by === 'CKAN');
        done(
          new AppError(
            'DOWNLOAD_REFUSED',
            `${spec.what} is larger than the rule's max_size of ${formatBytes(spec.maxBytes)}${ckan ? ` although CKAN declares ${formatBytes(ckan.bytes)}` : ''}: the download was stopped. Correct the resource's size in CKAN so that it is skipped, or raise resources.max_size in rules.yaml`,
            { details: { url: spec.what, limit: 'max_size', maxBytes: spec.maxBytes, received } },
          ),
        );
        return;
      }
      const lie = spec.declared.find((d) => received > d.bytes);
      if (lie) {
        const fix = lie.by === 'CKAN' ? 'correct the size in CKAN (or clear it) and the next scan archives the resource' : 'the server is broken or not trustworthy';
        done(
          new AppError(
            'DOWNLOAD_REFUSED',
            `${spec.what} sent more than the ${formatBytes(lie.bytes)} ${lie.by === 'CKAN' ? 'CKAN declares for the resource' : 'its Content-Length announced'}: the download was stopped and nothing is archived; ${fix}`,
            { details: { url: spec.what, limit: lie.by === 'CKAN' ? 'ckan_size' : 'content_length', declared: lie.bytes, received } },
          ),
        );
        return;
      }
      if (spec.spool) {
        spooled += chunk.length;
        spec.spool.used += chunk.length;
        if (spec.spool.used > spec.spool.max) {
          const alone = spooled > spec.spool.max;
          done(
            new AppError(
              alone ? 'DOWNLOAD_REFUSED' : 'DOWNLOAD_FAILED',
              alone
                ? `${spec.what} sent more than [sync] spool_max (${formatBytes(spec.spool.max)}) without announcing a length: the download was stopped. Raise spool_max if the file is really this large and the disk has room`
                : `the spool is full (${formatBytes(spec.spool.max)}, [sync] spool_max, shared by the downloads running at once): the download of ${spec.what} was stopped and is retried later`,
              // Alone over the cap it can never fit; crowded out by others, it fits later.
              { retryable: !alone, details: { url: spec.what, limit: 'spool_max', spoolMax: spec.spool.max, received } },
            ),
          );
          return;
        }
      }
      done(null, chunk);
    },
  });

  const tick = (): void => {
    const now = Date.now();
    if (now >= spec.deadlineAt) return fail(stream, deadlineError(spec.what, limits, received));
    if (limits.minRate <= 0) return;
    // While the reader (the Zenodo upload of a direct stream) is the bottleneck, the source is
    // not to blame: restart the window.
    if (stream.readableLength >= stream.readableHighWaterMark || stream.writableNeedDrain) {
      samples = [{ at: now, bytes: received }];
      return;
    }
    samples.push({ at: now, bytes: received });
    while (samples.length > 2 && now - samples[1]!.at >= limits.minRateWindowMs) samples.shift();
    const first = samples[0]!;
    const elapsed = now - first.at;
    if (elapsed < limits.minRateWindowMs) return;
    const rate = ((received - first.bytes) * 1000) / elapsed;
    if (rate < limits.minRate) {
      // Retryable: a server that is slow now (overloaded, maintenance, a bad route) is often fine
      // an hour later; the queue retries with backoff and reports after [sync] max_attempts.
      fail(
        stream,
        new AppError(
          'DOWNLOAD_FAILED',
          `the download of ${spec.what} was stopped: it averaged ${formatBytes(Math.floor(rate))}/s over ${seconds(elapsed)}, below the minimum of ${formatBytes(limits.minRate)}/s ([sync] download_min_rate, over download_min_rate_seconds); it is retried later`,
          { retryable: true, details: { url: spec.what, limit: 'download_min_rate', rate: Math.floor(rate), minRate: limits.minRate, received } },
        ),
      );
    }
  };
  const every = Math.min(5000, Math.max(25, Math.floor(Math.min(limits.minRate > 0 ? limits.minRateWindowMs : Infinity, limits.timeoutMs) / 4)));
  // A cut can come while nobody listens yet (the reader is still waiting for its turn); the
  // reader gets the error anyway (stream.errored), and an unheard 'error' would end the process.
  stream.on('error', () => undefined);
  // Each layer that reads this one stream listens for its end once: this guard, the download's
  // pipeline, the source opener, the upload client and its pipeline (about 11 'error' listeners,
  // all removed with the stream). Node's default warning at 10 would report that as a leak.
  stream.setMaxListeners(20);
  const timer = setInterval(tick, every);
  timer.unref();
  stream.once('close', () => clearInterval(timer));
  stream.once('end', () => clearInterval(timer));
  return {
    stream,
    received: () => received,
    release() {
      if (spec.spool) spec.spool.used -= spooled;
      spooled = 0;
    },
  };
}

// --- spool files ---------------------------------------------------------------------------------

/**
 * Spool file names say who owns them: `spool-<host>-<pid>-<start>-<random>`, host a short hash of
 * the host name (a spool_dir on a shared volume is seen from several machines), start the
 * process's start time (pid 1 in a container is "alive" in every incarnation). Owners touch their
 * files every HEARTBEAT_MS while they exist, so a file untouched for STALE_MS has no owner on any
 * host, whatever its name says.
 */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const START_TAG = Math.round(Date.now() - process.uptime() * 1000).toString(36);
const HEARTBEAT_MS = 60_000;
const STALE_MS = 10 * HEARTBEAT_MS;
const SPOOL_NAME = /^spool-([0-9a-f]{8})-(\d+)-([0-9a-z]+)-[0-9a-f-]+$/;

function spoolName(): string {
  return `spool-${HOST_TAG}-${process.pid}-${START_TAG}-${randomUUID()}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes spool files left by processes that stopped (killed mid-download or mid-upload), and
 * returns how many. Files of live processes are kept. Call once at start, before any download.
 */
export async function cleanSpool(spoolDir: string, log: Logger, now: number = Date.now()): Promise<number> {
  let names: string[];
  try {
    names = await readdir(spoolDir);
  } catch (error) {
    // Downloads that need the spool will say what is wrong with it; the others still work.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ spoolDir, err: error }, 'cannot read the spool folder to remove files left by stopped processes');
    return 0;
  }
  let removed = 0;
  let bytes = 0;
  for (const name of names) {
    if (!name.startsWith('spool-')) continue;
    const m = SPOOL_NAME.exec(name);
    let stale: boolean;
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(join(spoolDir, name));
    } catch {
      continue; // removed meanwhile by its owner
    }
    if (!info.isFile()) continue;
    const untouched = now - info.mtimeMs > STALE_MS;
    if (m && m[1] === HOST_TAG) {
      const pid = Number(m[2]);
      if (pid === process.pid) stale = m[3] !== START_TAG; // an earlier incarnation with our pid
      else stale = !isAlive(pid) || untouched; // untouched although "alive": the pid was reused
    } else {
      stale = untouched; // another host's, or an older version's name
    }
    if (!stale) continue;
    await rm(join(spoolDir, name), { force: true });
    removed++;
    bytes += info.size;
  }
  if (removed > 0) log.info({ spoolDir, removed, bytes }, 'removed spool files left by stopped processes');
  return removed;
}

// --- opening a source ------------------------------------------------------------------------------

export async function openSource(url: string, opts: SourceOptions, signal?: AbortSignal): Promise<OpenedSource> {
  const deadlineAt = (opts.startedAt ?? Date.now()) + opts.limits.timeoutMs;
  const { response, url: finalUrl } = await get(url, opts, deadlineAt, signal);
  const what = describe(finalUrl);
  const lengthHeader = response.headers['content-length'];
  const length = typeof lengthHeader === 'string' && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  const ckanSize = typeof opts.declaredSize === 'number' && opts.declaredSize > 0 ? opts.declaredSize : undefined;
  const declared: GuardSpec['declared'] = ckanSize === undefined ? [] : [{ bytes: ckanSize, by: 'CKAN' }];

  if (length !== undefined) {
    // Known before a byte is read: refuse without downloading.
    if (opts.maxBytes !== undefined && length > opts.maxBytes) {
      discard(response.body);
      throw new AppError(
        'DOWNLOAD_REFUSED',
        `${what} is ${formatBytes(length)} (its Content-Length), more than the rule's max_size of ${formatBytes(opts.maxBytes)}${ckanSize === undefined ? '' : ` although CKAN declares ${formatBytes(ckanSize)}`}: correct the resource's size in CKAN so that it is skipped, or raise resources.max_size in rules.yaml`,
        { details: { url: what, limit: 'max_size', maxBytes: opts.maxBytes, contentLength: length } },
      );
    }
    if (ckanSize !== undefined && length > ckanSize) {
      discard(response.body);
      throw new AppError(
        'DOWNLOAD_REFUSED',
        `${what} announces ${formatBytes(length)} but CKAN declares ${formatBytes(ckanSize)} for the resource: nothing is archived; correct the size in CKAN (or clear it) and the next scan archives the resource`,
        { details: { url: what, limit: 'ckan_size', declared: ckanSize, contentLength: length } },
      );
    }
    const guard = guardDownload({ what, limits: opts.limits, deadlineAt, maxBytes: opts.maxBytes, declared: [{ bytes: length, by: 'Content-Length' }, ...declared], spool: undefined });
    // Errors reach the reader through the guard; pipeline destroys the response when it fails.
    pipeline(response.body, guard.stream).catch(() => undefined);
    return {
      body: guard.stream,
      size: length,
      spooled: false,
      cleanup: () => {
        if (!guard.stream.destroyed) discard(guard.stream);
        return Promise.resolve();
      },
    };
  }

  await mkdir(opts.spoolDir, { recursive: true });
  const path = join(opts.spoolDir, spoolName());
  const guard = guardDownload({ what, limits: opts.limits, deadlineAt, maxBytes: opts.maxBytes, declared, spool: opts.spool });
  // Tells cleanSpool of other processes that this file has a live owner, also while it is read.
  const heartbeat = setInterval(() => {
    const at = new Date();
    utimes(path, at, at).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const cleanup = async (): Promise<void> => {
    clearInterval(heartbeat);
    await rm(path, { force: true });
    guard.release();
  };
  try {
    await pipeline(response.body, guard.stream, createWriteStream(path, { mode: 0o600 }));
  } catch (error) {
    await cleanup();
    if (isAppError(error)) throw error;
    throw new AppError('DOWNLOAD_FAILED', `the download of ${what} broke off: ${(error as Error).message}`, { retryable: true, cause: error });
  }
  // Counted, not stat'ed: the bytes written are the ones that passed the guard.
  const size = guard.received();
  const body = createReadStream(path);
  return {
    body,
    size,
    spooled: true,
    cleanup: async () => {
      body.destroy();
      await cleanup();
    },
  };
}

/**
 * openSource for the planned files of syncs. All attempts at one planned file within one sync
 * share one deadline (the Zenodo client reopens the source for each upload attempt): a slow
 * download never holds a sync slot past `[sync] download_timeout_seconds`. A file cut for being
 * below the minimum rate is not downloaded again in the same sync (the client would try again at
 * once, holding the slot for another window each time): its error is repeated, and the queue
 * retries the sync later. The next sync of the dataset (a new plan) starts afresh.
 */
export function createSourceOpener(base: Omit<SourceOptions, 'maxBytes' | 'declaredSize' | 'startedAt'>): (file: PlannedFile, signal?: AbortSignal) => Promise<OpenedSource> {
  const started = new WeakMap<PlannedFile, number>();
  const tooSlow = new WeakMap<PlannedFile, AppError>();
  return async (file, signal) => {
    const earlier = tooSlow.get(file);
    if (earlier) throw earlier;
    let startedAt = started.get(file);
    if (startedAt === undefined) {
      startedAt = Date.now();
      started.set(file, startedAt);
    }
    const note = (error: unknown): void => {
      if (isAppError(error) && error.details?.limit === 'download_min_rate') tooSlow.set(file, error);
    };
    try {
      const source = await openSource(file.source.url, { ...base, maxBytes: file.maxBytes, declaredSize: file.size, startedAt }, signal);
      source.body.once('error', note);
      return source;
    } catch (error) {
      note(error);
      throw error;
    }
  };
}

// --- checks before a draft ---------------------------------------------------------------------------

/**
 * Everything about a resource URL that can be checked without Zenodo and without downloading:
 * parseable, http(s) only, no credentials in it, and a host that is (or resolves to) a public
 * address unless allow-listed. Returns the error the download would end with, or undefined; the
 * sync worker calls it before opening a draft, so a URL that can never be downloaded leaves no
 * draft behind. A name that does not resolve now is left to the download (DNS may be back by
 * then), and redirects can only be checked by requesting.
 */
export async function preflightResource(url: string, options: { policy: HostPolicy; resolve?: (host: string) => Promise<readonly { address: string }[]> }): Promise<AppError | undefined> {
  let parsed: URL;
  try {
    parsed = checkUrl(url, options.policy);
  } catch (error) {
    return isAppError(error) ? error : new AppError('SSRF_REFUSED', `the resource URL cannot be checked: ${(error as Error).message}`, { cause: error });
  }
  if (isAllowListed(parsed, options.policy)) return undefined;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (isPublicAddress(host) || /^[\d.]+$/.test(host) || host.includes(':')) return undefined; // literal addresses: checked above
  let addresses: readonly { address: string }[];
  try {
    addresses = await (options.resolve ?? ((h: string) => lookup(h, { all: true })))(host);
  } catch {
    return undefined;
  }
  const bad = addresses.find((a) => !isPublicAddress(a.address));
  if (!bad) return undefined;
  return new AppError(
    'SSRF_REFUSED',
    `refused to download from ${parsed.hostname} (${bad.address}): it is a loopback, private or link-local address. If this host is meant to serve resources, add it to [sync] allowed_hosts`,
    { details: { host: parsed.hostname, address: bad.address } },
  );
}
