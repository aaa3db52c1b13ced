/**
 * Operator authentication for the status server.
 *
 * The one secret is `[http] token`. It is compared in constant time (both sides hashed first, so
 * neither the content nor the length leaks through timing). Browsers that signed in at /login
 * carry a session cookie holding a random id (256 bits); the session itself lives in PostgreSQL
 * (`http_sessions`, src/db/session-queries.ts) under a hash of that id and a tag of the token, so
 * that /logout revokes it, it expires server-side, a stolen database copy holds no usable cookie,
 * and changing the token signs every browser out.
 *
 * The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page or link
 * makes the browser send it: the status pages are opened by address or bookmark, so Lax would
 * buy nothing), and Secure whenever the request came over TLS — directly, or through a trusted
 * proxy that says `X-Forwarded-Proto: https`.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export const SESSION_COOKIE = 'czs_session';
/** Twelve hours: an operator's working day; the cookie is only for the read-only pages. */
export const SESSION_MAX_AGE_SECONDS = 12 * 3600;
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function tokenMatches(given: string | undefined, expected: string | undefined): boolean {
  if (given === undefined || expected === undefined || expected === '') return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** A new session id: 32 random bytes, base64url (43 characters). */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** What the database stores instead of the session id. */
export function sessionIdHash(id: string): Buffer {
  return createHash('sha256').update(id, 'utf8').digest();
}

/** Binds a session to the token it was signed in with, without storing the token. */
export function tokenTag(token: string): Buffer {
  return createHmac('sha256', token).update('ckan-zenodo-sync status session v2').digest();
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/** true when the request carries an Authorization header at all (a wrong scheme is a wrong token). */
export function hasAuthorization(req: IncomingMessage): boolean {
  return typeof req.headers.authorization === 'string';
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (header === undefined) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/** The session id of the request's cookie, when it has the shape of one. */
export function sessionIdOf(req: IncomingMessage): string | undefined {
  const value = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
  return value !== undefined && SESSION_ID.test(value) ? value : undefined;
}

/** The last value of a header that may be repeated or a comma-separated list. */
function lastListValue(header: string | string[] | undefined): string | undefined {
  const joined = Array.isArray(header) ? header.join(',') : header;
  if (joined === undefined) return undefined;
  const last = joined.split(',').at(-1)?.trim();
  return last === '' ? undefined : last;
}

/**
 * The client's address. Without a trusted proxy it is the socket's peer: X-Forwarded-For is
 * whatever the client wrote, and trusting it would let each guess claim a new address. With
 * `[http] trust_proxy = true` it is the LAST X-Forwarded-For entry, the one our proxy appended
 * (entries to its left came from the client and can be forged).
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!trustProxy) return peer;
  return lastListValue(req.headers['x-forwarded-for']) ?? peer;
}

/** Served over TLS: by us, or (trusted proxy only) by the proxy in front of us. */
export function isHttps(req: IncomingMessage, trustProxy: boolean): boolean {
  if ((req.socket as Partial<TLSSocket>).encrypted === true) return true;
  return trustProxy && lastListValue(req.headers['x-forwarded-proto'])?.toLowerCase() === 'https';
}

export function sessionCookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_AGE_SECONDS}${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}
