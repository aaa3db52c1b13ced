/**
 * The incremental scanner against the CKAN emulator (real HTTP on loopback) and a real
 * PostgreSQL with pg-boss: what is queued, what is not, and that crashes and edits landing
 * mid-scan neither lose a change nor queue one twice.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { QUEUE_SYNC, startQueue, type Queue } from '../../src/queue/boss.js';
import type { Rules } from '../../src/rules/types.js';
import { createCkanClient, type CkanClient } from '../../src/scanner/ckan-client.js';
import { runReconcile, runScan, type ScanDeps } from '../../src/scanner/scan.js';
import { startCkanEmulator } from '../../src/emulators/ckan/server.js';
import { generateDatasets, type GeneratedDataset } from './generate.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { makeRule } from '../support/rules.js';

type Emulator = Awaited<ReturnType<typeof startCkanEmulator>>;
type Generated = GeneratedDataset;

const rules: Rules = { file: 'rules.yaml', rules: [makeRule({ name: 'tagged', when: { tags: ['zenodo'] } })] };
const log = silentLogger();

// Generated once per file: 10,000 datasets, 2% tagged.
let all: Generated[];
let taggedIds: string[];

beforeAll(() => {
  all = generateDatasets({ count: 10_000, taggedShare: 0.02, seed: 42, resourcesPerDataset: 2 });
  taggedIds = all.filter((d) => d.tags.some((t) => t.name === 'zenodo')).map((d) => d.id);
});

interface World {
  tdb: TestDatabase;
  queue: Queue;
  emulator: Emulator;
  ckan: CkanClient;
  deps(pageSize: number, extra?: Partial<ScanDeps>): ScanDeps;
}

const worlds: World[] = [];

async function world(): Promise<World> {
  const tdb = await createTestDatabase();
  const queue = await startQueue({ connectionString: tdb.url, log, max: 2 });
  const emulator = await startCkanEmulator({ datasets: structuredClone(all) });
  const ckan = createCkanClient({ baseUrl: emulator.url, apiToken: 'ckan-test-token', log, timeoutMs: 10_000, retry: { attempts: 2, baseDelayMs: 1 } });
  const w: World = {
    tdb,
    queue,
    emulator,
    ckan,
    deps: (pageSize, extra = {}) => ({
      db: { pool: tdb.pool },
      boss: queue.boss,
      ckan,
      rules,
      config: { ckan: { url: emulator.url, apiToken: 'ckan-test-token', pageSize, scanOverlapMs: 1000, timeoutMs: 10_000 }, sync: { linkExtra: 'zenodo_doi', metadataExtra: 'zenodo_metadata' } },
      log,
      ...extra,
    }),
  };
  worlds.push(w);
  return w;
}

afterEach(async () => {
  for (const w of worlds.splice(0)) {
    await w.ckan.close();
    await w.emulator.close();
    await w.queue.stop({ graceful: false, timeoutMs: 1000 });
    await w.tdb.drop();
  }
});

afterAll(() => undefined);

/** Every sync job ever sent, by dataset (all states): a duplicate shows up as a count of 2. */
async function jobCounts(w: World): Promise<Map<string, number>> {
  const { rows } = await w.tdb.pool.query<{ key: string; n: number }>('SELECT singleton_key AS key, count(*)::int AS n FROM pgboss.job WHERE name = $1 GROUP BY 1', [QUEUE_SYNC]);
  return new Map(rows.map((r) => [r.key, r.n]));
}

/** Plays the sync workers: takes every queued job and completes it. */
async function drain(w: World): Promise<void> {
  for (;;) {
    const jobs = await w.queue.boss.fetch(QUEUE_SYNC, { batchSize: 1000 });
    if (jobs.length === 0) return;
    await w.queue.boss.complete(QUEUE_SYNC, jobs.map((j) => j.id));
  }
}

function sorted(ids: Iterable<string>): string[] {
  return [...ids].sort();
}

/** Five tagged datasets get one resource edited each; the sixth tagged one is untagged. */
function editFiveAndUntagOne(w: World, picks: string[]): { edited: string[]; untagged: string } {
  const edited = picks.slice(0, 5);
  const untagged = picks[5] as string;
  for (const id of edited) {
    const d = all.find((x) => x.id === id) as Generated;
    w.emulator.setResourceContent((d.resources[0] as { id: string }).id, { size: 12345, seed: `v2-${id}` });
  }
  const u = all.find((x) => x.id === untagged) as Generated;
  w.emulator.updateDataset(untagged, { tags: u.tags.filter((t) => t.name !== 'zenodo') });
  return { edited, untagged };
}

describe.each([7, 100, 1000])('scan with page size %i', (pageSize) => {
  it('queues the tagged datasets once, nothing when unchanged, exactly the edited ones after edits; reconcile deactivates the untagged link', async () => {
    const w = await world();
    const first = await runScan(w.deps(pageSize));
    expect(first.enqueued).toBe(taggedIds.length);
    expect(sorted((await jobCounts(w)).keys())).toEqual(sorted(taggedIds));
    await drain(w);

    const second = await runScan(w.deps(pageSize));
    expect(second.enqueued).toBe(0);
    expect(second.requests).toBeLessThanOrEqual(2);

    const picks = [taggedIds[3], taggedIds[50], taggedIds[100], taggedIds[150], taggedIds.at(-1), taggedIds[10]] as string[];
    const untaggedId = picks[5] as string;
    await w.tdb.pool.query("INSERT INTO links (dataset_id, concept_recid, state) VALUES ($1, '900001', 'active')", [untaggedId]);
    const { edited } = editFiveAndUntagOne(w, picks);
    const third = await runScan(w.deps(pageSize));
    expect(sorted(third.datasets.map((d) => d.datasetId))).toEqual(sorted(edited));
    expect(third.enqueued).toBe(5);
    expect(third.datasets.every((d) => d.resources.changed.length === 1 && d.resources.added.length === 0)).toBe(true);

    const reconcile = await runReconcile(w.deps(pageSize));
    expect(reconcile.left.map((l) => l.datasetId)).toEqual([untaggedId]);
    const links = await w.tdb.pool.query<{ state: string; inactive_reason: string }>('SELECT state, inactive_reason FROM links WHERE dataset_id = $1', [untaggedId]);
    expect(links.rows[0]?.state).toBe('inactive');
    expect(links.rows[0]?.inactive_reason).toMatch(/no rule/);
    const run = await w.tdb.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM scan_runs WHERE status = 'done'");
    expect(run.rows[0]?.n).toBe(4);
  });

  it('edits landing while the scan pages are queued once, in this scan or the next', async () => {
    const w = await world();
    await runScan(w.deps(pageSize));
    await drain(w);
    const before = await jobCounts(w);
    // Early, middle and late datasets in the sort order, edited after the scan's first page.
    const picks = [taggedIds[0], taggedIds[1], taggedIds[99], taggedIds[150], taggedIds.at(-1), taggedIds[20]] as string[];
    let edited: string[] = [];
    await runScan(
      w.deps(pageSize, {
        afterPage: (page) => {
          if (page === 0) edited = editFiveAndUntagOne(w, picks).edited;
        },
      }),
    );
    await runScan(w.deps(pageSize));
    const after = await jobCounts(w);
    const newJobs = [...after].filter(([id, n]) => n > (before.get(id) ?? 0));
    expect(sorted(newJobs.map(([id]) => id))).toEqual(sorted(edited));
    expect(newJobs.every(([id, n]) => n - (before.get(id) ?? 0) === 1)).toBe(true);
  });
});

it('an edit moving an already-read dataset to the end does not make the first scan skip the next page boundary', async () => {
  // With offset paging, rows shift one place left when an earlier row moves to the end, and the
  // first row of the next page is never read (reference §3.4 point 1) — nor by later scans.
  const w = await world();
  await runScan(
    w.deps(7, {
      afterPage: (page) => {
        if (page === 0) w.emulator.updateDataset(taggedIds[0] as string, { title: 'Edited while the scan pages' });
      },
    }),
  );
  await runScan(w.deps(7));
  expect(sorted((await jobCounts(w)).keys())).toEqual(sorted(taggedIds));
});

describe('crash between pages', () => {
  it.each([0, 3, 11])('a scan killed after page %i loses nothing and queues nothing twice when rerun', async (crashAfter) => {
    const w = await world();
    await expect(
      runScan(
        w.deps(7, {
          afterPage: (page) => {
            if (page === crashAfter) throw new Error('killed');
          },
        }),
      ),
    ).rejects.toThrow('killed');
    const partial = await jobCounts(w);
    expect(partial.size).toBeGreaterThan(0);
    expect(partial.size).toBeLessThan(taggedIds.length);
    const rerun = await runScan(w.deps(7));
    expect(rerun.enqueued).toBe(taggedIds.length - partial.size);
    const counts = await jobCounts(w);
    expect(sorted(counts.keys())).toEqual(sorted(taggedIds));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('a second concurrent scan is skipped', async () => {
    const w = await world();
    let inner: Awaited<ReturnType<typeof runScan>> | undefined;
    await runScan(
      w.deps(100, {
        afterPage: async (page) => {
          if (page === 0) inner = await runScan(w.deps(100));
        },
      }),
    );
    expect(inner?.status).toBe('skipped');
    expect(inner?.reason).toBe('another scan is running');
  });
});

describe('dry run', () => {
  it('writes and queues nothing but reports every selected dataset with its rule and resources', async () => {
    const w = await world();
    const report = await runScan(w.deps(1000, { dryRun: true, boss: undefined }));
    expect(report.datasets).toHaveLength(taggedIds.length);
    expect(report.datasets[0]).toMatchObject({ rule: 'tagged', action: 'sync' });
    expect(report.datasets[0]?.resources.added).toHaveLength(2);
    expect((await jobCounts(w)).size).toBe(0);
    const rows = await w.tdb.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM datasets)::int + (SELECT count(*) FROM scan_state)::int + (SELECT count(*) FROM scan_runs)::int AS n');
    expect(rows.rows[0]?.n).toBe(0);
  });
});
