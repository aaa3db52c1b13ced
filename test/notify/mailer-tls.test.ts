/**
 * SMTP credentials are never sent unencrypted over smtp:// (a server without STARTTLS, or one
 * whose offer an attacker stripped), unless [mail] allow_plaintext_auth says the relay is trusted.
 * Against the project's real SMTP capture server, which records every AUTH it receives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSmtpCapture, type SmtpCapture } from '../../src/emulators/smtp.js';
import { createMailer, type Mailer } from '../../src/notify/mailer.js';
import { silentLogger } from '../../src/log.js';

const USER = 'archive';
const PASSWORD = 'smtp-pass-4d1f9a';
const MAIL = { to: 'jane@example.org', subject: 'New version', text: 'text', html: '<p>html</p>' };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function capture(starttls: boolean): Promise<SmtpCapture> {
  const smtp = await startSmtpCapture({ auth: { user: USER, pass: PASSWORD }, starttls });
  cleanup.push(() => smtp.stop());
  return smtp;
}

function mailer(url: string, allowPlaintextAuth?: boolean): Mailer {
  const m = createMailer({ smtpUrl: url, from: 'archive@example.org', log: silentLogger(), timeoutMs: 5000, ...(allowPlaintextAuth === undefined ? {} : { allowPlaintextAuth }) });
  cleanup.push(() => m.close());
  return m;
}

describe('SMTP credentials and TLS', () => {
  it('refuses to authenticate to a server that offers no STARTTLS: the server never sees the password, the error names the fix', async () => {
    const smtp = await capture(false);
    for (const query of ['', '?requireTLS=false&ignoreTLS=true']) {
      const send = mailer(`smtp://${USER}:${PASSWORD}@127.0.0.1:${smtp.port}/${query}`).send(MAIL);
      const error = await send.then(
        () => undefined,
        (e: unknown) => e as { code: string; retryable: boolean; message: string },
      );
      expect(error, query).toMatchObject({ code: 'MAIL_UNAVAILABLE', retryable: true });
      expect(error?.message).toContain('did not offer STARTTLS');
      expect(error?.message).toContain('[mail] allow_plaintext_auth = true');
      expect(error?.message).toContain('smtps://');
      expect(error?.message).not.toContain(PASSWORD);
    }
    expect(smtp.auths).toEqual([]);
    expect(smtp.messages).toEqual([]);
  });

  it('sends over a trusted plaintext relay with [mail] allow_plaintext_auth = true', async () => {
    const smtp = await capture(false);
    await mailer(`smtp://${USER}:${PASSWORD}@127.0.0.1:${smtp.port}`, true).send(MAIL);
    expect(smtp.auths).toEqual([{ user: USER, secure: false }]);
    expect(smtp.messages.map((m) => m.envelope.to)).toEqual([['jane@example.org']]);
  });

  it('authenticates only after STARTTLS when the server offers it', async () => {
    const smtp = await capture(true);
    // The capture server's certificate is smtp-server's self-signed one.
    await mailer(`smtp://${USER}:${PASSWORD}@127.0.0.1:${smtp.port}/?tls.rejectUnauthorized=false`).send(MAIL);
    expect(smtp.auths).toEqual([{ user: USER, secure: true }]);
    expect(smtp.messages).toHaveLength(1);
  });

  it('needs no TLS for a relay without credentials', async () => {
    const smtp = await startSmtpCapture();
    cleanup.push(() => smtp.stop());
    await mailer(smtp.url).send(MAIL);
    expect(smtp.messages).toHaveLength(1);
  });
});
