/**
 * SQL for `mail_outbox` (sql/0001_initial.sql). Rows are written by the sync worker inside the
 * transaction that records a published DOI or a failure (DESIGN.md "Data flow" 5), and sent later
 * by the notify worker (src/notify/outbox-worker.ts).
 *
 * Row life: pending → sending (claimed, leased until `next_attempt_at`) → sent | pending (retry)
 * | failed. A claimed row whose lease ran out (its worker died) is due again: that is what makes
 * delivery at-least-once rather than at-most-once.
 */
import type pg from 'pg';
import { withTransaction, type Queryable } from './database.js';

export interface OutboxInsertRow {
  syncId: number | null;
  datasetId: string | null;
  recipient: string;
  kind: string;
  payload: unknown;
}

export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed';

export interface OutboxRecord {
  id: number;
  syncId: number | null;
  datasetId: string | null;
  recipient: string;
  kind: string;
  payload: unknown;
  status: OutboxStatus;
  attempts: number;
  messageId: string | null;
  lastError: string | null;
  nextAttemptAt: Date;
  createdAt: Date;
  sentAt: Date | null;
}

interface DbRow {
  id: string;
  sync_id: string | null;
  dataset_id: string | null;
  recipient: string;
  kind: string;
  payload: unknown;
  status: OutboxStatus;
  attempts: number;
  message_id: string | null;
  last_error: string | null;
  next_attempt_at: Date;
  created_at: Date;
  sent_at: Date | null;
}

function toRecord(row: DbRow): OutboxRecord {
  return {
    id: Number(row.id),
    syncId: row.sync_id === null ? null : Number(row.sync_id),
    datasetId: row.dataset_id,
    recipient: row.recipient,
    kind: row.kind,
    payload: row.payload,
    status: row.status,
    attempts: row.attempts,
    messageId: row.message_id,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    sentAt: row.sent_at,
  };
}

/**
 * Queues mails. Call it on the client of the transaction that records what the mail is about, so
 * that both commit or neither does. A row already queued for the same (sync, recipient, kind) is
 * left alone: a re-run of the same step cannot mail twice. Returns how many rows were new.
 */
export async function insertOutbox(q: Queryable, rows: readonly OutboxInsertRow[]): Promise<number> {
  let inserted = 0;
  for (const row of rows) {
    const result = await q.query(
      // Due from the start of the transaction, at millisecond precision: a worker that compares
      // with a JavaScript clock read after the commit must see the row as due.
      `INSERT INTO mail_outbox (sync_id, dataset_id, recipient, kind, payload, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, date_trunc('milliseconds', now()))
       ON CONFLICT (sync_id, lower(recipient), kind) DO NOTHING`,
      [row.syncId, row.datasetId, row.recipient, row.kind, JSON.stringify(row.payload)],
    );
    inserted += result.rowCount ?? 0;
  }
  return inserted;
}

/**
 * Claims up to `limit` due rows for this worker: pending rows whose time has come, and `sending`
 * rows whose lease expired (a worker died between claiming and recording). `SKIP LOCKED` lets
 * several workers drain one outbox without waiting on each other; the claim commits at once
 * (status `sending`, lease of `leaseMs`), so no transaction stays open during SMTP. `attempts`
 * counts claims, so a message that keeps killing its worker still runs out of attempts.
 *
 * `now` null means the database clock: every worker then agrees on what is due whatever its own
 * clock says. Tests pass a time to move through backoffs and leases without waiting.
 */
export async function claimDueOutbox(q: Queryable, options: { now: Date | null; leaseMs: number; limit: number }): Promise<OutboxRecord[]> {
  const result = await q.query<DbRow>(
    `WITH clock AS (SELECT COALESCE($1::timestamptz, now()) AS t)
     UPDATE mail_outbox m
        SET status = 'sending', attempts = m.attempts + 1,
            next_attempt_at = clock.t + $2 * interval '1 millisecond',
            locked_until = clock.t + $2 * interval '1 millisecond'
       FROM clock, (SELECT id FROM mail_outbox
                     WHERE status IN ('pending', 'sending') AND next_attempt_at <= (SELECT t FROM clock)
                     ORDER BY next_attempt_at, id
                     LIMIT $3
                     FOR UPDATE SKIP LOCKED) due
      WHERE m.id = due.id
      RETURNING m.*`,
    [options.now, options.leaseMs, options.limit],
  );
  return result.rows.map(toRecord).sort((a, b) => a.id - b.id);
}

/** Records an accepted mail. False when the row was no longer ours (lease lost and re-claimed). */
export async function markOutboxSent(q: Queryable, id: number, options: { messageId: string; now: Date | null }): Promise<boolean> {
  const result = await q.query(
    `UPDATE mail_outbox SET status = 'sent', message_id = $2, sent_at = COALESCE($3::timestamptz, now()), last_error = NULL, locked_until = NULL
      WHERE id = $1 AND status = 'sending'`,
    [id, options.messageId, options.now],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Puts a row back in the queue after a retryable failure. */
export async function markOutboxRetry(q: Queryable, id: number, options: { error: string; delayMs: number; now: Date | null }): Promise<void> {
  await q.query(
    `UPDATE mail_outbox
        SET status = 'pending', last_error = $2, locked_until = NULL,
            next_attempt_at = COALESCE($4::timestamptz, now()) + $3 * interval '1 millisecond'
      WHERE id = $1 AND status = 'sending'`,
    [id, options.error, options.delayMs, options.now],
  );
}

/**
 * Gives up on a row for good and, in the same transaction, queues the admin's report about it (so
 * a crash cannot mark a mail failed without anyone hearing of it).
 */
export async function markOutboxFailed(pool: pg.Pool, id: number, options: { error: string; report?: OutboxInsertRow }): Promise<void> {
  await withTransaction(pool, async (client) => {
    const result = await client.query(
      `UPDATE mail_outbox SET status = 'failed', last_error = $2, locked_until = NULL
        WHERE id = $1 AND status IN ('pending', 'sending')`,
      [id, options.error],
    );
    if ((result.rowCount ?? 0) > 0 && options.report) await insertOutbox(client, [options.report]);
  });
}

/** Rows of the outbox, newest first (status command, tests). */
export async function listOutbox(q: Queryable, options: { syncId?: number; datasetId?: string; limit?: number } = {}): Promise<OutboxRecord[]> {
  const result = await q.query<DbRow>(
    `SELECT * FROM mail_outbox
      WHERE ($1::bigint IS NULL OR sync_id = $1) AND ($2::text IS NULL OR dataset_id = $2)
      ORDER BY id DESC LIMIT $3`,
    [options.syncId ?? null, options.datasetId ?? null, options.limit ?? 1000],
  );
  return result.rows.map(toRecord);
}

/** Number of rows per status (metrics: a growing `pending` count means mail is not going out). */
export async function countOutbox(q: Queryable): Promise<Record<OutboxStatus, number>> {
  const result = await q.query<{ status: OutboxStatus; n: string }>(`SELECT status, count(*) AS n FROM mail_outbox GROUP BY status`);
  const counts: Record<OutboxStatus, number> = { pending: 0, sending: 0, sent: 0, failed: 0 };
  for (const row of result.rows) counts[row.status] = Number(row.n);
  return counts;
}
