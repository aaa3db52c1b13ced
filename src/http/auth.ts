/**
 * Operator authentication for the status server.
 *
 * The one secret is `[http] token`. It is compared in constant time (both sides hashed first, so
 * neither the content nor the length leaks through timing). Browsers that signed in at /login
 * carry a session cookie whose value is an HMAC derived from the token, never the token itself:
 * a stolen cookie (or a look at the browser's storage) does not reveal the token that can queue
 * syncs, and changing the token signs every browser out.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'czs_session';
/** Twelve hours: an operator's working day; the cookie is only for the read-only pages. */
export const SESSION_MAX_AGE_SECONDS = 12 * 3600;

export function tokenMatches(given: string | undefined, expected: string | undefined): boolean {
  if (given === undefined || expected === undefined || expected === '') return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('ckan-zenodo-sync status session v1').digest('base64url');
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
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

export function hasSession(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined || token === '') return false;
  const cookie = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
  return tokenMatches(cookie, sessionValue(token));
}

export function sessionCookie(token: string): string {
  return `${SESSION_COOKIE}=${sessionValue(token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_AGE_SECONDS}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}
