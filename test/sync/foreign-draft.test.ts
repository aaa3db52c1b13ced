/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call --
   Zenodo answers are untyped JSON read by the test as a person's client would. */
/**
 * Someone else's draft is never adopted: a person who started a new version of the record on
 * Zenodo by hand (a file of their own, metadata edited) keeps it exactly as they left it; the sync
 * waits (retryable, with a message saying why) and publishes once that draft is discarded.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';
import { call, upload } from '../emulators/zenodo/helpers.js';

let stack: Stack;
let daemon: Daemon;

beforeAll(async () => {
  stack = await startStack();
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false });
}, 120_000);

afterAll(async () => {
  await daemon?.stop({ timeoutMs: 2000 });
  await stack?.close();
});

const dep = '/api/deposit/depositions';

test('a new version drafted by hand on Zenodo is left alone until it is discarded', async () => {
  const dataset = taggedDataset('hand-drafted', [3000]);
  const id = dataset.id as string;
  const resourceId = (dataset.resources as { id: string }[])[0]!.id;
  stack.ckan.addDataset(dataset);
  const first = await daemon.syncNow(id);
  expect(first.state).toBe('done');
  const recordId = stack.zenodo.state.records.find((r) => r.doi === (first as { doi: string }).doi)!.id;

  // A person opens a new version, uploads a file of their own and edits the title.
  const draft = (await call(stack.zenodo, 'POST', `${dep}/${recordId}/actions/newversion`)).body;
  expect((await upload(stack.zenodo, draft.links.bucket, 'notes-by-hand.txt', 'my own notes')).status).toBe(201);
  const edited = { ...draft.metadata, title: 'Edited by hand', publication_date: draft.metadata.publication_date ?? '2026-12-01' };
  expect((await call(stack.zenodo, 'PUT', `${dep}/${draft.id}`, { json: { metadata: edited } })).status).toBe(200);
  const before = (await call(stack.zenodo, 'GET', `${dep}/${draft.id}`)).body;

  stack.ckan.setResourceContent(resourceId, { size: 4000, seed: 'changed' });
  const waiting = await daemon.syncNow(id).catch((e: unknown) => e);
  expect(waiting).toMatchObject({ code: 'ZENODO_CONFLICT', retryable: true });
  expect((waiting as Error).message).toContain('a new version of the record is being edited on Zenodo');

  // The person's draft: neither published nor changed.
  const after = (await call(stack.zenodo, 'GET', `${dep}/${draft.id}`)).body;
  expect(after.state).toBe('unsubmitted');
  expect(after.submitted).toBe(false);
  expect(after.metadata).toEqual(before.metadata);
  expect(after.files.map((f: { filename: string; checksum: string }) => [f.filename, f.checksum]).sort()).toEqual(before.files.map((f: { filename: string; checksum: string }) => [f.filename, f.checksum]).sort());
  expect(after.files.map((f: { filename: string }) => f.filename)).toContain('notes-by-hand.txt');
  const { rows } = await stack.db.pool.query<{ state: string; error_message: string }>(`SELECT state, error_message FROM sync_runs WHERE dataset_id = $1 ORDER BY id DESC LIMIT 1`, [id]);
  expect(rows[0]!.state).toBe('planned');
  expect(rows[0]!.error_message).toContain('resumes when that draft is published or discarded');

  // Discarded by hand: the waiting sync goes on and publishes.
  expect((await call(stack.zenodo, 'POST', `${dep}/${draft.id}/actions/discard`)).status).toBeLessThan(300);
  const resumed = await daemon.syncNow(id);
  expect(resumed).toMatchObject({ state: 'done', kind: 'new_version' });
  const latest = stack.zenodo.state.records.find((r) => r.doi === (resumed as { doi: string }).doi)!;
  expect(latest).toBeDefined();
  expect(stack.zenodo.state.depositions.filter((d) => d.state !== 'done')).toEqual([]);
}, 120_000);
