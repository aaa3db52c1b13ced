/**
 * `[database] url` empty: the program runs its own PostgreSQL in data_dir, creating the cluster
 * on first start and reusing it (with its data) afterwards.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { isAppError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';

const log = silentLogger();
let parent: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    const value = await promise;
    if (value && typeof value === 'object' && 'close' in value) await (value as Database).close();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'czs-embedded-'));
  // mkdtemp makes a 0700 folder; as root the server runs as `postgres`, which must get through.
  await chmod(parent, 0o755);
});
afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

describe('embedded PostgreSQL', () => {
  it('creates the cluster on first start, and keeps the data for the next start', async () => {
    const cfg = { url: undefined, dataDir: join(parent, 'data', 'pg'), embeddedPort: await freePort() };
    const first = await openDatabase(cfg, log);
    try {
      expect(first.connectionString).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/ckan_zenodo_sync$/);
      expect((await migrate(first, log)).applied).toContain('0001_initial');
      await first.pool.query("INSERT INTO links (dataset_id, concept_recid) VALUES ('kept', '42')");

      // A second process on the same data directory (a one-shot command next to `run`) joins
      // the running server instead of starting another, and leaves it running when it closes.
      const joined = await openDatabase({ ...cfg, embeddedPort: await freePort() }, log);
      const seen = await joined.pool.query<{ concept_recid: string }>("SELECT concept_recid FROM links WHERE dataset_id = 'kept'");
      expect(seen.rows).toEqual([{ concept_recid: '42' }]);
      await joined.close();
      expect((await first.pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await first.close();
    }
    await first.close(); // idempotent

    const second = await openDatabase(cfg, log);
    try {
      expect((await migrate(second, log)).applied).toEqual([]);
      const row = await second.pool.query<{ concept_recid: string }>("SELECT concept_recid FROM links WHERE dataset_id = 'kept'");
      expect(row.rows).toEqual([{ concept_recid: '42' }]);
    } finally {
      await second.close();
    }
  });

  it('says which port is taken when another program holds it', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const error = await rejection(openDatabase({ url: undefined, dataDir: join(parent, 'busy'), embeddedPort: port }, log));
      expect(isAppError(error, 'DB_UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toContain(`port ${port}`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('refuses a data directory that holds something else', async () => {
    const dir = join(parent, 'not-a-cluster');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'notes.txt'), 'mine');
    const error = await rejection(openDatabase({ url: undefined, dataDir: dir, embeddedPort: await freePort() }, log));
    expect(isAppError(error, 'DB_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('holds no PostgreSQL cluster');
  });

  it('explains when the postgres system user cannot reach the data directory (running as root)', async () => {
    const locked = join(parent, 'locked');
    await mkdir(locked, { mode: 0o700 });
    await chmod(locked, 0o700);
    const attempt = openDatabase({ url: undefined, dataDir: join(locked, 'pg'), embeddedPort: await freePort() }, log);
    if (process.getuid?.() === 0) {
      const error = await rejection(attempt);
      expect(isAppError(error, 'DB_UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toContain(`cannot enter ${locked}`);
    } else {
      // Not root: the server runs as the current user, who owns the folder.
      await (await attempt).close();
    }
  });
});

describe('openDatabase with a url', () => {
  it('reports an unreachable server as DB_UNAVAILABLE without the password', async () => {
    const port = await freePort();
    const error = await rejection(openDatabase({ url: `postgres://app:s3cret-pass@127.0.0.1:${port}/x`, dataDir: parent, embeddedPort: 0 }, log));
    expect(isAppError(error, 'DB_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).not.toContain('s3cret-pass');
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
  });
});
