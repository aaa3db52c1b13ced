/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-explicit-any --
   Zenodo answers are untyped JSON; their shape is exactly what these tests assert. */
import { request } from 'undici';
import type { ZenodoEmulator } from '../../../src/emulators/zenodo/server.js';

export const TOKEN = 'test-token';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // Test code reads arbitrary JSON fields; the shapes are what is under test.
  body: any;
  text: string;
}

export interface CallOptions {
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** null = no token at all. */
  token?: string | null;
}

/** One HTTP call; `target` is a full URL (from `links`) or a path under the emulator. */
export async function call(emu: ZenodoEmulator, method: string, target: string, opts: CallOptions = {}): Promise<Answer> {
  const url = target.startsWith('http') ? target : `${emu.url}${target}`;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | Buffer | undefined = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(url, { method: method as 'GET', headers, body });
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body: parsed, text };
}

export function validMetadata(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: 'Ocean temperatures',
    upload_type: 'dataset',
    description: '<p>Buoy data</p>',
    creators: [{ name: 'Doe, Jane', affiliation: 'Marine Institute' }],
    ...extra,
  };
}

export async function createDraft(emu: ZenodoEmulator, metadata: Record<string, unknown> = validMetadata()): Promise<any> {
  const res = await call(emu, 'POST', '/api/deposit/depositions', { json: { metadata } });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
  return res.body;
}

export async function upload(emu: ZenodoEmulator, bucket: string, key: string, content: string | Buffer): Promise<Answer> {
  return call(emu, 'PUT', `${bucket}/${encodeURIComponent(key)}`, {
    body: content,
    headers: { 'content-type': 'application/octet-stream' },
  });
}

/** A published first version with the given files; returns the publish response body. */
export async function publishedRecord(emu: ZenodoEmulator, files: Record<string, string> = { 'data.csv': '1, 2, 3' }, metadata = validMetadata()): Promise<any> {
  const draft = await createDraft(emu, metadata);
  for (const [key, content] of Object.entries(files)) {
    const up = await upload(emu, draft.links.bucket, key, content);
    if (up.status !== 201) throw new Error(`upload failed: ${up.status} ${up.text}`);
  }
  const pub = await call(emu, 'POST', `/api/deposit/depositions/${draft.id}/actions/publish`);
  if (pub.status !== 202) throw new Error(`publish failed: ${pub.status} ${pub.text}`);
  return pub.body;
}

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}
