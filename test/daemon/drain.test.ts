/**
 * SIGTERM while an upload is in flight (issue 7): a `run` process lets the job finish when it can
 * within `[sync] drain_timeout_seconds`, otherwise cuts it short, and exits 0 either way; a job
 * cut short is resumed by the next start and ends with exactly one published version.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';
import { requireDist, startRun, terminate, waitFor, writeSettings, type RunProcess } from './process.js';

let stack: Stack;
let dir: string;
const running: RunProcess[] = [];

beforeAll(async () => {
  requireDist();
  stack = await startStack();
  dir = await mkdtemp(join(tmpdir(), 'czs-daemon-drain-'));
}, 120_000);

afterAll(async () => {
  for (const p of running) await terminate(p, 5_000);
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function run(files: { settings: string; rules: string }): RunProcess {
  const p = startRun(files);
  running.push(p);
  return p;
}

async function syncsOf(datasetId: string): Promise<{ state: string; kind: string | null }[]> {
  const { rows } = await stack.db.pool.query<{ state: string; kind: string | null }>('SELECT state, kind FROM sync_runs WHERE dataset_id = $1 ORDER BY id', [datasetId]);
  return rows;
}

/** Published records of the concept the dataset is linked to. */
async function recordsOf(datasetId: string) {
  const { rows } = await stack.db.pool.query<{ concept_recid: string }>('SELECT concept_recid FROM links WHERE dataset_id = $1', [datasetId]);
  const concept = rows[0]?.concept_recid;
  return concept === undefined ? [] : stack.zenodo.state.records.filter((r) => r.conceptrecid === concept);
}

async function waitForState(datasetId: string, state: string, p: RunProcess): Promise<void> {
  await waitFor(async () => (await syncsOf(datasetId)).some((s) => s.state === state), { what: `a sync of ${datasetId} in state ${state}`, timeoutMs: 20_000, process: p });
}

test('an upload that finishes within the drain timeout is published before the process exits 0', async () => {
  const drainSeconds = 6;
  const files = await writeSettings(stack, join(dir, 'finish'), { drainTimeoutSeconds: drainSeconds, scan: '0 0 1 1 *' });
  const dataset = taggedDataset('drain-finish', [4000, 2500]);
  const id = dataset.id as string;
  stack.ckan.addDataset(dataset);
  // The first upload stalls for a second and a half: SIGTERM lands while it is in flight.
  stack.zenodo.setFaults([{ route: 'upload', kind: 'slow', probability: 1, count: 1, delayMs: 1500 }]);

  const p = run(files);
  await waitForState(id, 'draft_open', p);
  // The process gets the drain timeout plus a margin; SIGKILL after that fails the exit check.
  const exit = await terminate(p, (drainSeconds + 6) * 1000);
  expect(exit, p.stderr()).toEqual({ code: 0, signal: null });

  expect(await syncsOf(id)).toEqual([{ state: 'done', kind: 'first_version' }]);
  expect(await recordsOf(id)).toHaveLength(1);
  expect(stack.zenodo.state.depositions.filter((d) => d.state !== 'done')).toEqual([]);
});

test('an upload cut short by the drain timeout is resumed by the next start: one version, no open draft', async () => {
  const drainSeconds = 2;
  const files = await writeSettings(stack, join(dir, 'cut'), { drainTimeoutSeconds: drainSeconds, scan: '0 0 1 1 *' });
  const dataset = taggedDataset('drain-cut', [6000, 1200]);
  const id = dataset.id as string;
  stack.ckan.addDataset(dataset);
  // Far longer than the drain timeout: the process has to give up on this upload.
  stack.zenodo.setFaults([{ route: 'upload', kind: 'slow', probability: 1, count: 1, delayMs: 30_000 }]);

  const first = run(files);
  await waitForState(id, 'draft_open', first);
  const exit = await terminate(first, (drainSeconds + 6) * 1000);
  expect(exit, first.stderr()).toEqual({ code: 0, signal: null });
  // The job really was cut short: its sync is still open, nothing is published yet.
  expect((await syncsOf(id)).filter((s) => s.state !== 'done' && s.state !== 'unchanged' && s.state !== 'failed')).toHaveLength(1);
  expect(await recordsOf(id)).toHaveLength(0);

  const second = run(files);
  await waitFor(async () => (await syncsOf(id)).some((s) => s.state === 'done'), { what: 'the interrupted sync to finish', timeoutMs: 20_000, process: second });
  // Other triggers (the start-up scan, the re-queued job) may add syncs that find nothing to do.
  await waitFor(
    async () => (await stack.db.pool.query(`SELECT 1 FROM pgboss.job WHERE name = 'sync-dataset' AND singleton_key = $1 AND state IN ('created', 'active')`, [id])).rows.length === 0,
    { what: 'no sync job of the dataset queued or running', process: second },
  );
  const syncs = await syncsOf(id);
  expect(syncs.filter((s) => s.kind === 'first_version')).toEqual([{ state: 'done', kind: 'first_version' }]);
  expect(syncs.filter((s) => s.state === 'failed')).toEqual([]);
  expect(syncs.every((s) => s.state === 'done' || s.state === 'unchanged')).toBe(true);
  expect(await recordsOf(id)).toHaveLength(1);
  expect(stack.zenodo.state.depositions.filter((d) => d.state !== 'done')).toEqual([]);

  const stopped = await terminate(second, (drainSeconds + 6) * 1000);
  expect(stopped, second.stderr()).toEqual({ code: 0, signal: null });
});
