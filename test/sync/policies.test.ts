/**
 * The sync's rules around the edges: DOI write-back that the scanner must not mistake for an
 * edit, a CKAN extra pointing at another concept, datasets a rule says not to create records for,
 * and transient errors that never end.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';
import { makeRule } from '../support/rules.js';

let stack: Stack;
let daemon: Daemon;

beforeAll(async () => {
  stack = await startStack({ config: { sync: { writeBack: true, maxAttempts: 2 } } });
  stack.rules.rules.unshift(makeRule({ name: 'notify-only', when: { tags: ['notify-only'] }, on_unmapped: 'notify' }));
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'run', schedule: false, http: false, pollingIntervalSeconds: 0.5 });
});

afterAll(async () => {
  await daemon?.stop();
  await stack?.close();
});

async function mailsFor(datasetId: string): Promise<{ kind: string; recipient: string; payload: { error?: { code: string } } }[]> {
  const { rows } = await stack.db.pool.query<{ kind: string; recipient: string; payload: { error?: { code: string } } }>('SELECT kind, recipient, payload FROM mail_outbox WHERE dataset_id = $1 ORDER BY id', [datasetId]);
  return rows;
}

describe('sync policies', () => {
  test('DOIs are written back into the extras, the other extras kept, and the next scan sees no change', async () => {
    const dataset = taggedDataset('write-back', [100], { extras: [{ key: 'source', value: 'buoy M3' }] });
    stack.ckan.addDataset(dataset);
    const first = await daemon.scanNow();
    expect(first.datasets.map((d) => d.name)).toContain('write-back');
    await daemon.idle(30_000);

    const extras = Object.fromEntries((stack.ckan.getDataset('write-back')!.extras as { key: string; value: string }[]).map((e) => [e.key, e.value]));
    const { rows } = await stack.db.pool.query<{ concept_doi: string; latest_doi: string }>('SELECT concept_doi, latest_doi FROM links WHERE dataset_id = $1', [dataset.id]);
    expect(extras).toMatchObject({ source: 'buoy M3', zenodo_doi: rows[0]!.concept_doi, zenodo_version_doi: rows[0]!.latest_doi });
    expect(extras.zenodo_record_url).toMatch(/^http/);

    // The write-back bumped metadata_modified in CKAN, but it is not an edit of the dataset.
    const second = await daemon.scanNow();
    expect(second.datasets.filter((d) => d.name === 'write-back')).toEqual([]);
    expect(second.enqueued).toBe(0);
  });

  test('a CKAN extra naming another concept than the stored link fails with a conflict for owner and admin', async () => {
    const dataset = taggedDataset('conflicted', [100]);
    stack.ckan.addDataset(dataset);
    expect(await daemon.syncNow('conflicted')).toMatchObject({ state: 'done' });
    const other = taggedDataset('other', [100]);
    stack.ckan.addDataset(other);
    const otherDone = await daemon.syncNow('other');
    expect(otherDone.state).toBe('done');
    const otherDoi = otherDone.state === 'done' ? otherDone.conceptDoi! : '';

    stack.ckan.updateDataset('conflicted', { extras: [{ key: 'zenodo_doi', value: otherDoi }] });
    const outcome = await daemon.syncNow('conflicted');
    expect(outcome).toMatchObject({ state: 'failed', code: 'LINK_CONFLICT' });
    const failure = (await mailsFor(dataset.id as string)).filter((m) => m.kind === 'failure');
    expect(failure.map((m) => m.recipient).sort()).toEqual(['admin@portal.test', 'conflicted@owners.test']);
    expect(failure[0]!.payload.error?.code).toBe('LINK_CONFLICT');
  });

  test('on_unmapped: notify creates nothing on Zenodo and tells the owner how to link', async () => {
    const dataset = taggedDataset('unmapped', [100], { tags: [{ name: 'notify-only' }] });
    stack.ckan.addDataset(dataset);
    const before = stack.zenodo.state.depositions.length;
    const outcome = await daemon.syncNow('unmapped');
    expect(outcome).toMatchObject({ state: 'failed', code: 'DATASET_UNMAPPED' });
    expect(outcome.state === 'failed' && outcome.message).toContain('ckan-zenodo-sync link unmapped');
    expect(stack.zenodo.state.depositions.length).toBe(before);
    expect((await mailsFor(dataset.id as string)).map((m) => m.kind)).toContain('failure');
  });

  test('a transient error that never ends stops after max_attempts with a failure mail, not a loop', async () => {
    const dataset = taggedDataset('always-503', [100]);
    stack.ckan.addDataset(dataset);
    stack.zenodo.setFaults([{ route: 'create', kind: '503', probability: 1 }, { route: 'list', kind: '503', probability: 1 }]);
    try {
      await expect(daemon.syncNow('always-503')).rejects.toMatchObject({ retryable: true });
      const final = await daemon.syncNow('always-503');
      expect(final).toMatchObject({ state: 'failed' });
    } finally {
      stack.zenodo.setFaults([]);
    }
    const { rows } = await stack.db.pool.query<{ state: string; attempts: number }>('SELECT state, attempts FROM sync_runs WHERE dataset_id = $1', [dataset.id]);
    expect(rows).toEqual([{ state: 'failed', attempts: 2 }]);
    expect((await mailsFor(dataset.id as string)).map((m) => m.kind)).toEqual(['failure', 'failure']);
  });
});
