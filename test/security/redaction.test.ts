/**
 * Connection strings are redacted whatever their password holds (blanks, `@`, `:`, `/`, `%`,
 * quotes, other scripts, percent-encoded forms): in the "cannot connect" errors of a real
 * PostgreSQL that refuses the connection, in the daemon's log lines about them, in the CLI's
 * output, and in the mailer's errors.
 */
import { createServer } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli.js';
import { openDatabase } from '../../src/db/database.js';
import { connectionSecrets, createLogger, redactText, redactUrl } from '../../src/log.js';
import { createMailer } from '../../src/notify/mailer.js';
import { startSmtpCapture } from '../../src/emulators/smtp.js';

const PASSWORDS = [`p@ss w:rd/%20"x'`, 'pässwörd ünïcödé 密码', "a%41b+c d'e\"f@g"];

/** Every form a password could leak in: as written, decoded, encoded, and fragments around the blanks. */
function leakForms(password: string): string[] {
  const forms = new Set([password, encodeURIComponent(password), ...connectionSecrets(`x://u:${encodeURIComponent(password)}@h`)]);
  for (const part of password.split(/[ @:/]/)) if (part.length >= 4) forms.add(part);
  return [...forms];
}

function expectClean(text: string, password: string, where: string): void {
  for (const form of leakForms(password)) expect(text.includes(form), `${JSON.stringify(form)} in ${where}: ${text}`).toBe(false);
}

async function unusedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function capturingLogger(secrets: string[]): { log: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => ((text += chunk.toString()), done()) });
  return { log: createLogger({ level: 'debug', pretty: false, destination: sink, secrets }), text: () => text };
}

describe('database connection strings', () => {
  it('a real PostgreSQL refusing the connection: the password appears in no error and no log line', async () => {
    const admin = new URL(inject('adminDatabaseUrl'));
    const closed = await unusedPort();
    let checked = 0;
    for (const password of PASSWORDS) {
      const encoded = encodeURIComponent(password);
      const urls = [
        // The server refuses the role (trust auth still checks that it exists).
        `postgres://no_such_role_x:${password}@${admin.host}/postgres`,
        `postgres://no_such_role_x:${encoded}@${admin.host}/postgres`,
        `postgres://no_such_role_x@${admin.host}/postgres?password=${encoded}`,
        // Nothing listens.
        `postgres://archive:${password}@127.0.0.1:${closed}/czs`,
        `postgresql://archive:${encoded}@127.0.0.1:${closed}/czs?sslmode=disable`,
      ];
      for (const url of urls) {
        // The logger as `run` builds it knows the secrets; the error text must be clean without them.
        const { log, text } = capturingLogger(connectionSecrets(url));
        const error = await openDatabase({ url, dataDir: '/nonexistent', embeddedPort: 1 }, log).then(
          () => undefined,
          (e: unknown) => e as Error & { code: string },
        );
        // An unencoded password makes the URL invalid: said so, before pg tries to read it.
        const valid = URL.canParse(url);
        expect(error?.code, url).toBe(valid ? 'DB_UNAVAILABLE' : 'CONFIG_INVALID');
        expect(error?.message).toMatch(
          valid ? /^cannot connect to PostgreSQL at postgres(ql)?:\/\/(no_such_role_x|archive)(:\*\*\*)?@/ : /^\[database\] url postgres:\/\/(no_such_role_x|archive):\*\*\*@[\d.:]+\/\w+ is not a valid URL: percent-encode/,
        );
        expectClean(error?.message ?? '', password, 'the error message');
        log.error({ err: error }, 'cannot start');
        expect(text()).toContain(valid ? 'cannot connect to PostgreSQL' : 'is not a valid URL');
        expectClean(text(), password, 'the log');
        checked++;
      }
    }
    expect(checked).toBe(PASSWORDS.length * 5);
  });

  it('the CLI (`migrate`, `check-config`) never prints it, for a valid or an invalid URL', async () => {
    const closed = await unusedPort();
    for (const password of PASSWORDS) {
      for (const url of [`postgres://archive:${encodeURIComponent(password)}@127.0.0.1:${closed}/czs`, `postgres://archive:${password}@127.0.0.1:${closed}/czs`]) {
        let out = '';
        const stream = new PassThrough();
        stream.on('data', (c: Buffer) => (out += c.toString()));
        const env = { DATABASE_URL: url, CKAN_ZENODO_CKAN_URL: 'https://ckan.example.org', CKAN_ZENODO_LOG_LEVEL: 'debug' };
        expect(await main(['migrate'], { stdout: stream, stderr: stream, env })).toBe(1);
        expect(await main(['check-config', '--rules', 'rules.yaml'], { stdout: stream, stderr: stream, env })).toBeGreaterThanOrEqual(0);
        expect(out).toMatch(/PostgreSQL/);
        expectClean(out, password, `the CLI output for ${url}`);
      }
    }
  });

  it('redactUrl and redactText hide the password of any URL shape', () => {
    for (const password of PASSWORDS) {
      for (const url of [
        `postgres://u:${password}@db.example.org:5432/x`,
        `postgres://u:${encodeURIComponent(password)}@db.example.org:5432/x`,
        `smtp://u:${encodeURIComponent(password)}@mail.example.org:587`,
        `postgres://u@db.example.org/x?sslmode=require&password=${encodeURIComponent(password)}`,
      ]) {
        const shown = redactUrl(url);
        expectClean(shown, password, url);
        expect(shown).toContain('example.org');
        expectClean(redactText(`failed: ${url} (retrying)`, connectionSecrets(url)), password, url);
      }
    }
    expect(redactUrl('postgres://u:a/b@c@db.example.org/x')).toBe('postgres://u:***@db.example.org/x');
    // Without knowing the secret, a password without blanks is still caught by its shape.
    expect(redactText('at postgres://u:a/b@c:d%40@db.example.org/x and smtp://m:p@ss@mail:25')).toBe('at postgres://u:***@db.example.org/x and smtp://m:***@mail:25');
  });
});

describe('smtp_url', () => {
  it("the mailer's errors never hold the password: a closed port, and a server refusing it", async () => {
    const closed = await unusedPort();
    const smtp = await startSmtpCapture({ auth: { user: 'archive', pass: 'the-right-one' } });
    try {
      for (const password of PASSWORDS) {
        for (const url of [`smtp://archive:${encodeURIComponent(password)}@127.0.0.1:${closed}`, `smtp://archive:${encodeURIComponent(password)}@127.0.0.1:${smtp.port}`]) {
          const { log, text } = capturingLogger([]);
          const mailer = createMailer({ smtpUrl: url, from: 'archive@example.org', log, timeoutMs: 5000, allowPlaintextAuth: true });
          try {
            const error = await mailer.send({ to: 'jane@example.org', subject: 's', text: 't', html: 'h' }).then(
              () => undefined,
              (e: unknown) => e as Error & { code: string },
            );
            expect(error?.code).toBe('MAIL_UNAVAILABLE');
            expectClean(error?.message ?? '', password, 'the mail error');
            log.error({ err: error }, 'mail failed');
            expectClean(text(), password, 'the log');
          } finally {
            mailer.close();
          }
        }
      }
      expect(smtp.auths.length).toBe(PASSWORDS.length);
    } finally {
      await smtp.stop();
    }
  });
});
