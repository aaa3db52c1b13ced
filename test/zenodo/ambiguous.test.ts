/**
 * Answers that arrive but cannot be read (zenodo client module comment): the Zenodo emulator does
 * the work, the garbling proxy in front of it mangles the success answer. Whatever the garbling,
 * the client ends where Zenodo really is: one draft per create, one pending draft per new
 * version, one publish per draft, a file deleted once, a GET answered after a retry. The client
 * and the emulator share a fake clock, so backoff and lookup pauses take no real time.
 */
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startZenodoEmulator, type ZenodoEmulator } from '../../src/emulators/zenodo/server.js';
import { seededRandom } from '../../src/emulators/faults.js';
import { silentLogger } from '../../src/log.js';
import { isAppError, type AppError } from '../../src/errors.js';
import { createZenodoClient, type ZenodoClient } from '../../src/zenodo/client.js';
import { garblings, startGarbleProxy, type GarbleProxy, type GarbleRule } from '../support/garble-proxy.js';

const TOKEN = 'ambiguous-test-token';
const MARKER = 'https://data.example.org/dataset/river-levels';

function metadata(): Record<string, unknown> {
  return {
    title: 'River levels',
    upload_type: 'dataset',
    description: '<p>Gauges</p>',
    creators: [{ name: 'Doe, Jane' }],
    license: 'cc-by-4.0',
    access_right: 'open',
    related_identifiers: [{ identifier: MARKER, relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' }],
  };
}

let clock = Date.now();
const now = (): number => clock;
const sleep = async (ms: number): Promise<void> => {
  clock += Math.max(0, ms);
  await Promise.resolve();
};

let emu: ZenodoEmulator;
let proxy: GarbleProxy;
let client: ZenodoClient;

beforeAll(async () => {
  emu = await startZenodoEmulator({ tokens: [TOKEN], now, rateLimit: false });
  proxy = await startGarbleProxy(emu.url);
});
afterAll(async () => {
  await proxy.close();
  await emu.close();
});
beforeEach(() => {
  emu.reset();
  emu.setFaults([]);
  proxy.garble([]);
  client = createZenodoClient({
    baseUrl: proxy.url, token: TOKEN, log: silentLogger(), timeoutMs: 10_000,
    retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 2000 }, random: seededRandom(7), now, sleep,
  });
});
afterEach(async () => {
  await client.close();
});

async function caught(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error('expected an error');
}

const upload = (draftBucket: string, name: string, text: string) => client.uploadFile(draftBucket, name, Readable.from([Buffer.from(text)]), Buffer.byteLength(text));

async function publishedVersion(): Promise<{ id: number; concept: string }> {
  const draft = await client.createDeposition(metadata());
  await upload(draft.bucketUrl!, 'levels.csv', 'a,b\n1,2\n');
  const v1 = await client.publish(draft.id);
  return { id: v1.id, concept: v1.conceptRecid! };
}

function rule(method: string, path: RegExp, garble: GarbleRule['garble'], extra: Partial<GarbleRule> = {}): GarbleRule[] {
  return [{ method, path, garble, ...extra }];
}

describe.each(garblings)('a %s answer', (garble) => {
  it('to create gives the draft Zenodo made, and only that one', async () => {
    proxy.garble(rule('POST', /^\/api\/deposit\/depositions\/?$/, garble));
    const draft = await client.createDeposition(metadata());
    expect(proxy.garbled).toHaveLength(1);
    expect(emu.state.depositions.map((d) => d.id)).toEqual([draft.id]);
    expect(draft).toMatchObject({ state: 'unsubmitted', submitted: false });
    expect(draft.bucketUrl).toMatch(/^http/);
  });

  it('to create finds the draft even while the list has not caught up yet', async () => {
    // The list leaves the new draft out three times (index lag, Q15): the client keeps looking.
    proxy.garble(rule('POST', /^\/api\/deposit\/depositions\/?$/, garble, { hideFromLists: 3 }));
    const draft = await client.createDeposition(metadata());
    expect(emu.state.depositions.map((d) => d.id)).toEqual([draft.id]);
    expect(emu.requests.filter((r) => r.route === 'list').length).toBeGreaterThanOrEqual(4);
  });

  it('to newversion gives the one pending draft', async () => {
    const v1 = await publishedVersion();
    proxy.garble(rule('POST', /\/actions\/newversion$/, garble));
    const draft = await client.newVersion(v1.id);
    expect(proxy.garbled).toHaveLength(1);
    expect(draft).toMatchObject({ state: 'unsubmitted', conceptRecid: v1.concept });
    expect(draft.id).not.toBe(v1.id);
    expect(emu.state.concepts.find((c) => c.conceptrecid === v1.concept)!.pendingDraftId).toBe(draft.id);
    expect(emu.state.depositions.filter((d) => d.state === 'unsubmitted').map((d) => d.id)).toEqual([draft.id]);
  });

  it('to publish gives the published record, published once', async () => {
    const draft = await client.createDeposition(metadata());
    await upload(draft.bucketUrl!, 'levels.csv', 'a,b\n1,2\n');
    proxy.garble(rule('POST', /\/actions\/publish$/, garble));
    const published = await client.publish(draft.id);
    expect(proxy.garbled).toHaveLength(1);
    expect(published).toMatchObject({ id: draft.id, state: 'done', submitted: true, doi: `10.5281/zenodo.${draft.id}` });
    expect(published.conceptDoi).toMatch(/^10\.5281\/zenodo\.\d+$/);
    expect(published.files.map((f) => f.filename)).toEqual(['levels.csv']);
    expect(emu.requests.filter((r) => r.route === 'publish')).toHaveLength(1);
    expect(emu.state.records.map((r) => r.id)).toEqual([draft.id]);
  });

  it('to publishing a new version gives that version, published once', async () => {
    const v1 = await publishedVersion();
    const draft = await client.newVersion(v1.id);
    proxy.garble(rule('POST', /\/actions\/publish$/, garble));
    const v2 = await client.publish(draft.id);
    expect(v2).toMatchObject({ id: draft.id, state: 'done', conceptRecid: v1.concept, doi: `10.5281/zenodo.${draft.id}` });
    expect(emu.state.concepts.find((c) => c.conceptrecid === v1.concept)!.versions).toEqual([v1.id, draft.id]);
  });

  it('to a file delete ends with the file gone and nothing else touched', async () => {
    const draft = await client.createDeposition(metadata());
    await upload(draft.bucketUrl!, 'keep.csv', 'keep\n');
    await upload(draft.bucketUrl!, 'drop.csv', 'drop\n');
    const files = await client.listFiles(draft.id);
    const drop = files.find((f) => f.filename === 'drop.csv')!;
    proxy.garble(rule('DELETE', /\/files\/[^/]+$/, garble));
    await client.deleteFile(draft.id, drop.id);
    expect(proxy.garbled).toHaveLength(1);
    expect((await client.listFiles(draft.id)).map((f) => f.filename)).toEqual(['keep.csv']);
  });

  it('to a GET is read again', async () => {
    const draft = await client.createDeposition(metadata());
    proxy.garble(rule('GET', /^\/api\/deposit\/depositions\/\d+$/, garble));
    const got = await client.getDeposition(draft.id);
    expect(proxy.garbled).toHaveLength(1);
    expect(got).toMatchObject({ id: draft.id, state: 'unsubmitted' });
    expect(emu.requests.filter((r) => r.route === 'get')).toHaveLength(2);
  });

  it('to a list is read again', async () => {
    const draft = await client.createDeposition(metadata());
    proxy.garble(rule('GET', /^\/api\/deposit\/depositions\/?$/, garble));
    expect((await client.findUnpublishedDraft(MARKER))?.id).toBe(draft.id);
  });

  it('to a metadata update and an edit is sent again', async () => {
    const v1 = await publishedVersion();
    proxy.garble([
      { method: 'POST', path: /\/actions\/edit$/, garble },
      { method: 'PUT', path: /^\/api\/deposit\/depositions\/\d+$/, garble },
    ]);
    const editing = await client.edit(v1.id);
    expect(editing.state).toBe('inprogress');
    const updated = await client.updateMetadata(v1.id, { ...metadata(), title: 'River levels, corrected' });
    expect(updated.title).toBe('River levels, corrected');
    expect(proxy.garbled).toHaveLength(2);
    const republished = await client.publish(v1.id);
    expect(republished).toMatchObject({ id: v1.id, state: 'done', title: 'River levels, corrected' });
  });

  it('to a discard ends with the draft gone', async () => {
    const v1 = await publishedVersion();
    const draft = await client.newVersion(v1.id);
    proxy.garble(rule('POST', /\/actions\/discard$/, garble));
    await client.discard(draft.id);
    expect(proxy.garbled).toHaveLength(1);
    expect(emu.state.depositions.filter((d) => d.state === 'unsubmitted')).toEqual([]);
    expect(emu.state.records.map((r) => r.id)).toEqual([v1.id]);
  });

  it('to an upload repeats the upload and verifies it', async () => {
    const draft = await client.createDeposition(metadata());
    proxy.garble(rule('PUT', /^\/api\/files\//, garble));
    const result = await client.uploadFileWithRetry(draft.bucketUrl!, 'levels.csv', () => Promise.resolve(Readable.from([Buffer.from('1, 2, 3')])), 7);
    expect(result.md5).toBe('66ce05ea43c73b8e33c74c12d0371bc9');
    expect(emu.state.depositions[0]!.files.map((f) => [f.key, f.md5])).toEqual([['levels.csv', '66ce05ea43c73b8e33c74c12d0371bc9']]);
  });
});

describe('answers that never become readable', () => {
  it('fail a GET after the retries with a retryable error naming the call', async () => {
    const draft = await client.createDeposition(metadata());
    proxy.garble(rule('GET', /^\/api\/deposit\/depositions\/\d+$/, 'html', { times: 100 }));
    const error = await caught(client.getDeposition(draft.id));
    expect(error).toMatchObject({ code: 'ZENODO_BAD_RESPONSE', retryable: true });
    expect(error.message).toMatch(/get deposition \(deposition \d+\).*text\/html/);
    expect(emu.requests.filter((r) => r.route === 'get')).toHaveLength(5);
  });

  it('never publish twice: a publish whose answers and re-reads all break stays one publish', async () => {
    const draft = await client.createDeposition(metadata());
    await upload(draft.bucketUrl!, 'levels.csv', 'a,b\n1,2\n');
    proxy.garble([
      { method: 'POST', path: /\/actions\/publish$/, garble: 'short', times: 100 },
      { method: 'GET', path: /^\/api\/deposit\/depositions\/\d+$/, garble: 'html', times: 100 },
    ]);
    const error = await caught(client.publish(draft.id));
    expect(error).toMatchObject({ code: 'ZENODO_PUBLISH_UNKNOWN', retryable: true });
    expect(emu.state.records).toHaveLength(1);
    // Once Zenodo's answers are readable again, the publish is seen, not repeated.
    proxy.garble([]);
    expect(await client.publish(draft.id)).toMatchObject({ id: draft.id, state: 'done' });
    expect(emu.state.records).toHaveLength(1);
  });

  it('do not make a create try again when the drafts cannot be listed', async () => {
    proxy.garble([
      { method: 'POST', path: /^\/api\/deposit\/depositions\/?$/, garble: 'cut' },
      { method: 'GET', path: /^\/api\/deposit\/depositions\/?$/, garble: 'html', times: 100 },
    ]);
    const error = await caught(client.createDeposition(metadata()));
    expect(error).toMatchObject({ code: 'ZENODO_UNAVAILABLE', retryable: true });
    expect(emu.requests.filter((r) => r.route === 'create')).toHaveLength(1);
    proxy.garble([]);
    expect((await client.findUnpublishedDraft(MARKER))?.id).toBe(emu.state.depositions[0]!.id);
  });
});

describe('empty files', () => {
  it('are refused before any request, with a permanent error saying Zenodo refuses them', async () => {
    const draft = await client.createDeposition(metadata());
    const before = emu.requests.length;
    let opened = 0;
    const error = await caught(client.uploadFileWithRetry(draft.bucketUrl!, 'empty.csv', () => {
      opened++;
      return Promise.resolve({ body: Readable.from([]), size: 0 });
    }));
    expect(error).toMatchObject({ code: 'ZENODO_EMPTY_FILE', retryable: false });
    expect(error.message).toMatch(/empty.csv.*Zenodo refuses empty files/);
    expect(opened).toBe(1);
    expect(await caught(client.uploadFile(draft.bucketUrl!, 'empty.csv', Readable.from([]), 0))).toMatchObject({ code: 'ZENODO_EMPTY_FILE' });
    expect(await caught(client.uploadFileWithRetry(draft.bucketUrl!, 'empty.csv', () => Promise.resolve(Readable.from([])), 0))).toMatchObject({ code: 'ZENODO_EMPTY_FILE' });
    expect(emu.requests.slice(before)).toEqual([]);
  });
});
