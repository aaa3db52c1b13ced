/**
 * Per-test-file databases on the server started by test/support/global-setup.ts. A migrated one
 * is a clone of the run's template (milliseconds); an empty one is for the migration tests.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { inject } from 'vitest';
import { createPool, type Database } from '../../src/db/database.js';

export interface TestDatabase {
  name: string;
  /** Connection URL of this database (what pg-boss or a child process would be given). */
  url: string;
  pool: pg.Pool;
  /** The same pool shaped as the `Database` components receive; its close() is drop(). */
  db: Database;
  /** Closes the pool and drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function urlFor(admin: string, database: string): string {
  const u = new URL(admin);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

async function create(template: string | undefined): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `${inject('testRunId')}_${randomBytes(4).toString('hex')}`;
  const admin = createPool(adminUrl, { poolSize: 1 });
  try {
    await admin.query(`CREATE DATABASE ${quote(name)}${template === undefined ? '' : ` TEMPLATE ${quote(template)}`}`);
  } finally {
    await admin.end();
  }
  const url = urlFor(adminUrl, name);
  // createPool ignores errors of idle connections, such as those DROP ... WITH (FORCE) ends.
  const pool = createPool(url, { poolSize: 5 });
  let dropped: Promise<void> | undefined;
  const drop = (): Promise<void> =>
    (dropped ??= (async () => {
      await pool.end();
      const cleanup = createPool(adminUrl, { poolSize: 1 });
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`);
      } finally {
        await cleanup.end();
      }
    })());
  return { name, url, pool, db: { pool, connectionString: url, close: drop }, drop };
}

/** A fresh database with every migration applied. */
export function createTestDatabase(): Promise<TestDatabase> {
  return create(inject('templateDatabase'));
}

/** A fresh database with nothing in it (cloned from template0, not even schema_migrations): for migration tests. */
export function createEmptyTestDatabase(): Promise<TestDatabase> {
  return create('template0');
}
