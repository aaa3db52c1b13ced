/**
 * Sends what the outbox holds (DESIGN.md "Data flow" 5: "A lost SMTP server delays mail; it never
 * loses it or sends it twice").
 *
 * Delivery guarantee, precisely: at-least-once, with at most one duplicate per crash. A row is
 * claimed (committed as `sending` with a lease), sent, and marked `sent` right after the SMTP
 * server accepts it. If the process dies — or the database is unreachable — in the window between
 * the SMTP accept and that UPDATE, the row's lease runs out and another drain sends it again: the
 * recipient gets that one message twice. (A database that is back within half a minute, as after
 * a restart, does not count: the UPDATE is retried while the lease is still ours.) Both copies carry the same deterministic Message-ID
 * (derived from the outbox row), so mail clients and list servers recognise the duplicate. The
 * window cannot be closed from our side: SMTP has no way to ask "did you already take this?".
 * Every other failure point (before or during the SMTP conversation) leaves the row due again
 * without any copy having been accepted.
 */
import type { Database } from '../db/database.js';
import { claimDueOutbox, markOutboxFailed, markOutboxRetry, markOutboxSent, type OutboxInsertRow, type OutboxRecord } from '../db/outbox-queries.js';
import { isAppError, toAppError, type AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Mailer } from './mailer.js';
import { mailKinds, outboxPayloadSchema, type MailKind, type OutboxPayload } from './payload.js';
import { loadTemplates, renderMail, type TemplateSet } from './render.js';

export interface DrainOptions {
  db: Pick<Database, 'pool'>;
  mailer: Mailer;
  log: Logger;
  /** `[mail] templates`: overrides of the default templates. */
  templatesDir?: string;
  /** `[mail] admin`: receives `delivery_failed` reports. */
  admin?: string;
  /**
   * Clock, read once per drain; default: the database's clock (all workers agree on what is due).
   * Tests pass one to step through backoffs and leases.
   */
  now?: () => Date;
  /** Sends per row before giving up; default 8. */
  maxAttempts?: number;
  /** Rows claimed per round trip; default 20. */
  batchSize?: number;
  /**
   * Mails of a batch being sent at once; default 4, the mailer's pooled connections
   * (src/notify/mailer.ts). One at a time, each mail waits out the server's reply to DATA.
   */
  parallel?: number;
  /**
   * How long a claimed row stays ours; default 5 minutes. Must exceed the mailer's worst case
   * (three 30 s timeouts) so that a slow send is never claimed and sent by a second worker.
   */
  leaseMs?: number;
  /** First retry delay, doubled per attempt up to `maxBackoffMs`; default 60 s. */
  backoffMs?: number; // > 0: a retried row must not be due again within the same drain
  maxBackoffMs?: number;
  /**
   * Test hook: runs after the SMTP server accepted a mail and before it is recorded. Throwing
   * here is a crash in the at-least-once window (see the module comment).
   */
  afterSend?: (row: OutboxRecord) => void | Promise<void>;
}

export interface DrainResult {
  sent: number;
  retried: number;
  failed: number;
}

/** Deterministic per row; the creation time keeps ids of two installations apart. */
export function outboxMessageId(row: Pick<OutboxRecord, 'id' | 'createdAt'>, domain: string): string {
  return `<ckan-zenodo-sync.outbox-${row.id}.${row.createdAt.getTime().toString(36)}@${domain}>`;
}

/** Waits between tries of recording a sent mail while the database is unavailable (about 30 s in all, far inside the lease). */
const RECORD_SENT_BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000, 15_000];

/**
 * The mail is out: losing the record of it now means sending it again when the lease expires. A
 * database restart is survived by trying the UPDATE again; the row is still claimed by us.
 */
async function recordSent<T>(write: () => Promise<T>, log: Logger): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await write();
    } catch (caught) {
      const error = toAppError(caught);
      const wait = RECORD_SENT_BACKOFF_MS[n];
      if (!isAppError(error, 'DB_UNAVAILABLE') || wait === undefined) throw caught;
      log.warn({ retryInMs: wait, err: error }, 'mail sent, but the database is unavailable to record it; trying again');
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

function isMailKind(kind: string): kind is MailKind {
  return (mailKinds as readonly string[]).includes(kind);
}

function loadTemplatesSafely(templatesDir: string | undefined, log: Logger): TemplateSet {
  try {
    return loadTemplates(templatesDir);
  } catch (error) {
    // A broken override must not stop all mail: fall back to the shipped templates, loudly.
    log.error({ err: error, templatesDir }, 'mail templates could not be loaded; using the default templates');
    return loadTemplates();
  }
}

/** The admin's report about a mail that will not be delivered, or undefined when there is no one to tell. */
function deliveryReport(row: OutboxRecord, error: AppError, admin: string | undefined): OutboxInsertRow | undefined {
  if (admin === undefined) return undefined;
  // Never report about the admin's own mail (it would fail the same way, forever).
  if (row.kind === 'delivery_failed' || row.recipient.toLowerCase() === admin.toLowerCase()) return undefined;
  const original = outboxPayloadSchema.safeParse(row.payload);
  const dataset = original.success ? original.data.dataset : { id: row.datasetId ?? 'unknown', name: row.datasetId ?? 'unknown', title: row.datasetId ?? 'unknown', url: '' };
  const payload: OutboxPayload = {
    audience: 'admin',
    syncId: row.syncId,
    dataset,
    rule: original.success ? original.data.rule : null,
    delivery: { recipient: row.recipient, kind: row.kind, code: error.code, error: error.message, attempts: row.attempts, outboxId: row.id },
  };
  // sync_id stays NULL: the table keeps one row per (sync, recipient, kind), and two owners of
  // the same sync can both bounce; the sync id travels in the payload instead.
  return { syncId: null, datasetId: row.datasetId, recipient: admin, kind: 'delivery_failed', payload };
}

/**
 * Sends every mail that is due now, then returns. Safe to run in several processes at once
 * (rows are claimed with SKIP LOCKED). Database errors propagate (the caller retries the drain);
 * SMTP and rendering errors are handled per row.
 */
export async function drainOutbox(options: DrainOptions): Promise<DrainResult> {
  const { db, mailer, log } = options;
  const now = options.now ? options.now() : null;
  const maxAttempts = options.maxAttempts ?? 8;
  const leaseMs = options.leaseMs ?? 5 * 60_000;
  const backoffMs = options.backoffMs ?? 60_000;
  const maxBackoffMs = options.maxBackoffMs ?? 60 * 60_000;
  const templates = loadTemplatesSafely(options.templatesDir, log);
  const result: DrainResult = { sent: 0, retried: 0, failed: 0 };

  const fail = async (row: OutboxRecord, error: AppError): Promise<void> => {
    const message = `${error.code}: ${error.message}`;
    await markOutboxFailed(db.pool, row.id, { error: message, report: deliveryReport(row, error, options.admin) });
    result.failed++;
    log.warn({ outboxId: row.id, syncId: row.syncId, kind: row.kind, recipient: row.recipient, code: error.code, attempts: row.attempts, err: error }, 'mail given up');
  };

  for (;;) {
    // Rows put back for a retry or claimed are due only in the future (backoff, lease > 0), so the
    // loop ends once what was due when it started has been handled.
    const rows = await claimDueOutbox(db.pool, { now, leaseMs, limit: options.batchSize ?? 20 });
    if (rows.length === 0) return result;
    await eachLimited(rows, Math.max(1, options.parallel ?? 4), send);
  }

  async function send(row: OutboxRecord): Promise<void> {
    const rowLog = log.child({ outboxId: row.id, syncId: row.syncId, kind: row.kind });
    if (row.attempts > maxAttempts) {
      // Only reachable through expired leases: the worker died while sending, again and again.
      await fail(row, toAppError(new Error(`no send completed after ${row.attempts - 1} attempts (the worker stopped while sending each time)`), 'MAIL_UNAVAILABLE'));
      return;
    }
    let rendered;
    try {
      if (!isMailKind(row.kind)) throw new Error(`unknown mail kind "${row.kind}"`);
      const parsed = outboxPayloadSchema.parse(row.payload);
      rendered = renderMail(row.kind, parsed, { templates, audience: parsed.audience });
    } catch (error) {
      await fail(row, toAppError(error, 'INTERNAL'));
      return;
    }
    const messageId = outboxMessageId(row, mailer.fromDomain);
    try {
      const info = await mailer.send({ to: row.recipient, ...rendered, messageId });
      await options.afterSend?.(row);
      const recorded = await recordSent(() => markOutboxSent(db.pool, row.id, { messageId: info.messageId || messageId, now }), rowLog);
      if (!recorded) rowLog.warn('mail sent, but its outbox row had been claimed again meanwhile (lease expired during the send)');
      result.sent++;
      rowLog.info({ messageId }, 'mail sent');
    } catch (thrown) {
      if (!isAppError(thrown) || !['MAIL_UNAVAILABLE', 'MAIL_REJECTED', 'MAIL_INVALID_ADDRESS'].includes(thrown.code)) throw thrown;
      const error = thrown;
      if (error.retryable && row.attempts < maxAttempts) {
        const delay = Math.max(error.retryAfterMs ?? 0, Math.min(maxBackoffMs, backoffMs * 2 ** (row.attempts - 1)));
        await markOutboxRetry(db.pool, row.id, { error: `${error.code}: ${error.message}`, delayMs: delay, now });
        result.retried++;
        rowLog.warn({ code: error.code, attempts: row.attempts, retryInMs: delay, err: error }, 'mail not sent; will retry');
      } else {
        await fail(row, error);
      }
    }
  }
}

/**
 * Runs `fn` over `items`, at most `limit` at a time. Every started call is awaited before the
 * first failure is thrown: a database error on one row must not leave other sends unrecorded.
 */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const lane = async (): Promise<void> => {
    while (next < items.length && errors.length === 0) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (errors.length > 0) throw errors[0];
}

export interface OutboxLoop {
  /** Drain now instead of waiting for the next tick (e.g. right after a sync queued mail). */
  wake(): void;
  /** Stops the timer and waits for a running drain. Safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Drains the outbox every `intervalMs` (and on `wake()`), one drain at a time per process. For
 * the daemon; errors are logged and the next tick tries again.
 */
export function startOutboxLoop(options: DrainOptions & { intervalMs: number }): OutboxLoop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(tick, options.intervalMs);
    timer.unref();
  };
  const tick = (): void => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = drainOutbox(options)
      .then((r) => {
        if (r.sent + r.retried + r.failed > 0) options.log.debug(r, 'outbox drained');
      })
      .catch((error: unknown) => options.log.error({ err: error }, 'outbox drain failed; trying again later'))
      .finally(() => {
        running = undefined;
        if (again && !stopped) {
          again = false;
          tick();
        } else schedule();
      });
  };
  tick();
  return {
    wake(): void {
      if (stopped) return;
      if (timer) clearTimeout(timer);
      tick();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
