import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/database.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { isAppError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { createEmptyTestDatabase, createTestDatabase, type TestDatabase } from '../support/db.js';

const log = silentLogger();
const opened: TestDatabase[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.drop()));
});
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function empty(): Promise<TestDatabase> {
  const d = await createEmptyTestDatabase();
  opened.push(d);
  return d;
}

async function sqlDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'czs-sql-'));
  dirs.push(dir);
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql);
  return dir;
}

async function tables(d: TestDatabase): Promise<string[]> {
  const r = await d.pool.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  return r.rows.map((row) => row.t);
}

async function recorded(d: TestDatabase): Promise<string[]> {
  const r = await d.pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY version');
  return r.rows.map((row) => row.name);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('migrate', () => {
  it('applies every shipped migration once, and nothing the second time', async () => {
    const d = await empty();
    const all = (await loadMigrations()).map((m) => m.name);
    expect(all[0]).toBe('0001_initial');
    expect((await migrate(d.db, log)).applied).toEqual(all);
    expect((await migrate(d.db, log)).applied).toEqual([]);
    expect(await recorded(d)).toEqual(all);
    expect(await tables(d)).toEqual(expect.arrayContaining(['links', 'sync_runs', 'mail_outbox', 'datasets', 'scan_state']));
  });

  it('hands out databases that are already migrated', async () => {
    const d = await createTestDatabase();
    opened.push(d);
    expect((await migrate(d.db, log)).applied).toEqual([]);
    expect(await recorded(d)).toEqual((await loadMigrations()).map((m) => m.name));
  });

  it('applies only the migrations added since the last run, in order', async () => {
    const d = await empty();
    const dir = await sqlDir({ '0001_one.sql': 'CREATE TABLE one (x int);' });
    expect((await migrate(d.db, log, { sqlDir: dir })).applied).toEqual(['0001_one']);
    await writeFile(join(dir, '0003_three.sql'), 'CREATE TABLE three (y int REFERENCES two);');
    await writeFile(join(dir, '0002_two.sql'), 'CREATE TABLE two (y int PRIMARY KEY);');
    expect((await migrate(d.db, log, { sqlDir: dir })).applied).toEqual(['0002_two', '0003_three']);
  });

  it('refuses a migration whose file changed after it was applied, and changes nothing', async () => {
    const d = await empty();
    const dir = await sqlDir({ '0001_one.sql': 'CREATE TABLE one (x int);' });
    await migrate(d.db, log, { sqlDir: dir });
    await writeFile(join(dir, '0001_one.sql'), 'CREATE TABLE one (x bigint);');
    await writeFile(join(dir, '0002_two.sql'), 'CREATE TABLE two (x int);');
    const error = await rejection(migrate(d.db, log, { sqlDir: dir }));
    expect(isAppError(error, 'DB_MIGRATION_CHANGED')).toBe(true);
    expect((error as Error).message).toContain('0001_one');
    expect(await tables(d)).not.toContain('two');
  });

  it('refuses a database migrated by a newer version of the program', async () => {
    const d = await createTestDatabase();
    opened.push(d);
    const known = (await loadMigrations()).at(-1)?.version;
    await d.pool.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (7, '0007_future', 'x')");
    const error = await rejection(migrate(d.db, log));
    expect(isAppError(error, 'DB_SCHEMA_TOO_NEW')).toBe(true);
    expect((error as Error).message).toContain(`database is at migration 7 (0007_future) but this ckan-zenodo-sync only knows up to ${known}: upgrade the program or point it at another database`);
  });

  it('fails a broken migration as a whole and names it', async () => {
    const d = await empty();
    const dir = await sqlDir({ '0001_one.sql': 'CREATE TABLE one (x int);', '0002_bad.sql': 'CREATE TABLE two (x int); SELEC oops;' });
    const error = await rejection(migrate(d.db, log, { sqlDir: dir }));
    expect(isAppError(error, 'DB_MIGRATION_FAILED')).toBe(true);
    expect((error as Error).message).toContain('0002_bad');
    expect(await recorded(d)).toEqual(['0001_one']);
    expect(await tables(d)).not.toContain('two');
  });

  it('rejects badly named migration files instead of skipping them', async () => {
    const dir = await sqlDir({ '0001_one.sql': 'SELECT 1;', '2_two.sql': 'SELECT 2;' });
    expect(isAppError(await rejection(loadMigrations(dir)), 'DB_MIGRATION_FAILED')).toBe(true);
  });

  it('lets concurrent migrators apply each migration exactly once', async () => {
    const d = await empty();
    // Each migration fails if it runs a second time (CREATE TABLE without IF NOT EXISTS), and the
    // counter table shows how often each ran.
    const files: Record<string, string> = { '0001_counter.sql': 'CREATE TABLE ran (name text);' };
    for (let i = 2; i <= 6; i++) files[`000${i}_m${i}.sql`] = `CREATE TABLE m${i} (x int); INSERT INTO ran VALUES ('m${i}');`;
    const dir = await sqlDir(files);
    const pools = [createPool(d.url, { poolSize: 1 }), createPool(d.url, { poolSize: 1 }), createPool(d.url, { poolSize: 1 })];
    try {
      const results = await Promise.all(pools.map((pool) => migrate({ pool }, log, { sqlDir: dir })));
      const applied = results.flatMap((r) => r.applied).sort();
      expect(applied).toEqual(Object.keys(files).map((f) => f.slice(0, -4)).sort());
      const ran = await d.pool.query<{ name: string; n: number }>('SELECT name, count(*)::int AS n FROM ran GROUP BY name ORDER BY name');
      expect(ran.rows).toEqual([2, 3, 4, 5, 6].map((i) => ({ name: `m${i}`, n: 1 })));
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});
