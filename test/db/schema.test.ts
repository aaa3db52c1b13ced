/**
 * The constraints of sql/0001_initial.sql that keep the sync state machine safe even when the
 * code above it misbehaves (two workers on one dataset, a late worker, a re-recorded step).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgCode, withTransaction } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let d: TestDatabase;
beforeAll(async () => {
  d = await createTestDatabase();
});
afterAll(async () => {
  await d.drop();
});

const PLAN = JSON.stringify({ kind: 'new_version', files: [] });

async function openSync(datasetId: string): Promise<number> {
  const r = await d.pool.query<{ id: number }>("INSERT INTO sync_runs (dataset_id, trigger, kind, plan) VALUES ($1, 'scan', 'new_version', $2) RETURNING id", [datasetId, PLAN]);
  const id = r.rows[0]?.id;
  if (id === undefined) throw new Error('no id');
  return id;
}

async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return pgCode(error);
  }
  return undefined;
}

describe('sync_runs', () => {
  it('allows one open sync per dataset, and a new one once it finished', async () => {
    const first = await openSync('ds-open');
    expect(typeof first).toBe('number'); // bigserial arrives as a number, not a string
    expect(await sqlState(openSync('ds-open'))).toBe('23505');
    expect(await openSync('ds-other')).toBeGreaterThan(first);
    await d.pool.query("UPDATE sync_runs SET state = 'failed', error_code = 'ZENODO_FORBIDDEN', finished_at = now() WHERE id = $1", [first]);
    expect(await openSync('ds-open')).toBeGreaterThan(first);
  });

  it('moves states forward only, and never out of a finished state', async () => {
    const id = await openSync('ds-forward');
    const move = (sql: string): Promise<unknown> => d.pool.query(`UPDATE sync_runs SET ${sql} WHERE id = $1`, [id]);
    await move("state = 'draft_open', draft_id = 11");
    await move("state = 'draft_open', draft_id = 12"); // a reopened draft re-records the step
    await move("state = 'files_synced'");
    expect(await sqlState(move("state = 'draft_open'"))).toBe('23514');
    await move("state = 'metadata_set'");
    await move("state = 'published', record_id = 12, doi = '10.5281/zenodo.12'");
    expect(await sqlState(move("state = 'unchanged', finished_at = now()"))).toBe('23514');
    await move("state = 'written_back'");
    await move("state = 'done', finished_at = now()");
    expect(await sqlState(move("state = 'failed', error_code = 'X'"))).toBe('23514');
    expect(await sqlState(move("doi = 'other'"))).toBe('23514');
    const row = await d.pool.query<{ state: string; doi: string; record_id: number }>('SELECT state, doi, record_id FROM sync_runs WHERE id = $1', [id]);
    expect(row.rows[0]).toEqual({ state: 'done', doi: '10.5281/zenodo.12', record_id: 12 });
  });

  it('refuses states that lack what resuming needs', async () => {
    const id = await openSync('ds-incomplete');
    const move = (sql: string): Promise<unknown> => d.pool.query(`UPDATE sync_runs SET ${sql} WHERE id = $1`, [id]);
    expect(await sqlState(move("state = 'draft_open'"))).toBe('23514'); // no draft id
    expect(await sqlState(move("state = 'failed', finished_at = now()"))).toBe('23514'); // no error code
    expect(await sqlState(move("state = 'done'"))).toBe('23514'); // not finished, no record
  });
});

describe('mail_outbox', () => {
  it('keeps one mail per sync, recipient (whatever its case) and kind', async () => {
    const sync = await openSync('ds-mail');
    const insert = (recipient: string, kind: string): Promise<unknown> =>
      d.pool.query("INSERT INTO mail_outbox (sync_id, dataset_id, recipient, kind, payload) VALUES ($1, 'ds-mail', $2, $3, '{}')", [sync, recipient, kind]);
    await insert('Owner@example.org', 'new_version');
    expect(await sqlState(insert('owner@example.org', 'new_version'))).toBe('23505');
    await insert('owner@example.org', 'failed');
    await insert('admin@example.org', 'new_version');
    // What a re-recorded step does: the second copy is silently skipped.
    const again = await d.pool.query(
      "INSERT INTO mail_outbox (sync_id, dataset_id, recipient, kind) VALUES ($1, 'ds-mail', 'OWNER@example.org', 'new_version') ON CONFLICT (sync_id, lower(recipient), kind) DO NOTHING",
      [sync],
    );
    expect(again.rowCount).toBe(0);
    expect(await sqlState(insert('evil@example.org\r\nBcc: x@y', 'new_version'))).toBe('23514');
  });
});

describe('dataset_resources and archived_files', () => {
  it('refuses two files whose names differ only in case, and names with path separators', async () => {
    await d.pool.query("INSERT INTO datasets (dataset_id, name) VALUES ('ds-files', 'files')");
    const add = (resource: string, filename: string): Promise<unknown> =>
      d.pool.query("INSERT INTO dataset_resources (dataset_id, resource_id, fingerprint, position, zenodo_filename) VALUES ('ds-files', $1, 'fp', 0, $2)", [resource, filename]);
    await add('r1', 'Data.csv');
    expect(await sqlState(add('r2', 'data.CSV'))).toBe('23505');
    expect(await sqlState(add('r3', '../etc/passwd'))).toBe('23514');
    await add('r4', 'other.csv');
  });

  it('keeps one archived file per resource with a well-formed md5', async () => {
    await d.pool.query("INSERT INTO links (dataset_id, concept_recid) VALUES ('ds-arch', '100')");
    const add = (resource: string | null, filename: string, md5: string): Promise<unknown> =>
      d.pool.query("INSERT INTO archived_files (dataset_id, resource_id, filename, size, md5, record_id) VALUES ('ds-arch', $1, $2, 1, $3, 101)", [resource, filename, md5]);
    const md5 = 'd41d8cd98f00b204e9800998ecf8427e';
    await add('r1', 'a.csv', md5);
    expect(await sqlState(add('r1', 'b.csv', md5))).toBe('23505');
    await add(null, 'hand-made.txt', md5);
    await add(null, 'hand-made-2.txt', md5);
    expect(await sqlState(add('r2', 'c.csv', 'not-an-md5'))).toBe('23514');
  });

  it('binds a Zenodo concept to one dataset only', async () => {
    await d.pool.query("INSERT INTO links (dataset_id, concept_recid) VALUES ('ds-c1', '555')");
    expect(await sqlState(d.pool.query("INSERT INTO links (dataset_id, concept_recid) VALUES ('ds-c2', '555')"))).toBe('23505');
    expect(await sqlState(d.pool.query("UPDATE links SET state = 'inactive' WHERE dataset_id = 'ds-c1'"))).toBe('23514');
    await d.pool.query("UPDATE links SET state = 'inactive', inactive_reason = 'untagged' WHERE dataset_id = 'ds-c1'");
  });
});

describe('withTransaction', () => {
  it('commits on success and rolls everything back on error', async () => {
    await withTransaction(d.pool, async (c) => {
      await c.query("INSERT INTO scan_state (source, watermark) VALUES ('tx-ok', '2024-01-01T00:00:00')");
    });
    await expect(
      withTransaction(d.pool, async (c) => {
        await c.query("INSERT INTO scan_state (source, watermark) VALUES ('tx-bad', '2024-01-01T00:00:00')");
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const r = await d.pool.query<{ source: string }>("SELECT source FROM scan_state WHERE source LIKE 'tx-%' ORDER BY 1");
    expect(r.rows.map((row) => row.source)).toEqual(['tx-ok']);
  });

  it('re-runs a transaction that lost a serialization conflict, so both writers succeed', async () => {
    await d.pool.query("INSERT INTO scan_state (source, watermark) VALUES ('tx-counter', '0')");
    // Two serializable read-modify-write transactions that both read before either writes: one
    // must fail with 40001, and withTransaction must re-run it, so no increment is lost.
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    const increment = (): Promise<void> =>
      withTransaction(
        d.pool,
        async (c) => {
          runs++;
          const r = await c.query<{ watermark: string }>("SELECT watermark FROM scan_state WHERE source = 'tx-counter'");
          if (++arrived === 2) release();
          if (arrived <= 2) await bothRead;
          await c.query("UPDATE scan_state SET watermark = $1 WHERE source = 'tx-counter'", [String(Number(r.rows[0]?.watermark) + 1)]);
        },
        { isolation: 'serializable' },
      );
    await Promise.all([increment(), increment()]);
    const r = await d.pool.query<{ watermark: string }>("SELECT watermark FROM scan_state WHERE source = 'tx-counter'");
    expect(r.rows[0]?.watermark).toBe('2');
    expect(runs).toBe(3);
  });
});
