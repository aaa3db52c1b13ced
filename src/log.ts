import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear in a log object. Anything that can carry a token or
 * password is listed here so that a careless `log.info({ config })` still leaks nothing.
 */
export const REDACT_PATHS = [
  'token',
  'apiToken',
  'api_token',
  'password',
  'pass',
  'authorization',
  'Authorization',
  '*.token',
  '*.apiToken',
  '*.api_token',
  '*.password',
  '*.pass',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'req.headers.authorization',
];

// Up to the LAST `@` of the run of non-blanks: an unencoded `@`, `/` or `:` in a password must
// not end the match early and show the rest. (A password with blanks in it is caught by the
// literal secrets: see connectionSecrets.)
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)\S*@/gi;
const QUERY_PASSWORD = /([?&](?:password|sslpassword|pass)=)[^&#\s]*/gi;
const BEARER = /\b(Bearer|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/**
 * Removes credentials from free text (error messages, URLs): passwords in `scheme://user:pass@`
 * URLs and their `?password=` parameters, bearer tokens, plus any literal secret we know of.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Literal secrets first: once the URL pattern has replaced part of a password, the literal
  // no longer matches and the rest of it (after a blank) would stay.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) out = out.split(secret).join('***');
  }
  return out.replace(URL_PASSWORD, '$1***@').replace(QUERY_PASSWORD, '$1***').replace(BEARER, '$1 ***');
}

function tryDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Every form in which the password of a connection string (postgres://, smtp://...) may show up
 * in an error or a log line: as written, percent-decoded, percent-encoded, and as WHATWG URL
 * serializes it. Parsed by hand, up to the last `@`, because the password may hold anything
 * (blanks, `@`, `:`, `/`, `%`, quotes, any script) and then no URL parser accepts the string.
 * Also a `password=` query parameter. Feed the result to the logger's and redactText's secrets.
 */
export function connectionSecrets(url: string | undefined): string[] {
  if (url === undefined) return [];
  const found: string[] = [];
  const start = url.indexOf('://');
  const at = url.lastIndexOf('@');
  if (start !== -1 && at > start) {
    const userinfo = url.slice(start + 3, at);
    const colon = userinfo.indexOf(':');
    if (colon !== -1) found.push(userinfo.slice(colon + 1));
  }
  for (const match of url.matchAll(/[?&](?:password|sslpassword)=([^&#]*)/gi)) found.push(match[1] ?? '');
  const forms = new Set<string>();
  for (const raw of found) {
    if (raw === '') continue;
    const decoded = tryDecode(raw);
    forms.add(raw);
    forms.add(decoded);
    forms.add(encodeURIComponent(decoded));
    forms.add(decoded.replace(/ /g, '+'));
    try {
      const u = new URL('x://h');
      u.password = decoded;
      forms.add(u.password);
    } catch {
      // nothing more to add
    }
  }
  return [...forms].filter((f) => f.length > 0);
}

/**
 * A connection string fit to show: `scheme://user:***@host:port/db`, `password=` parameters
 * replaced, whatever the password holds. Never throws.
 */
export function redactUrl(url: string): string {
  return redactText(url, connectionSecrets(url));
}

export interface LogOptions {
  level?: string;
  /** Literal secrets (tokens, passwords) to scrub from every message, whatever the field. */
  secrets?: readonly string[];
  /** Force human-readable output; default: when stdout is a TTY. */
  pretty?: boolean;
  destination?: DestinationStream;
}

export function createLogger(options: LogOptions = {}): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '***' },
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      // Secrets can hide in messages and error texts, where path-based redaction cannot see.
      logMethod(args, method) {
        const scrubbed = args.map((arg: unknown) => (typeof arg === 'string' ? redactText(arg, secrets) : scrubObject(arg, secrets)));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
    serializers: {
      err: (err: unknown) => serializeError(err, secrets),
    },
  };
  const pretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  if (pretty) {
    return pino({ ...pinoOptions, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } });
  }
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

function scrubObject(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') {
    return typeof value === 'string' ? redactText(value, secrets) : value;
  }
  if (value instanceof Error) return serializeError(value, secrets);
  if (Array.isArray(value)) return value.map((v) => scrubObject(v, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubObject(v, secrets, depth + 1);
  return out;
}

function serializeError(err: unknown, secrets: readonly string[]): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? redactText(err, secrets) : err;
  const out: Record<string, unknown> = {
    type: err.name,
    message: redactText(err.message, secrets),
  };
  const extra = err as Error & { code?: unknown; retryable?: unknown; details?: unknown };
  if (extra.code !== undefined) out.code = extra.code;
  if (extra.retryable !== undefined) out.retryable = extra.retryable;
  if (extra.details !== undefined) out.details = scrubObject(extra.details, secrets);
  if (err.stack) out.stack = redactText(err.stack, secrets);
  if (err.cause !== undefined) out.cause = serializeError(err.cause, secrets);
  return out;
}

/** A logger that writes nothing: for tests and one-shot commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
