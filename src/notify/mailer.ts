/**
 * The only module that imports nodemailer (STYLE.md 2). Sends one mail to one recipient.
 *
 * Header safety (DESIGN.md "Security": "Mail headers are never built by string concatenation
 * from dataset fields"): recipients are validated single addresses passed as `{ name, address }`
 * objects, the subject is forced onto one line (control characters replaced), and nodemailer does
 * the RFC 2047 encoding of anything non-ASCII. A dataset title such as
 * `x\r\nBcc: evil@example.com` therefore stays inside the Subject header as text.
 *
 * Credentials: with a user in an `smtp://` URL, STARTTLS is required (nodemailer `requireTLS`),
 * so a server that does not offer it — or an attacker on the path who strips the offer — never
 * sees `AUTH PLAIN` with the password. `[mail] allow_plaintext_auth` opts out, for a trusted relay
 * on the same machine or network. `smtps://` is TLS from the first byte and needs nothing more.
 */
import nodemailer from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { parseConnectionUrl } from 'nodemailer/lib/shared/index.js';
import { AppError } from '../errors.js';
import { connectionSecrets, redactText, type Logger } from '../log.js';
import { isValidAddress } from './recipients.js';
import { oneLine } from './render.js';

export interface OutgoingMail {
  /** One plain address (validated again here). */
  to: string;
  subject: string;
  text: string;
  html: string;
  /** `<local@domain>`; deterministic ids let clients recognise a resent duplicate. */
  messageId?: string;
}

export interface SendResult {
  messageId: string;
  accepted: string[];
  rejected: string[];
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<SendResult>;
  /** Domain of the From address, for Message-IDs. */
  readonly fromDomain: string;
  close(): void;
}

export interface MailerOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered), `smtps://host:465`; undefined → log only. */
  smtpUrl?: string;
  /** `Name <address>` or a plain address (settings `[mail] from`). */
  from: string;
  log: Logger;
  /** Connection, greeting and socket timeout; default 30 s. Must stay well below the outbox lease. */
  timeoutMs?: number;
  /** SMTP connections kept open and used at once; default 4 (the outbox drain's parallel sends). */
  maxConnections?: number;
  /** `[mail] allow_plaintext_auth`: send credentials over smtp:// without STARTTLS. Default false. */
  allowPlaintextAuth?: boolean;
}

/** Parses `Display Name <addr@host>` or `addr@host`; throws CONFIG_INVALID otherwise. */
export function parseFrom(from: string): { name: string; address: string } {
  const trimmed = from.trim();
  const match = /^(.*)<([^<>]+)>$/su.exec(trimmed);
  const address = (match?.[2] ?? trimmed).trim();
  const name = oneLine((match?.[1] ?? '').trim().replace(/^"(.*)"$/su, '$1'));
  if (!isValidAddress(address)) {
    throw new AppError('CONFIG_INVALID', `[mail] from: ${JSON.stringify(oneLine(from))} is not an e-mail address (expected "Name <address>" or "address")`);
  }
  return { name, address };
}

const MESSAGE_ID = /^<[^<>\s@]+@[^<>\s@]+>$/u;

interface SmtpLikeError {
  code?: unknown;
  responseCode?: unknown;
  command?: unknown;
  response?: unknown;
  message?: unknown;
}

/**
 * Decides on retry from the SMTP status, never from message text: a 5xx answer to RCPT TO or DATA
 * is the server refusing this mail for good (MAIL_REJECTED); everything else (refused or dropped
 * connections, timeouts, 4xx, 5xx to AUTH or MAIL FROM, which are operator configuration and
 * affect every mail alike) is MAIL_UNAVAILABLE and retried with backoff.
 */
export function classifySmtpError(error: unknown, secrets: readonly string[] = [], context: { tlsRequired?: boolean } = {}): AppError {
  if (error instanceof AppError) return error;
  const e = (error ?? {}) as SmtpLikeError;
  if (context.tlsRequired === true && e.code === 'ETLS') {
    // Retryable like other operator-side SMTP problems: a stripped STARTTLS offer may be a
    // passing attack, and mails wait in the outbox until the setting or the server is fixed.
    return new AppError(
      'MAIL_UNAVAILABLE',
      'the mail server did not offer STARTTLS (or it was stripped on the way), so the SMTP user and password were not sent: enable STARTTLS on the server, or use smtps:// (port 465), or, only for a trusted relay on this machine or a private network, set [mail] allow_plaintext_auth = true',
      { retryable: true, cause: error, details: { smtpCode: 'ETLS', status: typeof e.responseCode === 'number' ? e.responseCode : undefined, command: 'STARTTLS' } },
    );
  }
  const status = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const command = typeof e.command === 'string' ? e.command : undefined;
  const raw = typeof e.response === 'string' && e.response !== '' ? e.response : typeof e.message === 'string' ? e.message : String(error);
  const message = redactText(oneLine(raw), secrets).slice(0, 500);
  const details = { smtpCode: typeof e.code === 'string' ? e.code : undefined, status, command };
  if (status !== undefined && status >= 500 && status < 600 && (command === 'RCPT TO' || command === 'DATA')) {
    return new AppError('MAIL_REJECTED', `the mail server rejected the mail: ${message}`, { cause: error, details });
  }
  return new AppError('MAIL_UNAVAILABLE', `the mail server could not take the mail: ${message}`, { retryable: true, cause: error, details });
}

export function createMailer(options: MailerOptions): Mailer {
  const from = parseFrom(options.from);
  const fromDomain = from.address.slice(from.address.lastIndexOf('@') + 1);
  const timeout = options.timeoutMs ?? 30_000;
  const secrets = connectionSecrets(options.smtpUrl);
  const logOnly = options.smtpUrl === undefined;
  let smtpUrl: URL | undefined;
  if (options.smtpUrl !== undefined) {
    try {
      smtpUrl = new URL(options.smtpUrl);
    } catch {
      throw new AppError('CONFIG_INVALID', '[mail] smtp_url is not a URL (expected smtp://user:pass@host:587 or smtps://host:465)');
    }
    if (smtpUrl.protocol !== 'smtp:' && smtpUrl.protocol !== 'smtps:') {
      throw new AppError('CONFIG_INVALID', `[mail] smtp_url must start with smtp:// or smtps://, not ${smtpUrl.protocol}//`);
    }
  }
  // nodemailer reads ONLY the URL when given `url` and drops every other option (timeouts, the
  // file/URL access switches, pool): the URL is parsed by nodemailer's own parser (so its query
  // parameters such as `tls.rejectUnauthorized` keep working) and our options go on top.
  // Pooled: a mail server that greets after a delay (smtp-server waits 100 ms, postscreen longer)
  // or wants STARTTLS + AUTH costs that once per connection, not once per mail.
  const parsedUrl = options.smtpUrl === undefined ? undefined : parseConnectionUrl(options.smtpUrl);
  const sendsCredentials = smtpUrl !== undefined && smtpUrl.protocol === 'smtp:' && smtpUrl.username !== '';
  const tlsRequired = sendsCredentials && options.allowPlaintextAuth !== true;
  const transport =
    options.smtpUrl === undefined
    ? nodemailer.createTransport({ jsonTransport: true })
    : nodemailer.createTransport({
        ...parsedUrl,
        // Last, so that no `?requireTLS=false` or `?ignoreTLS=true` in the URL undoes it.
        ...(tlsRequired ? { requireTLS: true, ignoreTLS: false } : {}),
        pool: true,
        maxConnections: options.maxConnections ?? 4,
        maxMessages: 100,
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
        // The message is built only from our strings: never let a value make nodemailer read a
        // local file or fetch a URL (attachments/alternatives given as paths).
        disableFileAccess: true,
        disableUrlAccess: true,
      } as SMTPPool.Options);

  return {
    fromDomain,
    async send(mail: OutgoingMail): Promise<SendResult> {
      const to = mail.to.trim();
      if (!isValidAddress(to)) {
        throw new AppError('MAIL_INVALID_ADDRESS', `${JSON.stringify(oneLine(to).slice(0, 100))} is not a valid e-mail address`);
      }
      if (mail.messageId !== undefined && !MESSAGE_ID.test(mail.messageId)) {
        throw new AppError('INTERNAL', `invalid Message-ID ${JSON.stringify(mail.messageId)}`);
      }
      const message = {
        from: { name: from.name, address: from.address },
        to: [{ name: '', address: to }],
        subject: oneLine(mail.subject),
        text: mail.text,
        html: mail.html,
        ...(mail.messageId === undefined ? {} : { messageId: mail.messageId }),
        // The envelope is explicit so that nothing in the headers can add a recipient.
        envelope: { from: from.address, to: [to] },
        // Ask auto-responders (vacation replies) not to answer a machine.
        headers: { 'Auto-Submitted': 'auto-generated' },
      };
      let info: { messageId?: unknown; accepted?: unknown; rejected?: unknown };
      try {
        info = await transport.sendMail(message);
      } catch (error) {
        throw classifySmtpError(error, secrets, { tlsRequired });
      }
      const list = (value: unknown): string[] =>
        Array.isArray(value) ? value.map((v: unknown) => (typeof v === 'string' ? v : typeof v === 'object' && v !== null && 'address' in v ? String(v.address) : String(v))) : [];
      const result: SendResult = {
        messageId: typeof info.messageId === 'string' ? info.messageId : (mail.messageId ?? ''),
        accepted: logOnly ? [to] : list(info.accepted),
        rejected: list(info.rejected),
      };
      if (logOnly) {
        options.log.info({ to, subject: message.subject, messageId: result.messageId, text: mail.text }, 'mail not sent: no [mail] smtp_url configured; logged instead');
      } else if (result.accepted.length === 0) {
        throw new AppError('MAIL_REJECTED', `the mail server accepted the mail for no recipient (rejected: ${result.rejected.join(', ')})`, { details: { rejected: result.rejected } });
      }
      return result;
    },
    close(): void {
      transport.close();
    },
  };
}
