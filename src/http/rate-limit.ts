/**
 * Failed-authentication limit per client address (Bearer header, /login, the archive form).
 *
 * Without it, a client on the network could try about 2,000 tokens a second. After
 * MAX_AUTH_FAILURES wrong tokens within AUTH_WINDOW_MS from one address, every attempt from that
 * address is answered 429 with Retry-After until the window that began with its first failure
 * ends — without comparing the token, so a correct guess during the block teaches nothing. Other
 * addresses are not affected, and a right token resets the address's count.
 *
 * Logging is aggregated: one warning when an address is blocked, and one summary (failures and
 * refused attempts) per address when its window ends, never one line per attempt — a guessing
 * client must not be able to fill the disk through our log.
 *
 * State is per process and in memory: after a restart an attacker gets one more window, which is
 * acceptable for a limit that only has to make guessing a strong token hopeless.
 */
import { isIPv6 } from 'node:net';
import type { Logger } from '../log.js';

export const MAX_AUTH_FAILURES = 10;
export const AUTH_WINDOW_MS = 5 * 60_000;
/**
 * Addresses tracked at once. Beyond it the oldest entry is dropped: memory stays bounded against
 * a client with many addresses (that client gets 10 guesses per address anyway).
 */
const MAX_TRACKED = 50_000;

export interface AuthLimiter {
  /** Seconds until `address` may try again, or undefined when it may try now. */
  blockedFor(address: string): number | undefined;
  /** A wrong token from `address`. */
  failed(address: string): void;
  /** A right token from `address`: its failures are forgiven. */
  succeeded(address: string): void;
  /** Logs the summaries of windows that have ended; called periodically and on close. */
  flush(): void;
}

interface Entry {
  windowStart: number;
  failures: number;
  refused: number;
  warned: boolean;
}

/**
 * One key per client: an IPv4 address, or the /64 prefix of an IPv6 address (one host usually
 * owns a whole /64, so per-address counting would give it 2^64 times the guesses).
 */
export function limitKey(address: string): string {
  const plain = address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
  if (!isIPv6(plain)) return plain;
  const [head = '', tail = ''] = plain.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = plain.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

export function createAuthLimiter(options: { log: Logger; now?: () => number; maxFailures?: number; windowMs?: number }): AuthLimiter {
  const now = options.now ?? Date.now;
  const maxFailures = options.maxFailures ?? MAX_AUTH_FAILURES;
  const windowMs = options.windowMs ?? AUTH_WINDOW_MS;
  const entries = new Map<string, Entry>();

  const summarize = (key: string, entry: Entry): void => {
    options.log.warn(
      { client: key, failures: entry.failures, refused: entry.refused, windowSeconds: Math.round(windowMs / 1000) },
      'failed authentication attempts with the [http] token from one client address',
    );
  };

  /** The live entry of `key`, ending (and summarizing) an expired one. */
  const current = (key: string, at: number): Entry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (at - entry.windowStart < windowMs) return entry;
    entries.delete(key);
    if (entry.failures > 0) summarize(key, entry);
    return undefined;
  };

  return {
    blockedFor(address) {
      const at = now();
      const entry = current(limitKey(address), at);
      if (entry === undefined || entry.failures < maxFailures) return undefined;
      entry.refused += 1;
      return Math.max(1, Math.ceil((entry.windowStart + windowMs - at) / 1000));
    },
    failed(address) {
      const at = now();
      const key = limitKey(address);
      let entry = current(key, at);
      if (entry === undefined) {
        if (entries.size >= MAX_TRACKED) {
          const oldest = entries.keys().next();
          if (oldest.done !== true) entries.delete(oldest.value);
        }
        entry = { windowStart: at, failures: 0, refused: 0, warned: false };
        entries.set(key, entry);
      }
      entry.failures += 1;
      if (entry.failures >= maxFailures && !entry.warned) {
        entry.warned = true;
        options.log.warn(
          { client: key, failures: entry.failures, retryAfterSeconds: Math.ceil((entry.windowStart + windowMs - at) / 1000) },
          'too many wrong [http] tokens from one client address: its attempts are refused (429) until the window ends',
        );
      }
    },
    succeeded(address) {
      const key = limitKey(address);
      const entry = entries.get(key);
      if (entry === undefined) return;
      entries.delete(key);
      if (entry.failures > 0) summarize(key, entry);
    },
    flush() {
      const at = now();
      for (const key of [...entries.keys()]) current(key, at);
    },
  };
}
