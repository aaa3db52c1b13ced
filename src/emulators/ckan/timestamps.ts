/**
 * CKAN's timestamps: Python `datetime.utcnow().isoformat()`, i.e. naive UTC with microseconds,
 * and the fraction left out entirely when the microseconds are zero (reference ckan-api.md §0).
 */

/** Microseconds since the epoch → `2025-12-15T13:58:11.026778` / `2023-05-29T11:52:10`. */
export function formatCkanTimestamp(epochMicros: number): string {
  const ms = Math.floor(epochMicros / 1000);
  const micros = epochMicros - Math.floor(epochMicros / 1_000_000) * 1_000_000;
  const base = new Date(ms).toISOString().slice(0, 19);
  return micros === 0 ? base : `${base}.${String(micros).padStart(6, '0')}`;
}

/**
 * A CKAN API timestamp (naive UTC, with or without fraction, tolerating a trailing `Z` or offset)
 * → epoch microseconds, or undefined when it is not a timestamp.
 */
export function parseCkanTimestamp(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (!m) return undefined;
  const seconds = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
  if (!Number.isFinite(seconds)) return undefined;
  let offsetSeconds = 0;
  const tz = m[8];
  if (tz !== undefined && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    offsetSeconds = sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2)) * 60);
  }
  const micros = m[7] === undefined ? 0 : Number(m[7].slice(0, 6).padEnd(6, '0'));
  return (seconds - offsetSeconds) * 1_000_000 + micros;
}

/**
 * A clock that never repeats itself: every call returns a later microsecond than the previous one,
 * even within one millisecond, so `metadata_modified` strictly increases on every edit (§3.4
 * point 4) while several edits can still share one Solr millisecond, as they do in production.
 */
export function createMicrosClock(nowMs: () => number = Date.now): () => number {
  let last = 0;
  return () => {
    const candidate = Math.floor(nowMs()) * 1000;
    last = candidate > last ? candidate : last + 1;
    return last;
  };
}
