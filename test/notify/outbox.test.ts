/**
 * The outbox end to end: rows written as the sync worker writes them, drained by the notify
 * worker through a real SMTP conversation with the capture server, parsed back with mailparser.
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/database.js';
import { insertOutbox, listOutbox } from '../../src/db/outbox-queries.js';
import { silentLogger } from '../../src/log.js';
import { startSmtpCapture, type SmtpCapture } from '../../src/emulators/smtp.js';
import { createMailer, type Mailer } from '../../src/notify/mailer.js';
import { drainOutbox, outboxMessageId, type DrainOptions } from '../../src/notify/outbox-worker.js';
import { buildOutboxRows, type MailFacts } from '../../src/notify/payload.js';
import { resolveRecipients } from '../../src/notify/recipients.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const ADMIN = 'ops@example.org';
const HOUR = 3_600_000;

let tdb: TestDatabase;
let smtp: SmtpCapture;
let mailer: Mailer;

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.drop();
});
beforeEach(async () => {
  await tdb.pool.query('TRUNCATE mail_outbox, sync_runs RESTART IDENTITY CASCADE');
});
afterEach(async () => {
  mailer.close();
  await smtp.stop();
});

async function startSmtp(options: Parameters<typeof startSmtpCapture>[0] = {}): Promise<void> {
  smtp = await startSmtpCapture(options);
  mailer = createMailer({ smtpUrl: smtp.url, from: 'CKAN archive <archive@example.org>', log: silentLogger() });
}

function drain(at: Date, extra: Partial<DrainOptions> = {}) {
  return drainOutbox({ db: tdb.db, mailer, log: silentLogger(), admin: ADMIN, now: () => at, ...extra });
}

/** A sync row, as the sync worker creates it before publishing. */
async function createSync(datasetId: string): Promise<number> {
  const result = await tdb.pool.query<{ id: string }>(
    `INSERT INTO sync_runs (dataset_id, trigger, state, kind, plan) VALUES ($1, 'test', 'planned', 'new_version', '{}'::jsonb) RETURNING id`,
    [datasetId],
  );
  return Number(result.rows[0]!.id);
}

function facts(syncId: number, title = 'Sea surface temperature'): MailFacts {
  return {
    syncId,
    dataset: { id: 'd-1', name: 'sea-temp', title, url: 'https://ckan.example.org/dataset/sea-temp' },
    rule: 'tagged',
    version: { doi: '10.5281/zenodo.124', conceptDoi: '10.5281/zenodo.100', recordUrl: 'https://zenodo.org/records/124', label: '2024-05' },
    changes: { added: ['salinity.csv'], replaced: ['temperature.nc'], removed: ['draft-notes.txt'] },
  };
}

/** What the sync worker does when it records a published version: resolve owners, queue rows in its transaction. */
async function queueNewVersion(dataset: Record<string, unknown>, syncId: number, title?: string): Promise<number> {
  const { owners, warnings } = await resolveRecipients(dataset, ['maintainer_email', 'author_email']);
  const rows = buildOutboxRows({ kind: 'new_version', facts: facts(syncId, title), owners, admin: ADMIN, warnings });
  return withTransaction(tdb.pool, (client) => insertOutbox(client, rows));
}

const parse = (raw: string): Promise<ParsedMail> => simpleParser(raw);

describe('outbox delivery', () => {
  it('a published version produces exactly one mail per owner, with both DOIs as links and the changed files', async () => {
    await startSmtp();
    const syncId = await createSync('d-1');
    const dataset = { maintainer_email: 'jane@example.org', author_email: 'Jane@Example.org; bob@example.org' };
    expect(await queueNewVersion(dataset, syncId)).toBe(2);
    // The sync step re-run after a crash queues the same mails again: nothing new.
    expect(await queueNewVersion(dataset, syncId)).toBe(0);

    const result = await drain(new Date());
    expect(result).toEqual({ sent: 2, retried: 0, failed: 0 });
    expect((await drain(new Date(Date.now() + HOUR))).sent).toBe(0);
    // Sent in parallel: the order of arrival is not part of the promise.
    expect(smtp.messages.map((m) => m.envelope.to).sort()).toEqual([['bob@example.org'], ['jane@example.org']]);

    const rows = await listOutbox(tdb.pool, { syncId });
    for (const message of smtp.messages) {
      const mail = await parse(message.raw);
      expect(mail.subject).toBe('New version archived on Zenodo: Sea surface temperature (10.5281/zenodo.124)');
      expect(mail.from?.value).toEqual([{ name: 'CKAN archive', address: 'archive@example.org' }]);
      expect(mail.text).toContain('https://doi.org/10.5281/zenodo.124');
      expect(mail.text).toContain('https://doi.org/10.5281/zenodo.100');
      expect(mail.html).toContain('href="https://doi.org/10.5281/zenodo.124"');
      expect(mail.html).toContain('href="https://doi.org/10.5281/zenodo.100"');
      for (const name of ['salinity.csv', 'temperature.nc', 'draft-notes.txt']) {
        expect(mail.text).toContain(name);
        expect(mail.html).toContain(name);
      }
      const row = rows.find((r) => r.recipient.toLowerCase() === message.envelope.to[0]!.toLowerCase())!;
      expect(row.status).toBe('sent');
      expect(mail.messageId).toBe(outboxMessageId(row, 'example.org'));
    }
  });

  it('SMTP down for the first attempts: the mail arrives once the server is back, exactly once', async () => {
    await startSmtp();
    smtp.setDown(true);
    await queueNewVersion({ maintainer_email: 'jane@example.org' }, await createSync('d-1'));
    const t0 = Date.now();

    expect(await drain(new Date(t0))).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect(await drain(new Date(t0 + 2 * HOUR))).toEqual({ sent: 0, retried: 1, failed: 0 });
    // Backing off: not due again right away.
    expect(await drain(new Date(t0 + 2 * HOUR))).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(smtp.connections()).toBe(2);
    const [waiting] = await listOutbox(tdb.pool);
    expect(waiting).toMatchObject({ status: 'pending', attempts: 2 });
    expect(waiting!.lastError).toMatch(/^MAIL_UNAVAILABLE: .*421/);

    smtp.setDown(false);
    expect(await drain(new Date(t0 + 4 * HOUR))).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(await drain(new Date(t0 + 8 * HOUR))).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.envelope.to).toEqual(['jane@example.org']);
  });

  it('a crash between the SMTP accept and recording it loses nothing and sends at most one duplicate, with the same Message-ID', async () => {
    await startSmtp();
    await queueNewVersion({ maintainer_email: 'jane@example.org' }, await createSync('d-1'));
    const t0 = Date.now();
    const crash = new Error('process died before the UPDATE');
    await expect(drain(new Date(t0), { afterSend: () => Promise.reject(crash), leaseMs: 5 * 60_000 })).rejects.toBe(crash);
    expect(smtp.messages).toHaveLength(1);
    expect((await listOutbox(tdb.pool))[0]!.status).toBe('sending');

    // Another worker, while the dead worker's lease still runs: leaves the row alone.
    expect((await drain(new Date(t0 + 60_000))).sent).toBe(0);
    // After the lease: the row is due again and sent again.
    expect((await drain(new Date(t0 + 6 * 60_000))).sent).toBe(1);
    expect((await drain(new Date(t0 + 2 * HOUR))).sent).toBe(0);

    expect(smtp.messages).toHaveLength(2);
    const [first, second] = await Promise.all(smtp.messages.map((m) => parse(m.raw)));
    expect(first!.messageId).toBeDefined();
    expect(second!.messageId).toBe(first!.messageId);
    expect(second!.text).toBe(first!.text);
    expect((await listOutbox(tdb.pool))[0]).toMatchObject({ status: 'sent', messageId: first!.messageId });
  });

  it('a title with CR/LF, a Bcc header attempt and Japanese + Arabic text gives a well-formed mail to the owner only', async () => {
    await startSmtp();
    const title = '海面水温 データ\r\nBcc: evil@example.com\r\n\r\nدرجة حرارة سطح البحر';
    await queueNewVersion({ maintainer_email: 'owner@example.org', author_email: 'x@example.org\r\nBcc: evil@example.com' }, await createSync('d-1'), title);
    expect((await drain(new Date())).sent).toBe(1);

    expect(smtp.messages).toHaveLength(1);
    const message = smtp.messages[0]!;
    expect(message.envelope.to).toEqual(['owner@example.org']);
    expect(message.raw).not.toMatch(/^bcc:/im);
    expect(message.raw).not.toContain('evil@example.com\r\n\r\n');
    const mail = await parse(message.raw);
    expect(mail.bcc).toBeUndefined();
    expect(mail.cc).toBeUndefined();
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value : undefined).toEqual([{ name: '', address: 'owner@example.org' }]);
    expect(mail.subject).toBe('New version archived on Zenodo: 海面水温 データ Bcc: evil@example.com درجة حرارة سطح البحر (10.5281/zenodo.124)');
    expect(mail.text).toContain('海面水温 データ Bcc: evil@example.com درجة حرارة سطح البحر');
    expect(mail.html).toContain('درجة حرارة سطح البحر');
    // Every header is ASCII on the wire (RFC 2047 encoded) and the body is declared UTF-8.
    const headerBlock = message.raw.slice(0, message.raw.indexOf('\r\n\r\n'));
    expect(headerBlock).toMatch(/^[\x20-\x7e\r\n\t]*$/);
    expect(message.raw).toMatch(/charset=utf-8/i);
  });

  it('a 100,000-character title (and a 150,000-character one stored earlier) still gives delivered mails, cut with an ellipsis', async () => {
    await startSmtp();
    const syncId = await createSync('d-1');
    const huge = `Ocean 🌊 ${'température de surface '.repeat(5000)}`.slice(0, 100_000);
    expect(huge.length).toBe(100_000);
    expect(await queueNewVersion({ maintainer_email: 'jane@example.org' }, syncId, huge)).toBe(1);
    // A row as the code before the limit could write it: its renderer refused it for good.
    const older = await createSync('d-2');
    await withTransaction(tdb.pool, (client) =>
      insertOutbox(client, [{ syncId: older, datasetId: 'd-2', recipient: 'bob@example.org', kind: 'new_version', payload: { ...facts(older, 'x'.repeat(150_000)), audience: 'owner' } }]),
    );

    expect(await drain(new Date())).toEqual({ sent: 2, retried: 0, failed: 0 });
    for (const message of smtp.messages) {
      const mail = await parse(message.raw);
      expect(mail.subject!.length).toBeLessThanOrEqual(200);
      expect(mail.subject).toMatch(/^New version archived on Zenodo: (Ocean 🌊 température|x+).*… \(10\.5281\/zenodo\.124\)$/u);
      expect(mail.text).toContain('https://doi.org/10.5281/zenodo.124');
      expect(mail.text).toMatch(/(surface|x{100})[^\n]*…/u);
      expect(Buffer.byteLength(message.raw)).toBeLessThan(60_000);
    }
    expect((await listOutbox(tdb.pool)).map((r) => r.status)).toEqual(['sent', 'sent']);
  });

  it('a permanently rejected address is marked failed, reported to the admin, and not retried', async () => {
    await startSmtp({ rejectRecipients: ['gone@example.org'] });
    await queueNewVersion({ maintainer_email: 'gone@example.org', author_email: 'jane@example.org' }, await createSync('d-1'));
    const t0 = Date.now();
    expect(await drain(new Date(t0))).toEqual({ sent: 1, retried: 0, failed: 1 });
    // The admin's report was queued in the same transaction and goes out with the next drain.
    expect(await drain(new Date(t0 + 60_000))).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(await drain(new Date(t0 + 48 * HOUR))).toEqual({ sent: 0, retried: 0, failed: 0 });

    const rows = await listOutbox(tdb.pool);
    const gone = rows.find((r) => r.recipient === 'gone@example.org')!;
    expect(gone).toMatchObject({ status: 'failed', attempts: 1 });
    expect(gone.lastError).toMatch(/^MAIL_REJECTED: .*550/);
    expect(smtp.messages.map((m) => m.envelope.to[0])).toEqual(['jane@example.org', ADMIN]);
    const report = await parse(smtp.messages[1]!.raw);
    expect(report.subject).toBe('Mail could not be delivered to gone@example.org: Sea surface temperature');
    expect(report.text).toContain('550');
  });

  it('gives up after the last attempt when the server stays down, and tells the admin', async () => {
    await startSmtp();
    await queueNewVersion({ maintainer_email: 'jane@example.org' }, await createSync('d-1'));
    smtp.setDown(true);
    const t0 = Date.now();
    expect(await drain(new Date(t0), { maxAttempts: 2 })).toMatchObject({ retried: 1 });
    expect(await drain(new Date(t0 + HOUR), { maxAttempts: 2 })).toMatchObject({ failed: 1 });
    smtp.setDown(false);
    expect(await drain(new Date(t0 + 2 * HOUR), { maxAttempts: 2 })).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(smtp.messages.map((m) => m.envelope.to)).toEqual([[ADMIN]]);
    expect((await parse(smtp.messages[0]!.raw)).text).toContain('MAIL_UNAVAILABLE');
  });

  it('a dataset without owner address: the admin receives the owners\' mail, marked as such', async () => {
    await startSmtp();
    await queueNewVersion({ maintainer_email: 'n/a', author_email: '' }, await createSync('d-1'));
    expect((await drain(new Date())).sent).toBe(1);
    expect(smtp.messages[0]!.envelope.to).toEqual([ADMIN]);
    const mail = await parse(smtp.messages[0]!.raw);
    expect(mail.subject).toBe('[no owner address] New version archived on Zenodo: Sea surface temperature (10.5281/zenodo.124)');
    expect(mail.text).toContain('No owner address was found for this dataset; this is the mail its owners would have received');
    expect(mail.text).toContain('maintainer_email "n/a" is not a valid e-mail address');
  });
});
