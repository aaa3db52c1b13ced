/**
 * Two real `ckan-zenodo-sync run` processes against one database (issue 7): every selected
 * dataset is archived exactly once, scans never overlap across processes, the HTTP API's
 * /metrics and sync trigger behave, and SIGTERM stops both cleanly.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';
import { parsePrometheus } from '../http/prometheus.js';
import { HTTP_TOKEN, requireDist, startRun, terminate, waitFor, writeSettings, type RunProcess } from './process.js';

const DATASETS = 20;
let stack: Stack;
let dir: string;
let a: RunProcess | undefined;
let b: RunProcess | undefined;
const datasets = Array.from({ length: DATASETS }, (_, i) => taggedDataset(`multi-${String(i).padStart(2, '0')}`, [1500 + i, 300]));

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await stack.db.pool.query<{ n: string }>(sql, values);
  return Number(rows[0]?.n ?? 0);
}

/** sync-dataset jobs of one dataset, by state. */
async function jobsOf(datasetId: string): Promise<Record<string, number>> {
  const { rows } = await stack.db.pool.query<{ state: string; n: string }>(
    `SELECT state, count(*) AS n FROM pgboss.job WHERE name = 'sync-dataset' AND singleton_key = $1 GROUP BY state`,
    [datasetId],
  );
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

beforeAll(async () => {
  requireDist();
  // Every package_search takes 300 ms, so the two processes' scans (same cron second) collide.
  stack = await startStack({ ckan: { faults: [{ route: 'package_search', kind: 'slow', probability: 1, delayMs: 300 }] } });
  dir = await mkdtemp(join(tmpdir(), 'czs-daemon-run-'));
  for (const d of datasets) stack.ckan.addDataset(d);
}, 120_000);

afterAll(async () => {
  for (const p of [a, b]) if (p) await terminate(p, 5_000);
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('two run processes against one database', () => {
  test('archive each of 20 datasets exactly once', async () => {
    const files = await writeSettings(stack, dir);
    a = startRun(files);
    b = startRun(files);
    await Promise.all([a.httpUrl(), b.httpUrl()]);

    await waitFor(async () => (await count(`SELECT count(*) AS n FROM sync_runs WHERE state = 'done' AND kind = 'first_version'`)) === DATASETS, {
      what: `${DATASETS} first versions`,
      timeoutMs: 45_000,
      process: a,
    });
    // Let a few more scans run after the syncs: none of them may queue a dataset again.
    const scansSoFar = await count(`SELECT count(*) AS n FROM scan_runs WHERE kind = 'scan' AND status = 'done'`);
    await waitFor(async () => (await count(`SELECT count(*) AS n FROM scan_runs WHERE kind = 'scan' AND status = 'done'`)) >= scansSoFar + 2, { what: 'two more scans', process: a });
    await waitFor(async () => (await count(`SELECT count(*) AS n FROM pgboss.job WHERE name = 'sync-dataset' AND state IN ('created', 'retry', 'active')`)) === 0, {
      what: 'the sync queue to empty',
      process: a,
    });

    for (const d of datasets) {
      const id = d.id as string;
      expect(await count(`SELECT count(*) AS n FROM sync_runs WHERE dataset_id = $1 AND kind = 'first_version' AND state = 'done'`, [id]), d.name as string).toBe(1);
      const { rows } = await stack.db.pool.query<{ concept_recid: string }>('SELECT concept_recid FROM links WHERE dataset_id = $1', [id]);
      expect(rows).toHaveLength(1);
      expect(stack.zenodo.state.records.filter((r) => r.conceptrecid === rows[0]!.concept_recid), d.name as string).toHaveLength(1);
    }
    expect(stack.zenodo.state.records).toHaveLength(DATASETS);
    expect(stack.zenodo.state.depositions.filter((x) => x.state !== 'done')).toEqual([]);
    expect(await count(`SELECT count(*) AS n FROM sync_runs WHERE state = 'failed'`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM sync_runs WHERE finished_at IS NULL`)).toBe(0);
    // Both processes were up and scanning on the same schedule; the lock made one of them wait.
    const skipped = [...a.lines, ...b.lines].filter((l) => l.msg === 'scan skipped: another scan is running');
    expect(skipped.length).toBeGreaterThan(0);
  });

  test('GET /metrics is valid Prometheus text and counts the syncs', async () => {
    const url = await a!.httpUrl();
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    const families = parsePrometheus(await response.text());
    const syncs = families.get('ckan_zenodo_sync_syncs_total');
    expect(syncs?.type).toBe('counter');
    expect(syncs?.samples.find((s) => s.labels.outcome === 'done')?.value).toBe(DATASETS);
    const links = families.get('ckan_zenodo_sync_links');
    expect(links?.samples.find((s) => s.labels.state === 'active')?.value).toBe(DATASETS);
    // The other process serves the same figures: they come from the database.
    const other = parsePrometheus(await (await fetch(`${await b!.httpUrl()}/metrics`)).text());
    expect(other.get('ckan_zenodo_sync_syncs_total')?.samples.find((s) => s.labels.outcome === 'done')?.value).toBe(DATASETS);
  });

  test('POST /api/datasets/:id/sync needs the token', async () => {
    const url = await a!.httpUrl();
    const id = datasets[0]!.id as string;
    const before = await jobsOf(id);
    expect((before.created ?? 0) + (before.retry ?? 0) + (before.active ?? 0)).toBe(0);
    const refused: Record<string, string>[] = [{}, { Authorization: 'Bearer wrong-token' }];
    for (const headers of refused) {
      const response = await fetch(`${url}/api/datasets/${id}/sync`, { method: 'POST', headers });
      expect(response.status).toBe(401);
      await response.body?.cancel();
    }
    expect(await jobsOf(id)).toEqual(before);

    const response = await fetch(`${url}/api/datasets/${id}/sync`, { method: 'POST', headers: { Authorization: `Bearer ${HTTP_TOKEN}` } });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ queued: true });
    const jobs = await jobsOf(id);
    expect((jobs.created ?? 0) + (jobs.active ?? 0) + (jobs.completed ?? 0)).toBe((before.completed ?? 0) + 1);
    // Nothing changed in CKAN: the manual sync finds nothing to publish.
    await waitFor(async () => (await jobsOf(id)).completed === (before.completed ?? 0) + 1, { what: 'the manual sync to finish', process: a });
    expect(stack.zenodo.state.records).toHaveLength(DATASETS);
  });

  test('50 concurrent sync requests for one dataset queue at most one job and run at most one', async () => {
    const url = await a!.httpUrl();
    const id = datasets[1]!.id as string;
    const name = datasets[1]!.name as string;
    const before = await jobsOf(id);
    // Watch the queue while the requests land, not only afterwards.
    let maxQueued = 0;
    let maxActive = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const jobs = await jobsOf(id);
        maxQueued = Math.max(maxQueued, (jobs.created ?? 0) + (jobs.retry ?? 0));
        maxActive = Math.max(maxActive, jobs.active ?? 0);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${url}/api/datasets/${i % 2 === 0 ? id : name}/sync`, { method: 'POST', headers: { Authorization: `Bearer ${HTTP_TOKEN}` } }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { queued?: boolean },
        })),
      ),
    );
    const after = await jobsOf(id);
    watching = false;
    await watcher;
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(202));
    const queued = responses.filter((r) => r.body.queued === true).length;
    expect(queued).toBeGreaterThanOrEqual(1);
    expect((after.created ?? 0) + (after.retry ?? 0)).toBeLessThanOrEqual(1);
    expect(after.active ?? 0).toBeLessThanOrEqual(1);
    expect(maxQueued).toBeLessThanOrEqual(1);
    expect(maxActive).toBeLessThanOrEqual(1);
    // Every accepted request became a job that ran; none of them published anything.
    await waitFor(async () => (await count(`SELECT count(*) AS n FROM pgboss.job WHERE name = 'sync-dataset' AND state IN ('created', 'retry', 'active')`)) === 0, {
      what: 'the sync queue to empty',
      process: a,
    });
    expect((await jobsOf(id)).completed).toBe((before.completed ?? 0) + queued);
    expect(stack.zenodo.state.records).toHaveLength(DATASETS);
    expect(await count(`SELECT count(*) AS n FROM sync_runs WHERE dataset_id = $1 AND kind = 'first_version'`, [id])).toBe(1);
  });

  test('SIGTERM stops both processes cleanly, and no two scans ever overlapped', async () => {
    const [exitA, exitB] = await Promise.all([terminate(a!), terminate(b!)]);
    expect(exitA, a!.stderr()).toEqual({ code: 0, signal: null });
    expect(exitB, b!.stderr()).toEqual({ code: 0, signal: null });

    const { rows } = await stack.db.pool.query<{ id: string; status: string; started_at: Date; finished_at: Date | null }>(
      `SELECT id, status, started_at, finished_at FROM scan_runs WHERE kind = 'scan' ORDER BY started_at, id`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < rows.length; i++) {
      const previous = rows[i - 1]!;
      const current = rows[i]!;
      // A scan still `running` counts as never finished.
      const previousEnd = previous.finished_at?.getTime() ?? Infinity;
      expect(current.started_at.getTime(), `scan ${current.id} started before scan ${previous.id} finished`).toBeGreaterThanOrEqual(previousEnd);
    }
    // SIGTERM waits for a scan in progress: none is left "running" forever.
    expect(rows.filter((r) => r.status === 'running')).toEqual([]);
  });
});
