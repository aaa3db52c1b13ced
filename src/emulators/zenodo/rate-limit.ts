/**
 * Flask-Limiter's moving-window limiter as Zenodo configures it (reference zenodo-api.md §8):
 * two windows (per minute, per hour) per key; headers on every response; a refused request is
 * not counted.
 */

export interface RateLimit {
  perMinute: number;
  perHour: number;
}

export interface RateDecision {
  allowed: boolean;
  headers: Record<string, string>;
  /** For a 429: Flask-Limiter's description of the breached limit, e.g. "100 per 1 minute". */
  message?: string;
}

interface Window {
  amount: number;
  seconds: number;
  label: string;
}

export interface RateLimiter {
  check(key: string, limit: RateLimit, now: number): RateDecision;
  clear(): void;
}

export function createRateLimiter(): RateLimiter {
  // key → timestamps (ms) of counted hits, oldest first; only the last hour is kept.
  const hits = new Map<string, number[]>();
  return {
    clear() {
      hits.clear();
    },
    check(key, limit, now) {
      const windows: Window[] = [
        { amount: limit.perMinute, seconds: 60, label: `${limit.perMinute} per 1 minute` },
        { amount: limit.perHour, seconds: 3600, label: `${limit.perHour} per 1 hour` },
      ];
      let list = hits.get(key);
      if (!list) {
        list = [];
        hits.set(key, list);
      }
      const hourAgo = now - 3600_000;
      while (list.length > 0 && list[0]! <= hourAgo) list.shift();
      const inWindow = (w: Window): number[] => list.filter((t) => t > now - w.seconds * 1000);
      const breached = windows.find((w) => inWindow(w).length >= w.amount);
      if (!breached) list.push(now);
      // X-RateLimit-Limit is the breached limit, else the smallest window (FL `current_limit`).
      const current = breached ?? windows[0]!;
      const counted = inWindow(current);
      const remaining = Math.max(0, current.amount - counted.length);
      // Moving window: the window frees a slot when its oldest hit ages out.
      const oldest = counted[0] ?? now;
      const resetMs = oldest + current.seconds * 1000;
      const reset = Math.ceil(resetMs / 1000);
      const retryAfter = Math.max(0, Math.floor((reset * 1000 - now) / 1000));
      return {
        allowed: breached === undefined,
        message: breached?.label,
        headers: {
          'X-RateLimit-Limit': String(current.amount),
          'X-RateLimit-Remaining': String(remaining),
          'X-RateLimit-Reset': String(reset),
          'Retry-After': String(retryAfter),
        },
      };
    },
  };
}
