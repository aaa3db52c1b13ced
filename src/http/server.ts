/**
 * The daemon's HTTP server (node:http, no framework): /healthz, /readyz, /metrics, the JSON API and the
 * read-only status pages.
 *
 * Access (DESIGN.md "Security": bind to localhost, bearer token for anything that changes state):
 * - /healthz, /readyz, /metrics and /static/app.js are always open: health checks and Prometheus scrapers
 *   carry no credentials, and neither response names a dataset or holds a secret.
 * - The status pages and GET /api/* are open to everyone only with `[http] public_status = true`.
 *   Otherwise they need the token, as `Authorization: Bearer <token>` or, for a browser, the
 *   session cookie set by the /login form (a random id of a session stored in PostgreSQL and
 *   deleted by /logout, see auth.ts). The token never appears in a URL or a page. With no token configured and public_status off they answer 503
 *   and say how to enable them: private-by-default is the safe side when someone later changes
 *   `listen` to a public address.
 * - Queuing a sync (POST /api/datasets/:id/sync, or the no-JavaScript form) always needs the
 *   token itself — never the cookie, so a cross-site form cannot trigger syncs — and is refused
 *   with 503 when no token is configured.
 *
 * - Wrong tokens (Bearer header, /login, the archive form) are limited per client address
 *   (rate-limit.ts): past the limit the answer is 429 with Retry-After, and the token is not
 *   even compared. The client address is the socket's peer, or with `[http] trust_proxy` the
 *   last X-Forwarded-For entry (auth.ts `clientAddress`).
 *
 * Hardening: request bodies are capped, header and request timeouts bound slow clients, unknown
 * routes get 404 JSON and wrong methods 405; errors are logged and answered with a generic message,
 * so that no stack, SQL, database URL or token ever reaches a response.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AppError, isAppError } from '../errors.js';
import { redactText, type Logger } from '../log.js';
import type { StatusQueries } from '../db/status-queries.js';
import { APP_SCRIPT } from './app-script.js';
import type { SessionStore } from '../db/session-queries.js';
import {
  bearerToken,
  clearedSessionCookie,
  clientAddress,
  hasAuthorization,
  isHttps,
  newSessionId,
  SESSION_MAX_AGE_SECONDS,
  sessionCookie,
  sessionIdHash,
  sessionIdOf,
  tokenMatches,
  tokenTag,
} from './auth.js';
import { createAuthLimiter } from './rate-limit.js';
import type { MetricsSnapshot } from '../metrics.js';
import { buildInfo, collectMetrics, databaseUp, packageVersion, renderPrometheus, startProcessMetrics, zenodoFamilies, type MetricFamily } from './metrics.js';
import { ARCHIVE_MESSAGES, renderDataset, renderLogin, renderMessage, renderOverview } from './pages.js';
import { longestCronGap, loadDatasetView, loadOverview } from './status-data.js';

export interface TriggerResult {
  /** false when a sync of the dataset was already queued (the stately queue dropped this one). */
  queued: boolean;
  jobId?: string;
  reason?: string;
}

export interface HttpConfig {
  /** host:port, `[::1]:8080` for IPv6; port 0 picks a free port. */
  listen: string;
  token: string | undefined;
  publicStatus: boolean;
  /**
   * `[http] trust_proxy`: the daemon is reachable only through a reverse proxy, whose last
   * X-Forwarded-For entry is the client address and whose X-Forwarded-Proto says https. Default false.
   */
  trustProxy?: boolean;
  ckanUrl: string;
  scanCron: string;
  /** IANA zone the scan cron runs in (`[schedule] timezone`); default UTC. */
  scanTimezone?: string;
}

export interface HttpDeps {
  status: StatusQueries;
  /**
   * Queues a sync of the dataset (id or name). May throw AppError CKAN_NOT_FOUND (→ 404) or
   * USAGE (→ 400); anything else is a 500 with the details in the log only.
   */
  triggerSync(datasetIdOrName: string): Promise<TriggerResult>;
  /** The daemon's in-process counters (src/metrics.ts); DB-derived figures are added here. */
  metrics(): Promise<MetricsSnapshot>;
  /** Sign-ins of the status pages (src/db/session-queries.ts `createSessionQueries(pool)`). */
  sessions: SessionStore;
  config: HttpConfig;
  log: Logger;
  /** Clock of the failed-token limit and of session expiry (ms since the epoch); default Date.now. */
  now?: () => number;
}

export interface HttpServer {
  /** http://host:port actually bound (the real port when `listen` asked for 0). */
  url: string;
  /** Stops accepting, ends open connections; idempotent. */
  close(): Promise<void>;
}

/** Largest request body accepted (the API takes tiny JSON, the forms one token). */
export const MAX_BODY_BYTES = 16 * 1024;
/**
 * An oversized body is read and discarded up to this size before the 413 goes out, so that the
 * client (which is still sending) reads the answer instead of a connection reset; beyond it the
 * connection is closed.
 */
const MAX_DRAIN_BYTES = 4 * 1024 * 1024;
const HEALTH_DB_TIMEOUT_MS = 5_000;
const READY_DB_TIMEOUT_MS = 2_000;
const METRICS_DB_TIMEOUT_MS = 5_000;
/**
 * Mail due this long ago and still not sent means the notifier is stuck or SMTP has been down
 * for a while: the people waiting for their DOI hear nothing, and no scan failure shows it.
 */
export const MAIL_STUCK_MS = 60 * 60_000;
/** How often expired sessions are deleted and ended failure windows logged. */
const HOUSEKEEPING_MS = 60_000;

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; form-action 'self'; img-src data:",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new AppError('CONFIG_INVALID', `[http] listen must be host:port (e.g. 127.0.0.1:8080), got "${listen}"`);
  }
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '127.0.0.1' : host, port };
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
}

type Handler = (ctx: Ctx) => Promise<void>;

interface Route {
  pattern: RegExp;
  get?: Handler;
  post?: Handler;
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`, headers);
}

function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  send(res, status, 'text/html; charset=utf-8', html, headers);
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  send(res, 303, 'text/plain; charset=utf-8', 'See Other\n', { Location: location, ...headers });
}

/**
 * Reads the body up to MAX_BODY_BYTES. A larger one is drained (up to MAX_DRAIN_BYTES) and
 * rejected with 413; past that, the connection is marked for closing.
 */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > MAX_DRAIN_BYTES) {
    res.setHeader('Connection', 'close');
    return Promise.reject(new HttpError(413, `request body too large (limit ${MAX_BODY_BYTES} bytes)`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: HttpError): void => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else if (size > MAX_DRAIN_BYTES) {
        res.setHeader('Connection', 'close');
        req.pause();
        fail(new HttpError(413, `request body too large (limit ${MAX_BODY_BYTES} bytes)`));
      }
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) fail(new HttpError(413, `request body too large (limit ${MAX_BODY_BYTES} bytes)`));
      else if (!settled) {
        settled = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', () => fail(new HttpError(400, 'request body could not be read')));
  });
}

async function readForm(req: IncomingMessage, res: ServerResponse): Promise<URLSearchParams> {
  const body = await readBody(req, res);
  return new URLSearchParams(body.toString('utf8'));
}

/** A CKAN id or name from the path: printable, bounded. */
function datasetParam(raw: string | undefined): string {
  let value: string;
  try {
    value = decodeURIComponent(raw ?? '');
  } catch {
    throw new HttpError(400, 'malformed dataset id in the path');
  }
  if (value === '' || value.length > 200 || /[\u0000-\u001f\u007f]/.test(value)) throw new HttpError(400, 'invalid dataset id or name');
  return value;
}

export async function startHttpServer(deps: HttpDeps): Promise<HttpServer> {
  const { status, sessions, config, log } = deps;
  const now = deps.now ?? Date.now;
  const token = config.token === '' ? undefined : config.token;
  const tag = token === undefined ? undefined : tokenTag(token);
  const trustProxy = config.trustProxy === true;
  const secrets = token === undefined ? [] : [token];
  const { host, port } = parseListen(config.listen);
  const limiter = createAuthLimiter({ log, now });
  const startedAt = now();
  // Computed once: the schedule does not change while the server runs.
  const scanInterval = longestCronGap(config.scanCron, config.scanTimezone);
  const version = packageVersion();
  const processMetrics = startProcessMetrics();
  let lastCounters: MetricFamily[] = [];

  const throttled = (wait: number): HttpError =>
    new HttpError(429, `too many wrong tokens from this address; try again in ${wait} s`, { 'Retry-After': String(wait) });

  /**
   * Checks a presented token under the failure limit: throws 429 while the client's address is
   * blocked (without comparing), counts a wrong token, forgives the address on the right one.
   */
  const verifyToken = (req: IncomingMessage, given: string | undefined): boolean => {
    const address = clientAddress(req, trustProxy);
    const wait = limiter.blockedFor(address);
    if (wait !== undefined) throw throttled(wait);
    if (tokenMatches(given, token)) {
      limiter.succeeded(address);
      return true;
    }
    limiter.failed(address);
    return false;
  };

  const hasSession = async (req: IncomingMessage): Promise<boolean> => {
    const id = sessionIdOf(req);
    if (id === undefined || tag === undefined) return false;
    return sessions.isValid(sessionIdHash(id), tag, new Date(now()));
  };

  /** Whether the request may read; `signedIn`: through the session cookie (the pages show "Sign out"). */
  const readAccess = async (req: IncomingMessage): Promise<{ allowed: boolean; signedIn: boolean }> => {
    const signedIn = await hasSession(req);
    if (config.publicStatus || signedIn) return { allowed: true, signedIn };
    // A request without any Authorization header is not a guess: it is not counted.
    if (token === undefined || !hasAuthorization(req)) return { allowed: false, signedIn };
    return { allowed: verifyToken(req, bearerToken(req)), signedIn };
  };

  /** For JSON routes; throws the right 401/429/503. */
  const requireApiRead = async (req: IncomingMessage): Promise<void> => {
    if ((await readAccess(req)).allowed) return;
    if (token === undefined) {
      throw new HttpError(503, 'the status API is private: set [http] token to enable it (and send it as a Bearer token), or set [http] public_status = true');
    }
    throw new HttpError(401, 'authentication required: send Authorization: Bearer <[http] token>', { 'WWW-Authenticate': 'Bearer' });
  };

  /** For HTML routes: answers (redirect to /login, or the "disabled" page) and returns undefined. */
  const pageAccess = async (ctx: Ctx): Promise<{ signedIn: boolean } | undefined> => {
    const access = await readAccess(ctx.req);
    if (access.allowed) return { signedIn: access.signedIn };
    if (token === undefined) sendHtml(ctx.res, 503, renderLogin({ configured: false, failed: false }));
    else redirect(ctx.res, '/login');
    return undefined;
  };

  const trigger = async (datasetId: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    try {
      const result = await deps.triggerSync(datasetId);
      log.info({ datasetId, queued: result.queued, jobId: result.jobId }, 'sync requested over HTTP');
      return {
        status: 202,
        body: {
          queued: result.queued,
          ...(result.jobId === undefined ? {} : { jobId: result.jobId }),
          ...(result.reason === undefined ? {} : { reason: redactText(result.reason, secrets) }),
        },
      };
    } catch (error) {
      if (isAppError(error) && error.code === 'CKAN_NOT_FOUND') return { status: 404, body: { error: 'dataset not found' } };
      if (isAppError(error) && error.code === 'USAGE') return { status: 400, body: { error: redactText(error.message, secrets) } };
      // Private, deleted, draft or unselected: nothing is queued, and the operator learns why.
      if (isAppError(error) && error.code === 'DATASET_NOT_SELECTED') return { status: 409, body: { error: redactText(error.message, secrets) } };
      if (isAppError(error) && error.code === 'DB_UNAVAILABLE') {
        log.error({ err: error, datasetId }, 'sync request failed');
        return { status: 503, body: { error: 'the database is unavailable; try again later' } };
      }
      log.error({ err: error, datasetId }, 'sync request failed');
      return { status: 500, body: { error: 'internal error; see the daemon log' } };
    }
  };

  const routes: Route[] = [
    {
      // Liveness: the process and its event loop answer. Nothing else is asked, so that an
      // orchestrator restarts the daemon only when restarting can help (not when PostgreSQL is down).
      pattern: /^\/livez$/,
      get: ({ res }) => {
        sendJson(res, 200, { status: 'alive' });
        return Promise.resolve();
      },
    },
    {
      // Health: is the daemon doing its job? 503 with the reason when it is not, even though it
      // answers: the database is gone, scans have stopped succeeding, or mail is not going out.
      pattern: /^\/healthz$/,
      get: async ({ res }) => {
        const health = await checkHealth(status, scanInterval, now(), startedAt, log);
        sendJson(res, health.healthy ? 200 : 503, health.body);
      },
    },
    {
      // Readiness, apart from /healthz's liveness: 503 while the database does not answer (a
      // restart, a failover), when the daemon is up but can do no work; it reconnects by itself.
      pattern: /^\/readyz$/,
      get: async ({ res }) => {
        try {
          await withTimeout(status.ping(), READY_DB_TIMEOUT_MS);
        } catch (error) {
          log.warn({ err: error }, 'readiness check: database unreachable');
          sendJson(res, 503, { status: 'unavailable', reason: 'database unreachable' });
          return;
        }
        sendJson(res, 200, { status: 'ready', database: 'reachable' });
      },
    },
    {
      pattern: /^\/metrics$/,
      get: async ({ res }) => {
        // A scrape must answer while the database is down (that is when it matters most): the
        // counters keep their last good values (a counter that vanished would read as a reset),
        // the database gauges are left out, and database_up says which case this is.
        let families: MetricFamily[];
        let up = true;
        const figures = await deps.metrics();
        try {
          families = await withTimeout(collectMetrics(status, figures), METRICS_DB_TIMEOUT_MS);
          lastCounters = families.filter((f) => f.type === 'counter');
        } catch (error) {
          log.warn({ err: error }, 'metrics: database unreachable, serving the last known counters');
          up = false;
          const own = zenodoFamilies(figures);
          const ownNames = new Set(own.map((f) => f.name));
          families = [...lastCounters.filter((f) => !ownNames.has(f.name)), ...own];
        }
        const body = renderPrometheus([...families, databaseUp(up), buildInfo(version), ...processMetrics.collect()]);
        send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', body);
      },
    },
    {
      pattern: /^\/static\/app\.js$/,
      get: ({ res }) => {
        send(res, 200, 'text/javascript; charset=utf-8', APP_SCRIPT, { 'Cache-Control': 'no-cache' });
        return Promise.resolve();
      },
    },
    {
      pattern: /^\/api\/status$/,
      get: async ({ req, res, url }) => {
        await requireApiRead(req);
        const overview = await loadOverview(status, { query: searchQuery(url), scanCron: config.scanCron, ...tz(config), secrets });
        sendJson(res, 200, overview);
      },
    },
    {
      pattern: /^\/api\/datasets\/([^/]+)$/,
      get: async ({ req, res, params }) => {
        await requireApiRead(req);
        const id = datasetParam(params[0]);
        const view = await loadDatasetView(status, id, { secrets });
        if (!view) throw new HttpError(404, 'unknown dataset: no scan, link or sync has seen it');
        sendJson(res, 200, view);
      },
    },
    {
      pattern: /^\/api\/datasets\/([^/]+)\/sync$/,
      post: async ({ req, res, params }) => {
        if (token === undefined) throw new HttpError(503, 'queuing syncs over HTTP is disabled: set [http] token to enable');
        if (!hasAuthorization(req) || !verifyToken(req, bearerToken(req))) {
          throw new HttpError(401, 'authentication required: send Authorization: Bearer <[http] token>', { 'WWW-Authenticate': 'Bearer' });
        }
        const id = datasetParam(params[0]);
        const body = await readBody(req, res);
        if (body.length > 0) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(body.toString('utf8'));
          } catch {
            throw new HttpError(400, 'malformed JSON body');
          }
          if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'the body must be a JSON object (or empty)');
        }
        const result = await trigger(id);
        sendJson(res, result.status, result.body);
      },
    },
    {
      pattern: /^\/$/,
      get: async (ctx) => {
        const access = await pageAccess(ctx);
        if (!access) return;
        const overview = await loadOverview(status, { query: searchQuery(ctx.url), scanCron: config.scanCron, ...tz(config), secrets });
        sendHtml(ctx.res, 200, renderOverview(overview, { ckanUrl: config.ckanUrl, signedIn: access.signedIn }));
      },
    },
    {
      pattern: /^\/datasets\/([^/]+)$/,
      get: async (ctx) => {
        const access = await pageAccess(ctx);
        if (!access) return;
        const id = datasetParam(ctx.params[0]);
        const view = await loadDatasetView(status, id, { secrets });
        if (!view) {
          sendHtml(ctx.res, 404, renderMessage('Unknown dataset', 'No scan, link or sync has seen this dataset.'));
          return;
        }
        const message = ctx.url.searchParams.get('archive') ?? undefined;
        sendHtml(
          ctx.res,
          200,
          renderDataset(view, {
            ckanUrl: config.ckanUrl,
            signedIn: access.signedIn,
            message: message !== undefined && Object.hasOwn(ARCHIVE_MESSAGES, message) ? message : undefined,
          }),
        );
      },
    },
    {
      // The "Archive now" form without JavaScript: the token comes in the form body, so a
      // cross-site page cannot submit it for the operator (it does not know the token).
      pattern: /^\/datasets\/([^/]+)\/archive$/,
      post: async ({ req, res, params }) => {
        const id = datasetParam(params[0]);
        const back = (outcome: string): void => redirect(res, `/datasets/${encodeURIComponent(id)}?archive=${outcome}`);
        const form = await readForm(req, res);
        if (token === undefined) return back('disabled');
        let matches: boolean;
        try {
          matches = verifyToken(req, form.get('token') ?? undefined);
        } catch (error) {
          if (!(error instanceof HttpError) || error.status !== 429) throw error;
          return sendHtml(res, 429, renderMessage('Too many wrong tokens', `Too many wrong tokens came from your address: nothing was queued. Try again in ${Math.ceil(Number(error.headers['Retry-After']) / 60)} min.`), error.headers);
        }
        if (!matches) return back('denied');
        const result = await trigger(id);
        if (result.status !== 202) return back('failed');
        return back(result.body.queued === false ? 'already-queued' : 'queued');
      },
    },
    {
      pattern: /^\/login$/,
      get: ({ res }) => {
        sendHtml(res, token === undefined ? 503 : 200, renderLogin({ configured: token !== undefined, failed: false }));
        return Promise.resolve();
      },
      post: async ({ req, res }) => {
        const form = await readForm(req, res);
        if (token === undefined || tag === undefined) return sendHtml(res, 503, renderLogin({ configured: false, failed: false }));
        let matches: boolean;
        try {
          matches = verifyToken(req, form.get('token') ?? undefined);
        } catch (error) {
          if (!(error instanceof HttpError) || error.status !== 429) throw error;
          const wait = Number(error.headers['Retry-After']);
          return sendHtml(res, 429, renderLogin({ configured: true, failed: false, retryAfterSeconds: wait }), error.headers);
        }
        if (!matches) return sendHtml(res, 401, renderLogin({ configured: true, failed: true }));
        const previous = sessionIdOf(req);
        if (previous !== undefined) await sessions.delete(sessionIdHash(previous));
        const id = newSessionId();
        const at = now();
        // Sign-ins are rare: pruning here (besides the periodic pass) keeps the table small even
        // in a process whose timer never fires long enough.
        await sessions.pruneExpired(new Date(at));
        await sessions.create({ idHash: sessionIdHash(id), tokenTag: tag, createdAt: new Date(at), expiresAt: new Date(at + SESSION_MAX_AGE_SECONDS * 1000) });
        redirect(res, '/', { 'Set-Cookie': sessionCookie(id, isHttps(req, trustProxy)) });
      },
    },
    {
      pattern: /^\/logout$/,
      post: async ({ req, res }) => {
        // Deleting the row is what signs out: a copy of the cookie kept elsewhere stops working too.
        const id = sessionIdOf(req);
        if (id !== undefined) await sessions.delete(sessionIdHash(id));
        redirect(res, '/login', { 'Set-Cookie': clearedSessionCookie(isHttps(req, trustProxy)) });
      },
    },
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendJson(res, 400, { error: 'malformed request URL' });
      return;
    }
    const route = routes.find((r) => r.pattern.test(url.pathname));
    if (!route) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    const method = req.method ?? 'GET';
    const handler = method === 'GET' || method === 'HEAD' ? route.get : method === 'POST' ? route.post : undefined;
    if (!handler) {
      const allow = [route.get ? 'GET, HEAD' : '', route.post ? 'POST' : ''].filter((m) => m !== '').join(', ');
      sendJson(res, 405, { error: `method ${method} not allowed` }, { Allow: allow });
      return;
    }
    const params = (route.pattern.exec(url.pathname) ?? []).slice(1);
    try {
      await handler({ req, res, url, params });
    } catch (error) {
      if (error instanceof HttpError) {
        sendJson(res, error.status, { error: redactText(error.message, secrets) }, error.headers);
        return;
      }
      log.error({ err: error, method, path: url.pathname }, 'HTTP request failed');
      if (res.headersSent) res.destroy();
      else if (isAppError(error) && error.code === 'DB_UNAVAILABLE') sendJson(res, 503, { error: 'the database is unavailable; try again later' });
      else sendJson(res, 500, { error: 'internal error; see the daemon log' });
    }
  };

  const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: error }, 'HTTP handler crashed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  // An idle or trickling socket must not be held forever (slowloris).
  server.setTimeout(60_000, (socket: Socket) => socket.destroy());
  server.maxRequestsPerSocket = 1000;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new AppError(
          'CONFIG_INVALID',
          error.code === 'EADDRINUSE'
            ? `cannot listen on ${config.listen}: the address is in use by another program; change [http] listen`
            : `cannot listen on ${config.listen}: ${error.message}; check [http] listen`,
          { cause: error },
        ),
      );
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => log.error({ err: error }, 'HTTP server error'));

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  log.info({ url, publicStatus: config.publicStatus, tokenConfigured: token !== undefined, trustProxy }, 'HTTP status server listening');

  const housekeeping = setInterval(() => {
    limiter.flush();
    sessions.pruneExpired(new Date(now())).catch((error: unknown) => log.warn({ err: error }, 'could not delete expired status page sessions'));
  }, HOUSEKEEPING_MS);
  housekeeping.unref();

  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        clearInterval(housekeeping);
        processMetrics.stop();
        limiter.flush();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

interface Health {
  healthy: boolean;
  body: Record<string, unknown>;
}

/**
 * What /healthz answers. A scan "runs on schedule" only if one SUCCEEDED recently: a daemon whose
 * every scan fails (CKAN unreachable, a token revoked) archives nothing, and counting failed scans
 * kept it green for days. Twice the cron interval (its longest gap, see longestCronGap) leaves room
 * for one failed or long scan. Before any successful scan, the clock starts when this server started.
 */
async function checkHealth(status: StatusQueries, interval: number | null, nowMs: number, startedAt: number, log: Logger): Promise<Health> {
  try {
    await withTimeout(status.ping(), HEALTH_DB_TIMEOUT_MS);
  } catch (error) {
    log.warn({ err: error }, 'health check: database unreachable');
    return { healthy: false, body: { status: 'unavailable', reason: 'database unreachable' } };
  }
  const [scans, lastSuccess, dueMail] = await withTimeout(
    Promise.all([status.lastScans(10), status.lastSuccessfulScanAt(), status.oldestDueMailAt()]),
    HEALTH_DB_TIMEOUT_MS,
  );
  const last = scans.find((s) => s.kind === 'scan');
  const lastScan = last
    ? {
        status: last.status,
        startedAt: last.startedAt,
        finishedAt: last.finishedAt,
        ageSeconds: Math.round((nowMs - (last.finishedAt ?? last.startedAt).getTime()) / 1000),
      }
    : null;
  const reasons: string[] = [];
  if (interval !== null) {
    const since = lastSuccess?.getTime() ?? startedAt;
    if (nowMs - since > 2 * interval) {
      const minutes = Math.round((nowMs - since) / 60_000);
      const what = lastSuccess ? `no successful scan for ${minutes} min` : `no successful scan since the daemon started ${minutes} min ago`;
      reasons.push(`${what} (expected every ${Math.round(interval / 60_000)} min${last?.status === 'failed' ? '; the last scan failed' : ''})`);
    }
  }
  if (dueMail && nowMs - dueMail.getTime() > MAIL_STUCK_MS) {
    reasons.push(`mail due for ${Math.round((nowMs - dueMail.getTime()) / 60_000)} min has not been sent (check [mail] smtp_url and the log)`);
  }
  const body = {
    status: reasons.length === 0 ? 'ok' : 'unavailable',
    ...(reasons.length === 0 ? {} : { reason: reasons.join('; ') }),
    database: 'reachable',
    lastScan,
    lastSuccessfulScanAt: lastSuccess,
  };
  return { healthy: reasons.length === 0, body };
}

function searchQuery(url: URL): string {
  return (url.searchParams.get('q') ?? '').trim().slice(0, 200);
}

function tz(config: HttpConfig): { scanTimezone?: string } {
  return config.scanTimezone === undefined ? {} : { scanTimezone: config.scanTimezone };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
