/**
 * SMTP capture server for tests, benchmarks and `demo` (DESIGN.md "Testing": SMTP is a real SMTP
 * server that captures messages). It speaks real SMTP on 127.0.0.1, stores every accepted message
 * raw with its envelope, and can simulate an outage (421 on connect) and rejected recipients (550
 * on RCPT TO). STARTTLS is not offered unless asked for (`starttls`), as by a server behind an
 * attacker who strips the offer; every AUTH it receives is recorded, to prove where a password went.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface CapturedMessage {
  raw: string;
  envelope: { from: string; to: string[] };
}

export interface SmtpCaptureOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Answer 421 to the first N connections (a server that is down, then comes back). */
  failFirst?: number;
  /** Addresses answered with 550 at RCPT TO (case-insensitive). */
  rejectRecipients?: string[];
  /** Require AUTH with these credentials; default: AUTH optional (accepts any). */
  auth?: { user: string; pass: string };
  /**
   * Offer STARTTLS (with smtp-server's built-in self-signed certificate: clients need
   * `?tls.rejectUnauthorized=false`); AUTH is then accepted only after it. Default false.
   */
  starttls?: boolean;
  /** Called for every accepted message (e.g. the `emulate smtp` command prints a summary). */
  onMessage?: (message: CapturedMessage) => void;
}

export interface SmtpCapture {
  port: number;
  host: string;
  url: string;
  messages: CapturedMessage[];
  /** Every AUTH command received (accepted or not), and whether the connection was encrypted then. */
  auths: { user: string; secure: boolean }[];
  /** Resolves once at least `n` messages were accepted; rejects after `timeoutMs`. */
  waitForMessages(n: number, timeoutMs?: number): Promise<CapturedMessage[]>;
  /** While down, every connection is answered `421 Service not available` and closed. */
  setDown(down: boolean): void;
  /** Connections seen so far (refused ones included). */
  connections(): number;
  stop(): Promise<void>;
}

interface Waiter {
  n: number;
  resolve: (messages: CapturedMessage[]) => void;
}

export async function startSmtpCapture(options: SmtpCaptureOptions = {}): Promise<SmtpCapture> {
  const host = options.host ?? '127.0.0.1';
  const messages: CapturedMessage[] = [];
  const auths: { user: string; secure: boolean }[] = [];
  const disabled = [...(options.starttls === true ? [] : ['STARTTLS']), ...(options.auth ? [] : ['AUTH'])];
  const waiters = new Set<Waiter>();
  const rejected = new Set((options.rejectRecipients ?? []).map((a) => a.toLowerCase()));
  let down = false;
  let failuresLeft = options.failFirst ?? 0;
  let connectionCount = 0;
  let stopped = false;

  const refusal = (): Error & { responseCode: number } => Object.assign(new Error('Service not available, closing transmission channel'), { responseCode: 421 });

  const server = new SMTPServer({
    secure: false,
    disabledCommands: disabled,
    authOptional: options.auth === undefined,
    logger: false,
    size: 50 * 1024 * 1024,
    onConnect(_session, callback) {
      connectionCount++;
      if (down) return callback(refusal());
      if (failuresLeft > 0) {
        failuresLeft--;
        return callback(refusal());
      }
      callback();
    },
    onAuth(auth, session, callback) {
      auths.push({ user: auth.username ?? '', secure: session.secure });
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
        return callback(null, { user: auth.username });
      }
      callback(Object.assign(new Error('Authentication failed'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      if (rejected.has(address.address.toLowerCase())) {
        return callback(Object.assign(new Error(`<${address.address}>: Recipient address rejected: User unknown`), { responseCode: 550 }));
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const mailFrom = session.envelope.mailFrom;
        const message: CapturedMessage = {
          raw: Buffer.concat(chunks).toString('utf8'),
          envelope: {
            from: mailFrom === false ? '' : mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
          },
        };
        messages.push(message);
        options.onMessage?.(message);
        for (const waiter of waiters) {
          if (messages.length >= waiter.n) {
            waiters.delete(waiter);
            waiter.resolve(messages.slice());
          }
        }
        callback();
      });
    },
  });
  server.on('error', () => {
    // Client-side protocol errors (resets, timeouts) are part of what the tests provoke.
  });
  server.listen(options.port ?? 0, host);
  await once(server.server, 'listening');
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    host,
    url: `smtp://${host.includes(':') ? `[${host}]` : host}:${port}`,
    messages,
    auths,
    waitForMessages(n: number, timeoutMs = 10_000): Promise<CapturedMessage[]> {
      if (messages.length >= n) return Promise.resolve(messages.slice());
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          n,
          resolve: (list) => {
            clearTimeout(timer);
            resolve(list);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`SMTP capture: expected ${n} message(s) within ${timeoutMs} ms, got ${messages.length}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    setDown(value: boolean): void {
      down = value;
    },
    connections: () => connectionCount,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?B?...?=`, `=?UTF-8?Q?...?=`) for display. */
export function decodeEncodedWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/gu, '?==?')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/gu, (_match, charset: string, encoding: string, text: string) => {
      const bytes =
        encoding.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(text.replace(/_/gu, ' ').replace(/=([0-9a-fA-F]{2})/gu, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
      return /^utf-?8$/iu.test(charset) ? bytes.toString('utf8') : bytes.toString('latin1');
    });
}

/** One line about a captured message, for `emulate smtp`: envelope, decoded subject, size. */
export function summarizeMessage(message: CapturedMessage): string {
  const headerEnd = message.raw.indexOf('\r\n\r\n');
  const headers = (headerEnd === -1 ? message.raw : message.raw.slice(0, headerEnd)).replace(/\r\n[ \t]+/gu, ' ');
  const subjectLine = /^subject:[ \t]*(.*)$/imu.exec(headers)?.[1] ?? '';
  const subject = decodeEncodedWords(subjectLine).trim();
  return `mail from <${message.envelope.from}> to ${message.envelope.to.map((t) => `<${t}>`).join(', ')}: ${JSON.stringify(subject)} (${Buffer.byteLength(message.raw)} bytes)`;
}
