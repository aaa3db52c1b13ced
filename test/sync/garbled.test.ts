/**
 * End to end through a proxy that garbles Zenodo's success answers (test/support/garble-proxy.ts):
 * Zenodo does the work, the daemon gets a truncated body, an HTML page or a text/plain answer.
 * Before, a truncated 200 on publish failed the sync although the record was published: owner and
 * admin got a failure mail, and the retry it suggested published a second concept. Now, for every
 * call and every garbling, each change gives one version of one concept, its DOI is recorded and
 * mailed (real SMTP capture), and nobody gets a failure mail.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { decodeEncodedWords } from '../../src/emulators/smtp.js';
import type { SyncOutcome } from '../../src/sync/worker.js';
import { garblings, startGarbleProxy, type GarbleProxy, type GarbleRule, type Garbling } from '../support/garble-proxy.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';

let stack: Stack;
let proxy: GarbleProxy;
let daemon: Daemon;

beforeAll(async () => {
  stack = await startStack();
  proxy = await startGarbleProxy(stack.zenodo.url);
  stack.config.zenodo.url = proxy.url;
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false });
});

afterAll(async () => {
  await daemon?.stop();
  await proxy?.close();
  await stack?.close();
});

/** Which call is garbled, and in which of the two syncs (first version, new version). */
const calls: { name: string; sync: 'first' | 'second'; method: string; path: RegExp }[] = [
  { name: 'create', sync: 'first', method: 'POST', path: /^\/api\/deposit\/depositions\/?$/ },
  { name: 'publish-first', sync: 'first', method: 'POST', path: /\/actions\/publish$/ },
  { name: 'newversion', sync: 'second', method: 'POST', path: /\/actions\/newversion$/ },
  { name: 'delete-file', sync: 'second', method: 'DELETE', path: /^\/api\/deposit\/depositions\/\d+\/files\/[^/]+$/ },
  { name: 'publish-new', sync: 'second', method: 'POST', path: /\/actions\/publish$/ },
  { name: 'get-deposition', sync: 'second', method: 'GET', path: /^\/api\/deposit\/depositions\/\d+$/ },
  { name: 'get-first', sync: 'second', method: 'GET', path: /^\/api\// },
];

interface Case {
  name: string;
  garble: Garbling;
  call: (typeof calls)[number];
  dataset: Record<string, unknown>;
  outcomes: SyncOutcome[];
}

async function syncWith(rules: GarbleRule[], name: string): Promise<SyncOutcome> {
  proxy.garble(rules);
  const outcome = await daemon.syncNow(name);
  expect(proxy.garbled.map((g) => g.garble), `${name}: the garbling happened`).toEqual(rules.map((r) => r.garble));
  proxy.garble([]);
  return outcome;
}

test('every garbled answer of create, newversion, publish, file delete and GET ends in one version per change, recorded and mailed', async () => {
  const cases: Case[] = [];
  for (const call of calls) {
    for (const garble of garblings) {
      const name = `${call.name}-${garble}`;
      const dataset = taggedDataset(name, [1500, 2500]);
      stack.ckan.addDataset(dataset);
      const rule: GarbleRule = { method: call.method, path: call.path, garble };
      const c: Case = { name, garble, call, dataset, outcomes: [] };
      cases.push(c);
      c.outcomes.push(await syncWith(call.sync === 'first' ? [rule] : [], name));
      // A replaced file: the new version deletes the inherited copy, then uploads the new one.
      const resource = (dataset.resources as { id: string }[])[0]!;
      stack.ckan.setResourceContent(resource.id, Buffer.from(`second edition of ${name}\n`.repeat(40)));
      c.outcomes.push(await syncWith(call.sync === 'second' ? [rule] : [], name));
    }
  }
  await daemon.idle(60_000);
  const mailCount = cases.length * 2;
  const messages = await stack.smtp.waitForMessages(mailCount, 30_000);

  const records = stack.zenodo.state.records;
  for (const c of cases) {
    const id = c.dataset.id as string;
    expect(c.outcomes.map((o) => o.state === 'done' && o.kind), c.name).toEqual(['first_version', 'new_version']);
    // One concept for the dataset, one version per change.
    const marker = `${stack.config.ckan.url.replace(/\/+$/, '')}/dataset/${c.name}`;
    const ours = records.filter((r) => JSON.stringify(r.metadata.related_identifiers ?? []).includes(JSON.stringify(marker)));
    expect(new Set(ours.map((r) => r.conceptrecid)).size, c.name).toBe(1);
    expect(ours, c.name).toHaveLength(2);
    const dois = ours.sort((a, b) => a.id - b.id).map((r) => r.doi);
    // Every published DOI recorded...
    const { rows: runs } = await stack.db.pool.query<{ state: string; doi: string | null }>('SELECT state, doi FROM sync_runs WHERE dataset_id = $1 ORDER BY id', [id]);
    expect(runs, c.name).toEqual(dois.map((doi) => ({ state: 'done', doi })));
    const { rows: links } = await stack.db.pool.query<{ latest_doi: string; concept_recid: string }>('SELECT latest_doi, concept_recid FROM links WHERE dataset_id = $1', [id]);
    expect(links, c.name).toEqual([{ latest_doi: dois[1], concept_recid: ours[0]!.conceptrecid }]);
    // ...and mailed to the owner, once per version, with no failure mail to anyone.
    const { rows: outbox } = await stack.db.pool.query<{ kind: string; recipient: string; status: string }>('SELECT kind, recipient, status FROM mail_outbox WHERE dataset_id = $1 ORDER BY id', [id]);
    expect(outbox, c.name).toEqual([
      { kind: 'first_version', recipient: `${c.name}@owners.test`, status: 'sent' },
      { kind: 'new_version', recipient: `${c.name}@owners.test`, status: 'sent' },
    ]);
    const received = messages.filter((m) => m.envelope.to.includes(`${c.name}@owners.test`)).map((m) => unfold(m.raw));
    expect(received, c.name).toHaveLength(2);
    for (const doi of dois) expect(received.filter((raw) => raw.includes(doi)), `${c.name} ${doi}`).not.toHaveLength(0);
  }
  expect(messages).toHaveLength(mailCount);
  expect(messages.filter((m) => /fail/i.test(decodeEncodedWords(/^Subject: (.*)$/m.exec(m.raw)?.[1] ?? '')))).toEqual([]);
  // No draft left open anywhere, no record outside the concepts above.
  expect(stack.zenodo.state.depositions.filter((d) => d.state !== 'done')).toEqual([]);
  expect(records).toHaveLength(cases.length * 2);
}, 300_000);

/** Message text with quoted-printable soft line breaks undone, so a DOI is found whole. */
function unfold(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

test('answers that stay unreadable end the attempt as retryable, and the next attempt records what Zenodo did instead of doing it again', async () => {
  // A create whose answer and every list after it are unreadable: the client cannot know whether
  // the draft exists, so it does not create another; the next attempt finds the draft.
  const created = taggedDataset('unknown-create', [1200]);
  stack.ckan.addDataset(created);
  proxy.garble([
    { method: 'POST', path: /^\/api\/deposit\/depositions\/?$/, garble: 'short' },
    { method: 'GET', path: /^\/api\/deposit\/depositions\/?$/, garble: 'html', times: 1000 },
  ]);
  await expect(daemon.syncNow('unknown-create')).rejects.toMatchObject({ retryable: true });
  // A publish whose answers and re-reads all break: never published twice, never failed.
  const published = taggedDataset('unknown-publish', [1300]);
  stack.ckan.addDataset(published);
  proxy.garble([
    { method: 'POST', path: /\/actions\/publish$/, garble: 'cut', times: 1000 },
    // The first GET of the deposition is the worker's own check before publishing.
    { method: 'GET', path: /^\/api\/deposit\/depositions\/\d+$/, garble: 'text-plain', nth: 2, times: 1000 },
  ]);
  await expect(daemon.syncNow('unknown-publish')).rejects.toMatchObject({ code: 'ZENODO_PUBLISH_UNKNOWN', retryable: true });

  proxy.garble([]);
  for (const [name, dataset] of [['unknown-create', created], ['unknown-publish', published]] as const) {
    expect(await daemon.syncNow(name), name).toMatchObject({ state: 'done', kind: 'first_version' });
    const { rows } = await stack.db.pool.query<{ concept_recid: string; latest_doi: string }>('SELECT concept_recid, latest_doi FROM links WHERE dataset_id = $1', [dataset.id]);
    const versions = stack.zenodo.state.records.filter((r) => r.conceptrecid === rows[0]!.concept_recid);
    expect(versions.map((r) => r.doi), name).toEqual([rows[0]!.latest_doi]);
    const { rows: outbox } = await stack.db.pool.query<{ kind: string }>('SELECT kind FROM mail_outbox WHERE dataset_id = $1', [dataset.id]);
    expect(outbox, name).toEqual([{ kind: 'first_version' }]);
  }
  expect(stack.zenodo.state.depositions.filter((d) => d.state !== 'done')).toEqual([]);
  expect(stack.zenodo.state.records.filter((r) => JSON.stringify(r.metadata.related_identifiers ?? []).includes('/dataset/unknown-'))).toHaveLength(2);
}, 120_000);

test('a first version published while every answer was lost, after the sync gave up: the retry links to it and mints no second concept DOI', async () => {
  const giveUp = await startDaemon({ config: { ...stack.config, sync: { ...stack.config.sync, maxAttempts: 1 } }, rules: stack.rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false });
  const dataset = taggedDataset('lost-first-publish', [1400]);
  stack.ckan.addDataset(dataset);
  try {
    proxy.garble([
      { method: 'POST', path: /\/actions\/publish$/, garble: 'cut', times: 1000 },
      { method: 'GET', path: /^\/api\/deposit\/depositions\/\d+$/, garble: 'html', nth: 2, times: 1000 },
    ]);
    expect(await giveUp.syncNow('lost-first-publish')).toMatchObject({ state: 'failed', code: 'ZENODO_PUBLISH_UNKNOWN' });
    proxy.garble([]);
    const concepts = (): string[] => stack.zenodo.state.records.filter((r) => JSON.stringify(r.metadata.related_identifiers ?? []).includes('/dataset/lost-first-publish')).map((r) => r.conceptrecid);
    expect(concepts()).toHaveLength(1); // Zenodo did publish it

    const retried = await giveUp.syncNow('lost-first-publish', 'retry');
    expect(retried.state === 'done' || retried.state === 'unchanged' || retried.state === 'skipped').toBe(true);
    expect(new Set(concepts()).size).toBe(1);
    const { rows } = await stack.db.pool.query<{ concept_recid: string }>('SELECT concept_recid FROM links WHERE dataset_id = $1', [dataset.id]);
    expect(rows.map((r) => r.concept_recid)).toEqual([concepts()[0]]);
    expect(stack.zenodo.state.depositions.filter((d) => d.state !== 'done')).toEqual([]);
  } finally {
    proxy.garble([]);
    await giveUp.stop();
  }
}, 120_000);
