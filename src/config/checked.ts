/**
 * Field-by-field validation on zod for input people write (rules.yaml, the owners' Zenodo
 * metadata override): a check returns the parsed value or `bad(message)`, and every bad field
 * becomes one issue at its own path, with a message that says what is wrong and what is allowed.
 */
import { z } from 'zod';

/** What a check returns for a bad value (a class, so that no parsed value can be mistaken for it). */
export class Bad {
  constructor(readonly message: string) {}
}

export const bad = (message: string): Bad => new Bad(message);

/** A field checked by `check`; a missing one says so (optional fields add `.optional()`). */
export function checked<T>(check: (value: unknown) => T | Bad) {
  return z.unknown().transform((value, ctx): T => {
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'is missing' });
      return z.NEVER;
    }
    const result = check(value);
    if (result instanceof Bad) {
      ctx.addIssue({ code: 'custom', message: result.message });
      return z.NEVER;
    }
    return result;
  });
}
