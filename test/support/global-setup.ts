/**
 * Vitest global setup: one PostgreSQL for the whole run and one migrated template database.
 * Each test file then clones the template (test/support/db.ts), which takes milliseconds, instead
 * of migrating its own database.
 *
 * With TEST_DATABASE_URL the given server is used (it must allow CREATE DATABASE); otherwise an
 * embedded PostgreSQL is started in a fresh temporary directory on a free port and deleted
 * afterwards. Names carry a per-run id so that several runs can share one server at once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createPool, ensureDatabase, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { silentLogger } from '../../src/log.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test server's `postgres` database (may contain a password). */
    adminDatabaseUrl: string;
    /** Name of the migrated template database test databases are cloned from. */
    templateDatabase: string;
    /** Prefix of every database this run creates. */
    testRunId: string;
  }
}

/** `url` with its database name replaced. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = silentLogger();
  const runId = `czs_test_${process.pid}_${randomBytes(3).toString('hex')}`;
  let server: EmbeddedServer | undefined;
  let tempDir: string | undefined;
  let adminUrl: string;

  const external = process.env.TEST_DATABASE_URL;
  if (external !== undefined && external !== '') {
    adminUrl = external;
  } else {
    tempDir = await mkdtemp(join(tmpdir(), 'czs-test-pg-'));
    server = await startEmbeddedPostgres({ dataDir: tempDir, port: await freePort(), log, throwAway: true });
    adminUrl = server.url('postgres');
  }

  const template = `${runId}_template`;
  const teardown = async (): Promise<void> => {
    try {
      if (server) return; // the whole server goes away below
      const admin = createPool(adminUrl, { poolSize: 1 });
      try {
        const found = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1 || '%'", [runId]);
        for (const { datname } of found.rows) {
          await admin.query(`DROP DATABASE IF EXISTS "${datname.replaceAll('"', '""')}" WITH (FORCE)`);
        }
      } finally {
        await admin.end();
      }
    } finally {
      await server?.stop();
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    }
  };

  try {
    await ensureDatabase(adminUrl, template);
    const pool = createPool(databaseUrl(adminUrl, template), { poolSize: 1 });
    try {
      await migrate({ pool }, log);
    } finally {
      // CREATE DATABASE ... TEMPLATE refuses a template anyone is connected to.
      await pool.end();
    }
  } catch (error) {
    await teardown();
    throw error;
  }

  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('templateDatabase', template);
  project.provide('testRunId', runId);
  return teardown;
}
