/**
 * A throw-away PostgreSQL server of the test's own, which the test may stop and start again (on
 * the same data directory and port) while the daemon runs against it. The shared test server
 * (global-setup.ts, or TEST_DATABASE_URL) is used by other test files and other engineers at the
 * same time: restarting it would fail their work, so restart tests never touch it.
 *
 * Stopping is PostgreSQL's "fast" shutdown (SIGINT to the postmaster): every session is ended with
 * 57P01 "terminating connection due to administrator command", as an operator's restart does.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, ensureDatabase, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/database.js';
import { silentLogger } from '../../src/log.js';

export interface RestartablePostgres {
  /** Superuser URL of `database` (contains the password). */
  url(database: string): string;
  /** Runs one statement as superuser on `database` (e.g. ALTER ROLE, CREATE ROLE). */
  sql(database: string, text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stop, then start again on the same data directory and port. */
  restart(): Promise<void>;
  /** How many times the server has been (re)started, the first start included. */
  readonly starts: number;
  /** Stops the server and deletes its data directory. */
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

export async function startRestartablePostgres(databases: string[] = []): Promise<RestartablePostgres> {
  const parent = await mkdtemp(join(tmpdir(), 'czs-restart-pg-'));
  // As root the server runs as the `postgres` OS user, which must get through the 0700 mkdtemp folder.
  await chmod(parent, 0o755);
  const dataDir = join(parent, 'pg');
  const port = await freePort();
  const log = silentLogger();
  let server: EmbeddedServer | undefined;
  let starts = 0;
  const start = async (): Promise<void> => {
    if (server) return;
    server = await startEmbeddedPostgres({ dataDir, port, log, throwAway: true });
    starts++;
  };
  const stop = async (): Promise<void> => {
    const running = server;
    server = undefined;
    await running?.stop();
  };
  await start();
  for (const name of databases) await ensureDatabase(server!.url('postgres'), name);
  const urlOf = (database: string): string => {
    if (!server) throw new Error('the restartable PostgreSQL is stopped');
    return server.url(database);
  };
  return {
    url: urlOf,
    async sql(database, text, values) {
      const pool = createPool(urlOf(database), { poolSize: 1 });
      try {
        return await pool.query(text, values);
      } finally {
        await pool.end();
      }
    },
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    get starts() {
      return starts;
    },
    async close() {
      await stop();
      await rm(parent, { recursive: true, force: true });
    },
  };
}
