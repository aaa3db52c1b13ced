/**
 * The Zenodo client against the project's Zenodo emulator over loopback, with faults switched on.
 * Emulator and client share a fake clock (rate-limit windows, Retry-After, backoff), so a run
 * that paces 200 requests under a 100/min budget takes milliseconds, not minutes.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startZenodoEmulator, type ZenodoEmulator } from '../../src/emulators/zenodo/server.js';
import { seededRandom } from '../../src/emulators/faults.js';
import { createLogger, type Logger } from '../../src/log.js';
import { AppError, isAppError } from '../../src/errors.js';
import { createZenodoClient, type ZenodoClient, type ZenodoClientOptions } from '../../src/zenodo/client.js';

const TOKEN = 'zen-Secret-Token-8f3a9c2d1e';
const OTHER = 'other-account-token-77aa';
const MARKER = 'https://data.example.org/dataset/ocean-temps';

function metadata(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: 'Ocean temperatures',
    upload_type: 'dataset',
    description: '<p>Buoy data</p>',
    creators: [{ name: 'Doe, Jane' }],
    license: 'cc-by-4.0',
    access_right: 'open',
    related_identifiers: [{ identifier: MARKER, relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
    ...extra,
  };
}

/** Deterministic pseudo-random bytes, produced chunk by chunk (never one big buffer). */
function content(size: number, seed: number): { open: () => Readable; md5: string } {
  const chunk = (i: number, len: number): Buffer => {
    const rnd = seededRandom(seed * 7919 + i);
    const b = Buffer.allocUnsafe(len);
    for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
    return b;
  };
  const chunkSize = 64 * 1024;
  const hash = createHash('md5');
  for (let i = 0, off = 0; off < size; i++, off += chunkSize) hash.update(chunk(i, Math.min(chunkSize, size - off)));
  const md5 = hash.digest('hex');
  const open = (): Readable => {
    let i = 0;
    let off = 0;
    return new Readable({
      read() {
        if (off >= size) return void this.push(null);
        const len = Math.min(chunkSize, size - off);
        this.push(chunk(i++, len));
        off += len;
      },
    });
  };
  return { open, md5 };
}

let clock = Date.now();
const now = (): number => clock;
const sleep = async (ms: number): Promise<void> => {
  clock += Math.max(0, ms);
  await Promise.resolve();
};

let emu: ZenodoEmulator;
let logLines: string[];
let log: Logger;
let client: ZenodoClient;

function makeClient(extra: Partial<ZenodoClientOptions> = {}): ZenodoClient {
  return createZenodoClient({
    baseUrl: emu.url,
    token: TOKEN,
    log,
    timeoutMs: 10_000,
    retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 2000 },
    random: seededRandom(42),
    now,
    sleep,
    ...extra,
  });
}

beforeAll(async () => {
  emu = await startZenodoEmulator({ tokens: [TOKEN, OTHER], now, rateLimit: false });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  emu.reset();
  emu.setFaults([]);
  emu.setRateLimit(false);
  logLines = [];
  log = createLogger({ level: 'debug', destination: { write: (s: string) => void logLines.push(s) } });
  client = makeClient();
});
afterEach(async () => {
  await client.close();
});

async function publishedFirstVersion(files: Record<string, { open: () => Readable; size: number }> = { 'data.csv': { open: () => Readable.from([Buffer.from('1, 2, 3')]), size: 7 } }) {
  const draft = await client.createDeposition(metadata());
  for (const [name, f] of Object.entries(files)) await client.uploadFileWithRetry(draft.bucketUrl!, name, () => Promise.resolve(f.open()), f.size);
  return client.publish(draft.id);
}

async function caught(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error('expected an error');
}

describe('deposit flow', () => {
  it('creates, uploads, publishes, versions and finds the latest version', async () => {
    const draft = await client.createDeposition(metadata());
    expect(draft).toMatchObject({ state: 'unsubmitted', submitted: false, doi: null, files: [] });
    const up = await client.uploadFile(draft.bucketUrl!, 'data.csv', Readable.from([Buffer.from('1, 2, 3')]), 7);
    expect(up).toEqual({ key: 'data.csv', size: 7, md5: '66ce05ea43c73b8e33c74c12d0371bc9' });
    const v1 = await client.publish(draft.id);
    expect(v1).toMatchObject({ id: draft.id, state: 'done', submitted: true, doi: `10.5281/zenodo.${draft.id}` });
    expect(v1.conceptDoi).toBe(`10.5281/zenodo.${v1.conceptRecid!}`);

    const v2draft = await client.newVersion(v1.id);
    expect(v2draft.id).not.toBe(v1.id);
    expect(v2draft).toMatchObject({ conceptRecid: v1.conceptRecid, state: 'unsubmitted' });
    expect(v2draft.files.map((f) => [f.filename, f.md5])).toEqual([['data.csv', '66ce05ea43c73b8e33c74c12d0371bc9']]);
    expect((await client.findPendingDraft(v1.conceptRecid!))?.id).toBe(v2draft.id);

    await client.deleteFile(v2draft.id, v2draft.files[0]!.id);
    expect(await client.listFiles(v2draft.id)).toEqual([]);
    await client.uploadFile(v2draft.bucketUrl!, 'data v2.csv', Readable.from([Buffer.from('4, 5, 6')]), 7);
    const updated = await client.updateMetadata(v2draft.id, metadata({ version: '2' }));
    expect(updated.metadata.version).toBe('2');
    const v2 = await client.publish(v2draft.id);
    expect(v2.files.map((f) => f.filename)).toEqual(['data v2.csv']);

    for (const ref of [v1.conceptRecid!, String(v1.id), v2.id]) {
      const latest = await client.findLatestVersion(ref);
      expect(latest).toMatchObject({ id: v2.id, conceptRecid: v1.conceptRecid, doi: v2.doi, submitted: true });
      expect(latest?.files.map((f) => f.md5)).toEqual(['c2d626f8beba73ad0cf4e66214f7d949']);
    }
    expect(await client.findPendingDraft(v1.conceptRecid!)).toBeUndefined();
    expect(await client.findLatestVersion('999999')).toBeUndefined();
  });

  it('edits a published record and discards an edit', async () => {
    const v1 = await publishedFirstVersion();
    const editing = await client.edit(v1.id);
    expect(editing).toMatchObject({ id: v1.id, state: 'inprogress' });
    await client.updateMetadata(v1.id, metadata({ title: 'Ocean temperatures, corrected' }));
    const republished = await client.publish(v1.id);
    expect(republished).toMatchObject({ id: v1.id, doi: v1.doi, title: 'Ocean temperatures, corrected' });
    await client.edit(v1.id);
    await client.discard(v1.id);
    expect((await client.getDeposition(v1.id)).state).toBe('done');
  });
});

describe('uploads under faults', () => {
  const data = content(3 * 1024 * 1024 + 123, 1);

  it('repeats an upload interrupted by a connection reset and ends with a verified file', async () => {
    const draft = await client.createDeposition(metadata());
    emu.setFaults([{ route: 'upload', kind: 'reset', probability: 1, count: 1 }]);
    let opens = 0;
    const result = await client.uploadFileWithRetry(draft.bucketUrl!, 'big.bin', () => {
      opens++;
      return Promise.resolve(data.open());
    }, 3 * 1024 * 1024 + 123);
    expect(opens).toBe(2);
    expect(result.md5).toBe(data.md5);
    const stored = emu.state.depositions.find((d) => d.id === draft.id)!.files;
    expect(stored.map((f) => [f.key, f.size, f.md5])).toEqual([['big.bin', 3 * 1024 * 1024 + 123, data.md5]]);
  });

  it('repeats an upload truncated behind a 502 and ends with a verified file', async () => {
    const draft = await client.createDeposition(metadata());
    emu.setFaults([{ route: 'upload', kind: 'truncate', probability: 1, count: 1, fraction: 0.3 }]);
    // One attempt alone reports the failure (the emulator kept a partial file).
    const single = await caught(client.uploadFile(draft.bucketUrl!, 'big.bin', data.open(), 3 * 1024 * 1024 + 123));
    expect(single.code).toBe('ZENODO_UNAVAILABLE');
    expect(single.retryable).toBe(true);
    expect(emu.state.depositions.find((d) => d.id === draft.id)!.files[0]!.md5).not.toBe(data.md5);

    emu.setFaults([{ route: 'upload', kind: 'truncate', probability: 1, count: 1, fraction: 0.5 }]);
    const result = await client.uploadFileWithRetry(draft.bucketUrl!, 'big.bin', () => Promise.resolve({ body: data.open(), size: 3 * 1024 * 1024 + 123 }));
    expect(result.md5).toBe(data.md5);
    const stored = emu.state.depositions.find((d) => d.id === draft.id)!.files;
    expect(stored.map((f) => [f.key, f.md5])).toEqual([['big.bin', data.md5]]);
  });

  it('refuses a source that gives fewer bytes than announced', async () => {
    const draft = await client.createDeposition(metadata());
    const error = await caught(client.uploadFile(draft.bucketUrl!, 'short.bin', Readable.from([Buffer.from('abc')]), 10));
    expect(error.code).toBe('DOWNLOAD_FAILED');
    expect(emu.state.depositions.find((d) => d.id === draft.id)!.files).toEqual([]);
  });

  it('never sends the token to a bucket link on another host', async () => {
    const error = await caught(client.uploadFile('http://evil.example/api/files/x', 'a.csv', Readable.from([Buffer.from('abc')]), 3));
    expect(error.code).toBe('ZENODO_BAD_RESPONSE');
  });
});

describe('rate limits', () => {
  it('paces 200 calls under a 100/min budget without a single 429', async () => {
    emu.setRateLimit({ perMinute: 100, perHour: 5000 });
    const draft = await client.createDeposition(metadata());
    const start = clock;
    for (let i = 0; i < 200; i++) await client.getDeposition(draft.id);
    expect(emu.requests.filter((r) => r.status === 429)).toEqual([]);
    expect(client.stats().rateLimited).toBe(0);
    // The budget held in every 60 s window of what the server saw.
    const times = emu.requests.map((r) => r.at);
    for (let i = 0; i < times.length; i++) expect(times.filter((t) => t >= times[i]! && t < times[i]! + 60_000).length).toBeLessThanOrEqual(100);
    expect(clock - start).toBeGreaterThanOrEqual(60_000);
  });

  it("keeps four workers within its own one-minute window while Zenodo's headers promise more", async () => {
    // The headers lag behind (answers of other workers, a moving window): they always say 40
    // are left until a reset 10 s away, a pace of 240 a minute, so only the client's own count of
    // the last minute keeps it within 100.
    // Time passes while workers wait side by side: each sleeper wakes at its own time, in order,
    // after everything else that was ready ran (the plain fake sleep above returns at once).
    const sleepers: { until: number; wake: () => void }[] = [];
    const wakeNext = (): void => {
      sleepers.sort((a, b) => a.until - b.until);
      const next = sleepers.shift();
      if (next === undefined) return;
      clock = Math.max(clock, next.until);
      next.wake();
    };
    const sideBySide = (ms: number): Promise<void> =>
      new Promise((wake) => {
        sleepers.push({ until: clock + Math.max(0, ms), wake });
        setImmediate(wakeNext);
      });
    const arrivals: number[] = [];
    const server: Server = createServer((req, res) => {
      arrivals.push(clock);
      req.resume();
      const text = JSON.stringify({ id: 5, conceptrecid: '4', state: 'unsubmitted', submitted: false, files: [], metadata: {}, links: {} });
      res.writeHead(200, {
        'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)),
        'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '40', 'x-ratelimit-reset': String(Math.ceil((clock + 10_000) / 1000)),
      });
      res.end(text);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const paced = createZenodoClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: TOKEN, log, timeoutMs: 10_000, now, sleep: sideBySide });
    try {
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 75; i++) await paced.getDeposition(5);
      }));
      expect(arrivals).toHaveLength(300);
      const crowded = arrivals.filter((t, i) => arrivals.filter((u, j) => j >= i && u < t + 60_000).length > 100);
      expect(crowded).toEqual([]);
    } finally {
      await paced.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('keeps concurrent callers (several sync workers) within the budget', async () => {
    emu.setRateLimit({ perMinute: 100, perHour: 5000 });
    const draft = await client.createDeposition(metadata());
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 50; i++) await client.getDeposition(draft.id);
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const times = emu.requests.filter((r) => r.status !== 429).map((r) => r.at);
    expect(times).toHaveLength(201);
    for (let i = 0; i < times.length; i++) expect(times.filter((t) => t >= times[i]! && t < times[i]! + 60_000).length).toBeLessThanOrEqual(100);
  });

  it('waits for Retry-After on a 429 and hands the caller the answer', async () => {
    const draft = await client.createDeposition(metadata());
    emu.setFaults([{ route: 'get', kind: '429', probability: 1, count: 2, retryAfterSeconds: 7 }]);
    const start = clock;
    const got = await client.getDeposition(draft.id);
    expect(got.id).toBe(draft.id);
    expect(clock - start).toBeGreaterThanOrEqual(14_000);
    expect(client.stats().rateLimited).toBe(2);
  });

  it("waits a 429's Retry-After of 1 s, not the minute until the window's reset, and keeps pacing afterwards", async () => {
    emu.setRateLimit({ perMinute: 100, perHour: 5000 });
    const draft = await client.createDeposition(metadata());
    // The 429 carries X-RateLimit-Reset a minute away (the emulator's window) and Retry-After: 1.
    emu.setFaults([{ route: 'get', kind: '429', probability: 1, count: 1, retryAfterSeconds: 1 }]);
    const start = clock;
    const [a, b] = await Promise.all([client.getDeposition(draft.id), client.getDeposition(draft.id)]);
    expect([a.id, b.id]).toEqual([draft.id, draft.id]);
    expect(emu.requests.filter((r) => r.status === 429)).toHaveLength(1);
    expect(clock - start).toBeGreaterThanOrEqual(1000);
    expect(clock - start).toBeLessThan(10_000);
    // Pacing still holds afterwards: 150 more calls stay within 100 in every minute.
    for (let i = 0; i < 150; i++) await client.getDeposition(draft.id);
    const times = emu.requests.filter((r) => r.status !== 429).map((r) => r.at);
    for (let i = 0; i < times.length; i++) expect(times.filter((t) => t >= times[i]! && t < times[i]! + 60_000).length).toBeLessThanOrEqual(100);
    expect(emu.requests.filter((r) => r.status === 429)).toHaveLength(1);
  });

  it('retries a GET through 5xx answers and resets', async () => {
    const draft = await client.createDeposition(metadata());
    emu.setFaults([
      { route: 'get', kind: '503', probability: 1, count: 1 },
      { route: 'get', kind: 'reset', probability: 1, count: 1 },
      { route: 'get', kind: '500', probability: 1, count: 1 },
    ]);
    expect((await client.getDeposition(draft.id)).id).toBe(draft.id);
    emu.setFaults([{ route: 'get', kind: '502', probability: 1 }]);
    const error = await caught(client.getDeposition(draft.id));
    expect(error).toMatchObject({ code: 'ZENODO_UNAVAILABLE', retryable: true });
  });
});

describe('non-idempotent calls', () => {
  it('publishes exactly once when the publish answer is a 504 after the fact', async () => {
    const draft = await client.createDeposition(metadata());
    await client.uploadFile(draft.bucketUrl!, 'a.csv', Readable.from([Buffer.from('1, 2, 3')]), 7);
    emu.setFaults([{ route: 'publish', kind: '504-after-publish', probability: 1, count: 1 }]);
    const published = await client.publish(draft.id);
    expect(published).toMatchObject({ id: draft.id, state: 'done', doi: `10.5281/zenodo.${draft.id}` });
    expect(emu.requests.filter((r) => r.route === 'publish')).toHaveLength(1);
    expect(emu.state.concepts[0]!.versions).toEqual([draft.id]);
  });

  it('publishes once when a 504 came before the publish ran', async () => {
    const draft = await client.createDeposition(metadata());
    await client.uploadFile(draft.bucketUrl!, 'a.csv', Readable.from([Buffer.from('1, 2, 3')]), 7);
    emu.setFaults([{ route: 'publish', kind: '504', probability: 1, count: 1 }]);
    const published = await client.publish(draft.id);
    expect(published.state).toBe('done');
    expect(emu.state.concepts[0]!.versions).toEqual([draft.id]);
    expect(emu.state.records).toHaveLength(1);
  });

  it('reports an unknown publish when Zenodo never answers', async () => {
    const draft = await client.createDeposition(metadata());
    await client.uploadFile(draft.bucketUrl!, 'a.csv', Readable.from([Buffer.from('1, 2, 3')]), 7);
    emu.setFaults([{ route: 'publish', kind: '504', probability: 1 }]);
    const error = await caught(client.publish(draft.id));
    expect(error).toMatchObject({ code: 'ZENODO_PUBLISH_UNKNOWN', retryable: true });
    expect(emu.state.records).toHaveLength(0);
  });

  it('resumes the pending draft when newversion says "Please remove all files first"', async () => {
    const v1 = await publishedFirstVersion();
    const first = await client.newVersion(v1.id);
    const again = await client.newVersion(v1.id);
    expect(again.id).toBe(first.id);
    expect(emu.state.depositions.filter((d) => d.state === 'unsubmitted')).toHaveLength(1);
  });

  it('does not create a second draft when the newversion answer is lost', async () => {
    const v1 = await publishedFirstVersion();
    emu.setFaults([{ route: 'newversion', kind: '502-after', probability: 1, count: 1 }]);
    const draft = await client.newVersion(v1.id);
    expect(draft.state).toBe('unsubmitted');
    expect(emu.state.concepts[0]!.pendingDraftId).toBe(draft.id);
    expect(emu.state.depositions.filter((d) => d.state === 'unsubmitted')).toHaveLength(1);
  });

  it('does not leave an orphan draft when the create answer is lost', async () => {
    emu.setFaults([{ route: 'create', kind: '504-after', probability: 1, count: 1 }]);
    const draft = await client.createDeposition(metadata());
    expect(emu.state.depositions.map((d) => d.id)).toEqual([draft.id]);
    emu.setFaults([{ route: 'create', kind: '503', probability: 1, count: 1 }]);
    const second = await client.createDeposition(metadata({ related_identifiers: [{ identifier: `${MARKER}-2`, relation: 'isDerivedFrom', scheme: 'url' }] }));
    expect(emu.state.depositions.map((d) => d.id).sort()).toEqual([draft.id, second.id].sort());
  });
});

describe('errors', () => {
  it('maps 403 (another account) to ZENODO_FORBIDDEN with what to do', async () => {
    const other = makeClient({ token: OTHER });
    const theirs = await other.createDeposition(metadata());
    await other.close();
    const error = await caught(client.getDeposition(theirs.id));
    expect(error.code).toBe('ZENODO_FORBIDDEN');
    expect(error.message).toMatch(/share the record with the archive account/);
  });

  it('maps 400 to ZENODO_VALIDATION with Zenodo field messages', async () => {
    const draft = await client.createDeposition(metadata());
    const bad = await caught(client.updateMetadata(draft.id, metadata({ license: 'no-such-licence' })));
    expect(bad.code).toBe('ZENODO_VALIDATION');
    expect(bad.retryable).toBe(false);
    expect(bad.details?.errors).toEqual([expect.objectContaining({ field: 'metadata.license' })]);
    expect(bad.message).toMatch(/metadata\.license: Invalid license provided/);

    await client.updateMetadata(draft.id, { upload_type: 'dataset' });
    await client.uploadFile(draft.bucketUrl!, 'a.csv', Readable.from([Buffer.from('1, 2, 3')]), 7);
    const publish = await caught(client.publish(draft.id));
    expect(publish.code).toBe('ZENODO_VALIDATION');
    const fields = (publish.details?.errors as { field: string }[]).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['metadata.title', 'metadata.creators']));
  });

  it('maps 404 to ZENODO_NOT_FOUND and quota errors to ZENODO_LIMIT_EXCEEDED', async () => {
    expect((await caught(client.getDeposition(424242))).code).toBe('ZENODO_NOT_FOUND');
    const small = await startZenodoEmulator({ tokens: [TOKEN], quotaBytes: 10, now, rateLimit: false });
    const c = createZenodoClient({ baseUrl: `${small.url}/api`, token: TOKEN, log, now, sleep });
    try {
      const draft = await c.createDeposition(metadata());
      const error = await caught(c.uploadFile(draft.bucketUrl!, 'big.csv', Readable.from([Buffer.alloc(11, 1)]), 11));
      expect(error.code).toBe('ZENODO_LIMIT_EXCEEDED');
      expect(error.message).toMatch(/Bucket quota exceeded/);
    } finally {
      await c.close();
      await small.close();
    }
  });
});

/** A hostile or odd Zenodo on loopback: answers whatever `reply` says, echoing the token if asked. */
async function withFakeZenodo(reply: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void, fn: (c: ZenodoClient) => Promise<void>): Promise<void> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => reply(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const c = createZenodoClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: TOKEN, log, now, sleep, retry: { maxAttempts: 2, baseDelayMs: 1 } });
  try {
    await fn(c);
  } finally {
    await c.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

describe('odd servers', () => {
  it('maps 401 to ZENODO_AUTH', async () => {
    await withFakeZenodo((_req, res) => send(res, 401, { status: 401, message: 'The server could not verify that you are authorized to access the URL requested.' }), async (c) => {
      const error = await caught(c.getDeposition(1));
      expect(error.code).toBe('ZENODO_AUTH');
      expect(error.message).toMatch(/could not verify/);
    });
  });

  it('treats a 201 whose checksum differs from the bytes sent as a retryable mismatch', async () => {
    await withFakeZenodo((_req, res, body) => send(res, 201, { key: 'a.bin', size: body.length, checksum: 'md5:00000000000000000000000000000000' }), async (c) => {
      const error = await caught(c.uploadFile(`${c.apiUrl}/files/b1`, 'a.bin', Readable.from([Buffer.from('hello')]), 5));
      expect(error).toMatchObject({ code: 'ZENODO_CHECKSUM_MISMATCH', retryable: true });
    });
  });

  it('follows links.latest_draft when newversion answers the legacy way', async () => {
    await withFakeZenodo((req, res) => {
      const dep = (id: number) => ({ id, conceptrecid: '9', state: id === 10 ? 'done' : 'unsubmitted', submitted: id === 10, files: [], metadata: {},
        links: { latest_draft: `http://x/api/deposit/depositions/${id === 10 ? 11 : id}`, bucket: 'http://x/b' } });
      if (req.url?.endsWith('/actions/newversion')) send(res, 201, dep(10));
      else if (req.url?.endsWith('/depositions/11')) send(res, 200, dep(11));
      else send(res, 404, { status: 404, message: 'nope' });
    }, async (c) => {
      expect((await c.newVersion(10)).id).toBe(11);
    });
  });
});

describe('secrets', () => {
  it('never puts the token in an error message, its details or a log line', async () => {
    const errors: AppError[] = [];
    const collect = async (p: Promise<unknown>): Promise<void> => {
      errors.push(await caught(p));
    };
    await collect(client.getDeposition(424242));
    await collect(makeClient({ token: 'wrong-token-abcdef' }).getDeposition(1));
    const draft = await client.createDeposition(metadata());
    await collect(client.updateMetadata(draft.id, metadata({ license: 'nope' })));
    emu.setFaults([{ route: 'any', kind: '502', probability: 1 }]);
    await collect(client.getDeposition(draft.id));
    emu.setFaults([]);
    // A server that echoes the Authorization header back in its error message.
    await withFakeZenodo((req, res) => send(res, 400, { status: 400, message: `bad header ${String(req.headers.authorization)}`, errors: [{ field: String(req.headers.authorization), messages: [TOKEN] }] }), async (c) => {
      await collect(c.getDeposition(5));
    });
    expect(errors.map((e) => e.code)).toEqual(['ZENODO_NOT_FOUND', 'ZENODO_FORBIDDEN', 'ZENODO_VALIDATION', 'ZENODO_UNAVAILABLE', 'ZENODO_VALIDATION']);
    const errorText = errors.map((e) => JSON.stringify({ message: e.message, details: e.details, stack: e.stack, code: e.code })).join('\n');
    expect(errorText).toContain('bad header');
    expect(errorText).not.toContain(TOKEN);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain(TOKEN);
  });
});
