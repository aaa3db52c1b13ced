/**
 * Fault injection shared by the emulators (Zenodo, CKAN, ...). A fault spec names a route of the
 * emulator, a kind of failure and a probability; decisions come from a seeded PRNG so that a test
 * or benchmark run with the same seed and the same request order sees the same faults.
 *
 * What each kind means is defined here; how it is carried out (which bytes a truncated transfer
 * keeps, what "the operation still happens" means) is up to each emulator:
 *
 * - `429`, `500`, `502`, `503`, `504`: answer that status without running the handler (the request
 *   body is drained, nothing changes). `429` carries `Retry-After: retryAfterSeconds` (default 1).
 * - `500-after`, `502-after`, `503-after`, `504-after`: run the handler (state changes), then throw
 *   the response away and answer that status. `504-after-publish` is an alias of `504-after`
 *   (DESIGN.md: a 504 on publish means "unknown"; reference zenodo-api.md Q8).
 * - `reset`: destroy the socket without answering; nothing changes.
 * - `truncate`: a transfer keeps only part of its body. For an upload the emulator stores the
 *   first part of the body and answers 502; for a download it sends a prefix and destroys the
 *   socket. `fraction` (default 0.5) is the share that is kept.
 * - `slow`: wait `delayMs` (default 1000) before handling the request normally.
 *
 * Text form (CLI `--faults`): comma-separated `route:kind:probability[:key=value]...`, keys
 * `count`, `delayMs` (or `delay`), `retryAfter`, `fraction`. Example:
 * `upload:reset:0.2,publish:504-after-publish:1:count=1,any:503:0.1`.
 */
import { AppError } from '../errors.js';

export const faultKinds = [
  '429', '500', '502', '503', '504',
  '500-after', '502-after', '503-after', '504-after', '504-after-publish',
  'reset', 'truncate', 'slow',
] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface FaultSpec<Route extends string = string> {
  /** A route name of the emulator, or `any`. */
  route: Route | 'any';
  kind: FaultKind;
  /** Chance in [0, 1] that a matching request gets this fault. */
  probability: number;
  /** Fire at most this many times (e.g. `count: 1, probability: 1` = only the first match). */
  count?: number;
  /** For `slow`: milliseconds to wait before handling. */
  delayMs?: number;
  /** For `429`: the `Retry-After` seconds to send. */
  retryAfterSeconds?: number;
  /** For `truncate`: share of the body kept, in [0, 1). */
  fraction?: number;
}

/** What an emulator has to do with a request; `undefined` from `decide` = no fault. */
export type FaultAction =
  | { type: 'status'; status: number; retryAfterSeconds: number; spec: FaultSpec }
  | { type: 'status-after'; status: number; spec: FaultSpec }
  | { type: 'reset'; spec: FaultSpec }
  | { type: 'truncate'; fraction: number; spec: FaultSpec }
  | { type: 'slow'; delayMs: number; spec: FaultSpec };

export interface FaultInjector {
  /** Picks the fault for one request on `route` (first matching spec that fires), or undefined. */
  decide(route: string): FaultAction | undefined;
  /** Replaces the specs and resets the `count` budgets; the PRNG keeps its sequence. */
  set(specs: readonly FaultSpec[]): void;
  readonly specs: readonly FaultSpec[];
}

/** mulberry32: small, fast, good enough for fault dice; deterministic for a given seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createFaultInjector(specs: readonly FaultSpec[] = [], seed = 1): FaultInjector {
  const random = seededRandom(seed);
  let current: FaultSpec[] = [];
  let fired: number[] = [];
  const injector: FaultInjector = {
    get specs() {
      return current;
    },
    set(next) {
      current = next.map((s) => validateFaultSpec(s));
      fired = current.map(() => 0);
    },
    decide(route) {
      for (let i = 0; i < current.length; i++) {
        const spec = current[i]!;
        if (spec.route !== 'any' && spec.route !== route) continue;
        if (spec.count !== undefined && (fired[i] ?? 0) >= spec.count) continue;
        // Always draw for a matching spec, so one spec's outcome does not shift another's dice
        // depending on the order of evaluation.
        const roll = random();
        if (roll >= spec.probability) continue;
        fired[i] = (fired[i] ?? 0) + 1;
        return toAction(spec);
      }
      return undefined;
    },
  };
  injector.set(specs);
  return injector;
}

function toAction(spec: FaultSpec): FaultAction {
  switch (spec.kind) {
    case 'reset':
      return { type: 'reset', spec };
    case 'truncate':
      return { type: 'truncate', fraction: spec.fraction ?? 0.5, spec };
    case 'slow':
      return { type: 'slow', delayMs: spec.delayMs ?? 1000, spec };
    case '504-after-publish':
      return { type: 'status-after', status: 504, spec };
    case '500-after':
    case '502-after':
    case '503-after':
    case '504-after':
      return { type: 'status-after', status: Number(spec.kind.slice(0, 3)), spec };
    default:
      return { type: 'status', status: Number(spec.kind), retryAfterSeconds: spec.retryAfterSeconds ?? 1, spec };
  }
}

function usage(message: string): AppError {
  return new AppError('USAGE', message);
}

/** Checks one spec (object form); throws AppError USAGE naming the problem. */
export function validateFaultSpec(spec: FaultSpec, routes?: readonly string[]): FaultSpec {
  if (routes && spec.route !== 'any' && !routes.includes(spec.route)) {
    throw usage(`unknown fault route "${spec.route}"; expected one of: any, ${routes.join(', ')}`);
  }
  if (!(faultKinds as readonly string[]).includes(spec.kind)) {
    throw usage(`unknown fault kind "${String(spec.kind)}"; expected one of: ${faultKinds.join(', ')}`);
  }
  if (typeof spec.probability !== 'number' || !(spec.probability >= 0 && spec.probability <= 1)) {
    throw usage(`fault probability must be a number between 0 and 1, got ${String(spec.probability)}`);
  }
  if (spec.count !== undefined && !(Number.isInteger(spec.count) && spec.count >= 0)) {
    throw usage(`fault count must be a non-negative integer, got ${String(spec.count)}`);
  }
  if (spec.delayMs !== undefined && !(Number.isFinite(spec.delayMs) && spec.delayMs >= 0)) {
    throw usage(`fault delayMs must be a non-negative number, got ${String(spec.delayMs)}`);
  }
  if (spec.retryAfterSeconds !== undefined && !(Number.isInteger(spec.retryAfterSeconds) && spec.retryAfterSeconds >= 0)) {
    throw usage(`fault retryAfter must be a non-negative integer, got ${String(spec.retryAfterSeconds)}`);
  }
  if (spec.fraction !== undefined && !(spec.fraction >= 0 && spec.fraction < 1)) {
    throw usage(`fault fraction must be in [0, 1), got ${String(spec.fraction)}`);
  }
  return { ...spec };
}

/**
 * Parses the CLI text form (see the module comment). `routes` lists the emulator's route names;
 * when given, unknown routes are refused. Throws AppError USAGE with the offending item quoted.
 */
export function parseFaultSpec(text: string, routes?: readonly string[]): FaultSpec[] {
  const specs: FaultSpec[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const parts = item.split(':');
    const [route, kind, probabilityText, ...options] = parts;
    if (route === undefined || kind === undefined || probabilityText === undefined || route === '' || kind === '') {
      throw usage(`fault "${item}": expected route:kind:probability[:key=value...], e.g. upload:reset:0.2`);
    }
    const probability = Number(probabilityText);
    if (probabilityText.trim() === '' || Number.isNaN(probability)) {
      throw usage(`fault "${item}": probability "${probabilityText}" is not a number`);
    }
    const spec: FaultSpec = { route, kind: kind as FaultKind, probability };
    for (const option of options) {
      const eq = option.indexOf('=');
      const key = eq < 0 ? option : option.slice(0, eq);
      const valueText = eq < 0 ? '' : option.slice(eq + 1);
      const value = Number(valueText);
      if (valueText.trim() === '' || Number.isNaN(value)) {
        throw usage(`fault "${item}": option "${option}" needs a numeric value, e.g. count=1`);
      }
      switch (key) {
        case 'count':
          spec.count = value;
          break;
        case 'delay':
        case 'delayMs':
          spec.delayMs = value;
          break;
        case 'retryAfter':
          spec.retryAfterSeconds = value;
          break;
        case 'fraction':
          spec.fraction = value;
          break;
        default:
          throw usage(`fault "${item}": unknown option "${key}"; expected count, delayMs, retryAfter or fraction`);
      }
    }
    try {
      specs.push(validateFaultSpec(spec, routes));
    } catch (error) {
      throw usage(`fault "${item}": ${(error as Error).message}`);
    }
  }
  return specs;
}
