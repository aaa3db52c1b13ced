import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { generatedBytes } from '../../src/emulators/ckan/content.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';

let stack: Stack;
let daemon: Daemon;

beforeAll(async () => {
  stack = await startStack();
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false });
});

afterAll(async () => {
  await daemon?.stop();
  await stack?.close();
});

function md5(buffer: Buffer): string {
  return createHash('md5').update(buffer).digest('hex');
}

/** Published versions of the concept the dataset is linked to, oldest first. */
async function versions(datasetId: string) {
  const { rows } = await stack.db.pool.query<{ concept_recid: string }>('SELECT concept_recid FROM links WHERE dataset_id = $1', [datasetId]);
  const concept = rows[0]?.concept_recid;
  return stack.zenodo.state.records.filter((r) => r.conceptrecid === concept).sort((a, b) => a.id - b.id);
}

describe('syncing one dataset', () => {
  test("a first archive does not search the account's depositions (they can hold no draft of ours)", async () => {
    // Searching costs up to 3 list requests of 100 depositions each from Zenodo's rate limit, per
    // dataset; only a sync that died between creating a deposition and recording it needs it.
    stack.ckan.addDataset(taggedDataset('no-search', [1000]));
    const before = stack.zenodo.requests.length;
    expect(await daemon.syncNow('no-search')).toMatchObject({ state: 'done', kind: 'first_version' });
    const sent = stack.zenodo.requests.slice(before);
    expect(sent.filter((r) => r.route === 'create')).toHaveLength(1);
    expect(sent.filter((r) => r.route === 'list')).toEqual([]);
  });

  test('first version, replaced file, removed file, unchanged re-sync, metadata-only edit', async () => {
    const dataset = taggedDataset('three-files', [1000, 2000, 3000]);
    const resources = dataset.resources as { id: string; name: string }[];
    stack.ckan.addDataset(dataset);

    // First version: all three files, checksums equal to what CKAN serves.
    const first = await daemon.syncNow('three-files');
    expect(first).toMatchObject({ state: 'done', kind: 'first_version' });
    let published = await versions(dataset.id as string);
    expect(published).toHaveLength(1);
    const v1 = published[0]!;
    expect(v1.files.map((f) => f.key).sort()).toEqual(['file-0.csv', 'file-1.csv', 'file-2.csv']);
    for (const [i, r] of resources.entries()) {
      const file = v1.files.find((f) => f.key === r.name)!;
      expect(file.md5).toBe(md5(generatedBytes(r.id, [1000, 2000, 3000][i]!)));
      expect(md5(await readFile(file.path))).toBe(file.md5);
    }

    // One resource changes, one is removed: a second version of the same concept.
    const changed = Buffer.from('new content of file one\n');
    stack.ckan.setResourceContent(resources[1]!.id, changed);
    stack.ckan.updateDataset('three-files', { resources: (stack.ckan.getDataset('three-files')!.resources as unknown[]).slice(0, 2) });
    const second = await daemon.syncNow('three-files');
    expect(second).toMatchObject({ state: 'done', kind: 'new_version' });
    published = await versions(dataset.id as string);
    expect(published).toHaveLength(2);
    const v2 = published[1]!;
    expect(v2.conceptrecid).toBe(v1.conceptrecid);
    expect(v2.files.map((f) => f.key).sort()).toEqual(['file-0.csv', 'file-1.csv']);
    expect(v2.files.find((f) => f.key === 'file-1.csv')!.md5).toBe(md5(changed));
    expect(v2.files.find((f) => f.key === 'file-0.csv')!.md5).toBe(v1.files.find((f) => f.key === 'file-0.csv')!.md5);

    // Nothing changed: nothing published, no draft left behind.
    const third = await daemon.syncNow('three-files');
    expect(third.state).toBe('skipped');
    expect(await versions(dataset.id as string)).toHaveLength(2);
    expect(stack.zenodo.state.depositions.filter((d) => d.state !== 'done')).toEqual([]);

    // A title change under `edit`: same DOI, new title.
    stack.ckan.updateDataset('three-files', { title: 'A better title' });
    const fourth = await daemon.syncNow('three-files');
    expect(fourth).toMatchObject({ state: 'done', kind: 'metadata_edit', doi: second.state === 'done' ? second.doi : undefined });
    published = await versions(dataset.id as string);
    expect(published).toHaveLength(2);
    expect(published[1]!.metadata.title).toBe('A better title');

    // Owners were mailed for each published change, once.
    const { rows } = await stack.db.pool.query<{ kind: string; recipient: string }>('SELECT kind, recipient FROM mail_outbox WHERE dataset_id = $1 ORDER BY id', [dataset.id]);
    expect(rows).toEqual([
      { kind: 'first_version', recipient: 'three-files@owners.test' },
      { kind: 'new_version', recipient: 'three-files@owners.test' },
      { kind: 'metadata_edit', recipient: 'three-files@owners.test' },
    ]);
  });
});
