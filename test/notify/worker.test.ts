/**
 * The daemon's ways of draining the outbox: pg-boss `notify` jobs (real pg-boss on a real
 * PostgreSQL) and the plain polling loop; plus the mailer without an SMTP server (development).
 */
import { createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertOutbox, listOutbox } from '../../src/db/outbox-queries.js';
import { startSmtpCapture } from '../../src/emulators/smtp.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { startQueue } from '../../src/queue/boss.js';
import { classifySmtpError, createMailer } from '../../src/notify/mailer.js';
import { createNotifyWorker } from '../../src/notify/notify-worker.js';
import { drainOutbox, startOutboxLoop } from '../../src/notify/outbox-worker.js';
import type { OutboxInsert } from '../../src/notify/payload.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.drop();
});

function row(recipient: string, doi: string): OutboxInsert {
  return {
    syncId: null,
    datasetId: 'd-1',
    recipient,
    kind: 'new_version',
    payload: {
      audience: 'owner',
      syncId: null,
      dataset: { id: 'd-1', name: 'sea-temp', title: 'Sea surface temperature', url: 'https://ckan.example.org/dataset/sea-temp' },
      rule: 'tagged',
      version: { doi, conceptDoi: '10.5281/zenodo.100', recordUrl: null, label: null },
      changes: { added: ['a.csv'], replaced: [], removed: [] },
    },
  };
}

describe('notify worker', () => {
  it('a pg-boss notify job drains the outbox', async () => {
    const smtp = await startSmtpCapture();
    const mailer = createMailer({ smtpUrl: smtp.url, from: 'archive@example.org', log: silentLogger() });
    const queue = await startQueue({ connectionString: tdb.url, log: silentLogger() });
    const worker = await createNotifyWorker({ boss: queue.boss, db: tdb.db, mailer, log: silentLogger(), pollingIntervalSeconds: 0.5 });
    try {
      await insertOutbox(tdb.pool, [row('jane@example.org', '10.5281/zenodo.201')]);
      await worker.wake();
      const [message] = await smtp.waitForMessages(1, 20_000);
      expect(message!.envelope.to).toEqual(['jane@example.org']);
      expect(message!.raw).toContain('10.5281/zenodo.201');
    } finally {
      await worker.stop();
      await worker.stop();
      await queue.stop({ timeoutMs: 5000 });
      mailer.close();
      await smtp.stop();
    }
  });

  it('the polling loop sends on wake and stops idempotently', async () => {
    const smtp = await startSmtpCapture();
    const mailer = createMailer({ smtpUrl: smtp.url, from: 'archive@example.org', log: silentLogger() });
    const loop = startOutboxLoop({ db: tdb.db, mailer, log: silentLogger(), intervalMs: 60_000 });
    try {
      await insertOutbox(tdb.pool, [row('bob@example.org', '10.5281/zenodo.202')]);
      loop.wake();
      const [message] = await smtp.waitForMessages(1, 20_000);
      expect(message!.envelope.to).toEqual(['bob@example.org']);
    } finally {
      await loop.stop();
      await loop.stop();
      mailer.close();
      await smtp.stop();
    }
    const rows = await listOutbox(tdb.pool);
    expect(rows.find((r) => r.recipient === 'bob@example.org')?.status).toBe('sent');
  });
});

describe('mailer', () => {
  it('gives up on a mail server that never greets after its timeout, as [mail] smtp_url is given', async () => {
    // A server that accepts the connection and then says nothing (a firewall black hole, a
    // wedged MTA): without the mailer's own timeouts the send would hang for nodemailer's default.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const mailer = createMailer({ smtpUrl: `smtp://user:pw@127.0.0.1:${port}`, from: 'archive@example.org', log: silentLogger(), timeoutMs: 300 });
    try {
      await expect(mailer.send({ to: 'jane@example.org', subject: 's', text: 't', html: 'h' })).rejects.toMatchObject({ code: 'MAIL_UNAVAILABLE', retryable: true });
    } finally {
      mailer.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
    // nodemailer's own greeting timeout is 30 s: a send still waiting at 10 s ignored ours.
  }, 10_000);

  it('sends a drain of many mails over a few reused connections', async () => {
    const smtp = await startSmtpCapture();
    const mailer = createMailer({ smtpUrl: smtp.url, from: 'archive@example.org', log: silentLogger() });
    try {
      const recipients = Array.from({ length: 12 }, (_, i) => `owner-${i}@pool.example.org`);
      await insertOutbox(tdb.pool, recipients.map((r, i) => row(r, `10.5281/zenodo.30${i}`)));
      const result = await drainOutbox({ db: tdb.db, mailer, log: silentLogger() });
      expect(result.sent).toBeGreaterThanOrEqual(12);
      const arrived = smtp.messages.flatMap((m) => m.envelope.to).filter((to) => to.endsWith('@pool.example.org'));
      expect(arrived.sort()).toEqual([...recipients].sort());
      // One connection per mail would be 12; the pool keeps at most 4 open.
      expect(smtp.connections()).toBeLessThanOrEqual(4);
    } finally {
      mailer.close();
      await smtp.stop();
    }
  });

  it('keeps to one connection when [mail] connections = 1', async () => {
    const smtp = await startSmtpCapture();
    const mailer = createMailer({ smtpUrl: smtp.url, from: 'archive@example.org', log: silentLogger(), maxConnections: 1 });
    try {
      const recipients = Array.from({ length: 6 }, (_, i) => `single-${i}@pool.example.org`);
      await insertOutbox(tdb.pool, recipients.map((r, i) => row(r, `10.5281/zenodo.40${i}`)));
      const result = await drainOutbox({ db: tdb.db, mailer, log: silentLogger(), parallel: 1 });
      expect(result).toMatchObject({ retried: 0, failed: 0 });
      const arrived = smtp.messages.flatMap((m) => m.envelope.to).filter((to) => to.startsWith('single-'));
      expect(arrived.sort()).toEqual(recipients);
      expect(smtp.connections()).toBe(1);
    } finally {
      mailer.close();
      await smtp.stop();
    }
  });

  it('without [mail] smtp_url, logs the mail instead of sending it', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const mailer = createMailer({ from: 'Archive <archive@example.org>', log: createLogger({ destination, pretty: false }) });
    const result = await mailer.send({ to: 'jane@example.org', subject: 'Hello\r\nBcc: x@example.org', text: 'body text', html: '<p>body</p>', messageId: '<m-1@example.org>' });
    expect(result.accepted).toEqual(['jane@example.org']);
    const logged = JSON.parse(lines.join('')) as { to: string; subject: string; text: string };
    expect(logged).toMatchObject({ to: 'jane@example.org', subject: 'Hello Bcc: x@example.org', text: 'body text' });
  });

  it('refuses an invalid recipient and an invalid From', async () => {
    const mailer = createMailer({ from: 'archive@example.org', log: silentLogger() });
    await expect(mailer.send({ to: 'a@example.org\r\nBcc: b@example.org', subject: 's', text: 't', html: 'h' })).rejects.toMatchObject({ code: 'MAIL_INVALID_ADDRESS' });
    expect(() => createMailer({ from: 'not an address', log: silentLogger() })).toThrow(/\[mail\] from/);
    expect(() => createMailer({ smtpUrl: 'http://mail.example.org', from: 'a@example.org', log: silentLogger() })).toThrow(/smtp:\/\//);
  });

  it.each([
    [{ code: 'ECONNECTION', message: 'connect ECONNREFUSED 127.0.0.1:25' }, 'MAIL_UNAVAILABLE', true],
    [{ code: 'ETIMEDOUT', message: 'Connection timeout' }, 'MAIL_UNAVAILABLE', true],
    [{ code: 'EENVELOPE', responseCode: 450, command: 'RCPT TO', response: '450 mailbox busy' }, 'MAIL_UNAVAILABLE', true],
    [{ code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO', response: '550 user unknown' }, 'MAIL_REJECTED', false],
    [{ code: 'EMESSAGE', responseCode: 554, command: 'DATA', response: '554 spam' }, 'MAIL_REJECTED', false],
    [{ code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN', response: '535 bad credentials' }, 'MAIL_UNAVAILABLE', true],
  ] as const)('classifies %j', (error, code, retryable) => {
    const classified = classifySmtpError(Object.assign(new Error('smtp failure'), error));
    expect(classified.code).toBe(code);
    expect(classified.retryable).toBe(retryable);
  });

  it('keeps the SMTP password out of error messages', () => {
    const classified = classifySmtpError(new Error('Invalid login for smtp://user:s3cret-pw@mail.example.org'), ['s3cret-pw']);
    expect(classified.message).not.toContain('s3cret-pw');
  });
});
