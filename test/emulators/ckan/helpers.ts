/* eslint-disable @typescript-eslint/no-explicit-any --
   CKAN answers are untyped JSON; their shape is exactly what these tests assert. */
import { join } from 'node:path';
import { request } from 'undici';
import type { CkanEmulator } from '../../../src/emulators/ckan/server.js';

export const SYSADMIN = 'ckan-test-token';
export const SAMPLES = join(import.meta.dirname, '../../../src/emulators/samples');
export { CKAN_FIXTURES as FIXTURES } from '../../support/fixtures.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

export interface CallOptions {
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Sent raw in `Authorization`, as CKAN expects; null/undefined = anonymous. */
  token?: string | null;
}

export async function call(emu: CkanEmulator, method: string, target: string, opts: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token !== undefined && opts.token !== null) headers.authorization = opts.token;
  let body: string | Buffer | undefined = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(`${emu.url}${target}`, { method: method as 'GET', headers, body });
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body: parsed, text };
}

/** An action over GET with query parameters (values as strings, as CKAN receives them). */
export function action(emu: CkanEmulator, name: string, params: Record<string, string> = {}, token?: string | null): Promise<Answer> {
  const qs = new URLSearchParams(params).toString();
  return call(emu, 'GET', `/api/3/action/${name}${qs ? `?${qs}` : ''}`, { token });
}

export function post(emu: CkanEmulator, name: string, json: unknown, token?: string | null): Promise<Answer> {
  return call(emu, 'POST', `/api/3/action/${name}`, { json, token });
}
