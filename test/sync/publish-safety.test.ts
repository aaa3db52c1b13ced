/**
 * A DOI is forever (issue 13): what the daemon must never publish, tried through every way a sync
 * can start — the scan, `sync`, `retry`, "Archive now" over HTTP, a job queued before the dataset
 * became private, and a sync already uploading when it did. Each check looks at what a user would
 * see: the Zenodo account (nothing created), the sync's outcome and the owners' mail.
 */
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { isAppError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';

let stack: Stack;
let daemon: Daemon;

beforeAll(async () => {
  stack = await startStack();
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'run', workers: false, schedule: false, http: true });
});

afterAll(async () => {
  await daemon?.stop();
  await stack?.close();
});

/** Zenodo requests that create or change something (anything but reading). */
function writesSince(mark: number): string[] {
  return stack.zenodo.requests
    .slice(mark)
    .filter((r) => r.method !== 'GET')
    .map((r) => `${r.method} ${r.route ?? r.path}`);
}

async function syncState(datasetId: string): Promise<string[]> {
  const { rows } = await stack.db.pool.query<{ state: string }>('SELECT state FROM sync_runs WHERE dataset_id = $1 ORDER BY id', [datasetId]);
  return rows.map((r) => r.state);
}

/** The text bodies of the mails sent to `address`, once the outbox has drained. */
async function mailsTo(address: string, count: number): Promise<string[]> {
  await daemon.idle();
  const messages = stack.smtp.messages.filter((m) => m.envelope.to.includes(address));
  expect(messages).toHaveLength(count);
  return Promise.all(messages.map(async (m) => (await simpleParser(m.raw)).text ?? ''));
}

describe('a private dataset is never published', () => {
  test('the scan does not queue it', async () => {
    const dataset = taggedDataset('private-scan', [1200], { private: true });
    stack.ckan.addDataset(dataset);
    const mark = stack.zenodo.requests.length;
    const report = await daemon.scanNow();
    expect(report.datasets.find((d) => d.datasetId === dataset.id)).toBeUndefined();
    expect(await daemon.queue.boss.getQueueSize('sync-dataset')).toBe(0);
    expect(writesSince(mark)).toEqual([]);
  });

  test.each(['manual', 'retry'])('`%s` refuses it and says why', async (trigger) => {
    const name = `private-${trigger}`;
    const dataset = taggedDataset(name, [1200], { private: true });
    stack.ckan.addDataset(dataset);
    const mark = stack.zenodo.requests.length;
    const error: unknown = await daemon.syncNow(name, trigger).catch((e: unknown) => e);
    expect(isAppError(error, 'DATASET_NOT_SELECTED')).toBe(true);
    expect((error as Error).message).toMatch(/private in CKAN/);
    expect(writesSince(mark)).toEqual([]);
    expect(await syncState(dataset.id as string)).toEqual([]);
  });

  test('"Archive now" over HTTP answers 409 with the reason and queues nothing', async () => {
    const dataset = taggedDataset('private-http', [1200], { private: true });
    stack.ckan.addDataset(dataset);
    const response = await fetch(`${daemon.httpUrl!}/api/datasets/private-http/sync`, { method: 'POST', headers: { Authorization: `Bearer ${stack.config.http.token!}` } });
    expect(response.status).toBe(409);
    expect(((await response.json()) as { error: string }).error).toMatch(/private in CKAN/);
    expect(await daemon.queue.boss.getQueueSize('sync-dataset')).toBe(0);
  });

  test('a job queued while it was public ends skipped once it is private: nothing reaches Zenodo', async () => {
    const dataset = taggedDataset('private-later', [1200]);
    stack.ckan.addDataset(dataset);
    await daemon.triggerSync('private-later');
    stack.ckan.updateDataset('private-later', { private: true });
    const mark = stack.zenodo.requests.length;
    const worker = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'worker', pollingIntervalSeconds: 0.5 });
    try {
      await worker.idle();
    } finally {
      await worker.stop();
    }
    expect(writesSince(mark)).toEqual([]);
    const { rows } = await stack.db.pool.query<{ state: string; inactive_reason: string | null }>('SELECT state, inactive_reason FROM links WHERE dataset_id = $1', [dataset.id]);
    expect(rows).toEqual([]); // never linked: nothing of it exists on Zenodo
    expect(await syncState(dataset.id as string)).toEqual([]);
  });

  test('made private while its files upload: the draft is discarded, nothing is published, the sync ends skipped', async () => {
    const dataset = taggedDataset('private-mid-sync', [1200, 800]);
    stack.ckan.addDataset(dataset);
    const records = stack.zenodo.state.records.length;
    const mid = await startDaemon({
      config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false,
      onStep: (state) => {
        if (state === 'files_synced') stack.ckan.updateDataset('private-mid-sync', { private: true });
      },
    });
    try {
      const outcome = await mid.syncNow('private-mid-sync');
      expect(outcome).toMatchObject({ state: 'skipped' });
      expect(outcome.state === 'skipped' && outcome.reason).toMatch(/private in CKAN/);
    } finally {
      await mid.stop();
    }
    expect(stack.zenodo.state.records.length).toBe(records);
    expect(stack.zenodo.state.depositions.filter((d) => d.state !== 'done')).toEqual([]);
    expect(await syncState(dataset.id as string)).toEqual(['skipped']);
  });
});

describe('no silent licence, no nameless record', () => {
  test('a dataset without a licence is not published; the owner is told what to set in CKAN', async () => {
    const dataset = taggedDataset('no-licence', [1500], { license_id: null, license_title: null, maintainer_email: 'owner-nolicence@owners.test' });
    stack.ckan.addDataset(dataset);
    const mark = stack.zenodo.requests.length;
    const outcome = await daemon.syncNow('no-licence');
    expect(outcome).toMatchObject({ state: 'failed', code: 'LICENSE_UNKNOWN' });
    expect(writesSince(mark)).toEqual([]);
    const [mail] = await mailsTo('owner-nolicence@owners.test', 1);
    expect(mail).toMatch(/licence/);
    expect(mail).toMatch(/edit the dataset in CKAN and choose its licence/i);
  });

  test("with the rule's licence it is published under that licence, and the mail says why", async () => {
    const rules = { ...stack.rules, rules: stack.rules.rules.map((r) => ({ ...r, name: 'with-licence', zenodo: { ...r.zenodo, license: 'cc0-1.0' } })) };
    const withRule = await startDaemon({ config: stack.config, rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false });
    try {
      const dataset = taggedDataset('rule-licence', [1500], { license_id: 'other-undefined', maintainer_email: 'owner-rulelicence@owners.test' });
      stack.ckan.addDataset(dataset);
      const outcome = await withRule.syncNow('rule-licence');
      expect(outcome).toMatchObject({ state: 'done', kind: 'first_version' });
      const record = stack.zenodo.state.records.find((r) => r.doi === (outcome.state === 'done' ? outcome.doi : ''));
      // Zenodo answers CC0 as `cc-zero` (reference zenodo-api.md §5.1).
      expect(record?.metadata.license).toBe('cc-zero');
      await withRule.idle();
    } finally {
      await withRule.stop();
    }
    const [mail] = await mailsTo('owner-rulelicence@owners.test', 1);
    expect(mail).toMatch(/Licence: "cc0-1.0", set by rule "with-licence"/);
    // The status page's version timeline says the same.
    const page = await fetch(`${daemon.httpUrl!}/datasets/rule-licence`, { headers: { Authorization: `Bearer ${stack.config.http.token!}` } });
    expect(await page.text()).toContain('Licence &quot;cc0-1.0&quot;, set by rule &quot;with-licence&quot; (zenodo.license) because the dataset&#39;s CKAN licence &quot;other-undefined&quot; has no exact Zenodo equivalent');
  });

  test('a dataset that names nobody (no author, maintainer or organization) is not published', async () => {
    const dataset = taggedDataset('nameless', [1500], { author: null, maintainer: null, organization: null, owner_org: null });
    stack.ckan.addDataset(dataset);
    const mark = stack.zenodo.requests.length;
    expect(await daemon.syncNow('nameless')).toMatchObject({ state: 'failed', code: 'CREATORS_UNKNOWN' });
    expect(writesSince(mark)).toEqual([]);
  });
});

describe('empty resources', () => {
  test('one empty and one non-empty resource: the non-empty file is published, the mail names the empty one', async () => {
    const dataset = taggedDataset('half-empty', [0, 2048], { maintainer_email: 'owner-halfempty@owners.test' });
    stack.ckan.addDataset(dataset);
    const resources = dataset.resources as { id: string }[];
    stack.ckan.setResourceContent(resources[0]!.id, Buffer.alloc(0));
    const outcome = await daemon.syncNow('half-empty');
    expect(outcome).toMatchObject({ state: 'done', kind: 'first_version' });
    const record = stack.zenodo.state.records.find((r) => r.doi === (outcome.state === 'done' ? outcome.doi : ''));
    expect(record?.files.map((f) => f.key)).toEqual(['file-1.csv']);
    const [mail] = await mailsTo('owner-halfempty@owners.test', 1);
    expect(mail).toMatch(/file-0\.csv: the file is empty \(0 bytes\)/);
  });

  test('only empty resources: nothing is published and no draft is left', async () => {
    const dataset = taggedDataset('all-empty', [0]);
    stack.ckan.addDataset(dataset);
    stack.ckan.setResourceContent((dataset.resources as { id: string }[])[0]!.id, Buffer.alloc(0));
    expect(await daemon.syncNow('all-empty')).toMatchObject({ state: 'failed', code: 'NO_FILES' });
    expect(stack.zenodo.state.depositions.filter((d) => d.state !== 'done')).toEqual([]);
  });
});

describe('see before you publish: sync --dry-run', () => {
  test('shows the exact metadata, files with sizes, skipped resources and the licence, and creates nothing', async () => {
    const rules = { ...stack.rules, rules: stack.rules.rules.map((r) => ({ ...r, resources: { ...r.resources, formats: ['CSV'] } })) };
    const previewer = await startDaemon({ config: stack.config, rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false });
    const dataset = taggedDataset('preview-me', [1500, 700], { doi: '10.16904/envidat.42' });
    (dataset.resources as { format: string }[])[1]!.format = 'PDF';
    stack.ckan.addDataset(dataset);
    const mark = stack.zenodo.requests.length;
    try {
      const preview = await previewer.previewSync('preview-me');
      expect(preview.stop).toBeUndefined();
      expect(preview.kind).toBe('first_version');
      expect(preview.files).toEqual([{ filename: 'file-0.csv', action: 'add', size: 1500, source: expect.stringContaining('/download/file-0.csv') as string }]);
      expect(preview.skipped).toEqual([{ resourceId: expect.any(String) as string, name: 'file-1.csv', reason: 'format "PDF" is not in the rule\'s formats (CSV)' }]);
      expect(preview.license).toBe('"cc-by-4.0", from the dataset\'s licence "cc-by" in CKAN');
      expect(preview.metadata).toMatchObject({
        title: 'Dataset preview-me',
        license: 'cc-by-4.0',
        creators: [{ name: 'Jane Doe' }, { name: 'John Smith' }],
        keywords: ['environment'],
        related_identifiers: [
          { identifier: `${stack.config.ckan.url}/dataset/preview-me`, relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'url' },
          { identifier: '10.16904/envidat.42', relation: 'isDerivedFrom', resource_type: 'dataset', scheme: 'doi' },
        ],
      });
    } finally {
      await previewer.stop();
    }
    expect(writesSince(mark)).toEqual([]);
    expect(await syncState(dataset.id as string)).toEqual([]);
  });

  test('says why a dataset would not be published', async () => {
    stack.ckan.addDataset(taggedDataset('preview-private', [100], { private: true }));
    expect((await daemon.previewSync('preview-private')).stop).toMatchObject({ code: 'DATASET_NOT_SELECTED', message: expect.stringMatching(/private in CKAN/) as string });
    stack.ckan.addDataset(taggedDataset('preview-nolicence', [100], { license_id: 'cc-nc' }));
    const noLicence = await daemon.previewSync('preview-nolicence');
    expect(noLicence.stop?.code).toBe('LICENSE_UNKNOWN');
    expect(noLicence.metadata).toBeDefined();
  });
});
