/**
 * Opens the bytes of one resource for upload: CKAN download or DataStore CSV export.
 *
 * - The CKAN token is sent only to the CKAN origin, never to another host (a resource URL or a
 *   redirect target elsewhere).
 * - Every hop is checked by the SSRF guard (url-guard.ts), at connection time.
 * - Zenodo needs a Content-Length (reference zenodo-api.md §7); when the source gives none
 *   (DataStore dumps, chunked responses) the body is spooled to a temp file first, so memory stays
 *   flat whatever the size.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { AppError, isAppError } from '../errors.js';
import { checkUrl, guardedLookup, type HostPolicy } from './url-guard.js';

export interface SourceOptions {
  ckanUrl: string;
  ckanToken: string | undefined;
  policy: HostPolicy;
  spoolDir: string;
  userAgent: string;
  timeoutMs: number;
  dispatcher?: Dispatcher;
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

/** Sends a GET, following redirects by hand so the token and the guard apply per hop. */
async function get(rawUrl: string, opts: SourceOptions, signal: AbortSignal | undefined): Promise<Dispatcher.ResponseData> {
  const ckanOrigin = new URL(opts.ckanUrl).origin;
  let url = checkUrl(rawUrl, opts.policy);
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { 'user-agent': opts.userAgent, accept: '*/*' };
    // CKAN takes its API token raw in Authorization (ckan-api.md §2); never beyond its origin.
    if (opts.ckanToken && url.origin === ckanOrigin) headers.authorization = opts.ckanToken;
    let response: Dispatcher.ResponseData;
    try {
      // undici's request never follows redirects by itself (v7), which is what we need here.
      response = await request<null>(url, { method: 'GET', headers, signal, dispatcher: opts.dispatcher });
    } catch (error) {
      const guard = unwrap(error);
      if (guard) throw guard;
      throw new AppError('DOWNLOAD_FAILED', `could not download ${describe(url)}: ${(error as Error).message}`, { retryable: true, cause: error });
    }
    if (response.statusCode >= 300 && response.statusCode < 400 && response.headers.location) {
      await response.body.dump();
      if (hop >= MAX_REDIRECTS) throw new AppError('DOWNLOAD_FAILED', `too many redirects downloading ${describe(url)}`);
      url = checkUrl(new URL(String(response.headers.location), url).toString(), opts.policy);
      continue;
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return response;
    await response.body.dump();
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
}

/** URL without query string: queries can carry signed-URL secrets. */
function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

export async function openSource(url: string, opts: SourceOptions, signal?: AbortSignal): Promise<OpenedSource> {
  const response = await get(url, opts, signal);
  const lengthHeader = response.headers['content-length'];
  const length = typeof lengthHeader === 'string' && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  if (length !== undefined) {
    return { body: response.body, size: length, spooled: false, cleanup: () => {
        // An undici body destroyed unread (a 0-byte file nobody read) emits RequestAbortedError;
        // without a listener that 'error' would kill the process.
        if (!response.body.destroyed) response.body.on('error', () => undefined).destroy();
        return Promise.resolve();
      } };
  }
  await mkdir(opts.spoolDir, { recursive: true });
  const path = join(opts.spoolDir, `spool-${randomUUID()}`);
  const cleanup = async (): Promise<void> => { await rm(path, { force: true }); };
  try {
    await pipeline(response.body, createWriteStream(path, { mode: 0o600 }));
  } catch (error) {
    await cleanup();
    throw new AppError('DOWNLOAD_FAILED', `the download of ${describe(new URL(url))} broke off: ${(error as Error).message}`, { retryable: true, cause: error });
  }
  const { size } = await stat(path);
  const body = createReadStream(path);
  return { body, size, spooled: true, cleanup: async () => { body.destroy(); await cleanup(); } };
}
