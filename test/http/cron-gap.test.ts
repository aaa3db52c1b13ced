/** The scan interval /healthz allows twice over: the longest gap of the schedule, not the next one. */
import { describe, expect, it } from 'vitest';
import { longestCronGap } from '../../src/http/status-data.js';

const HOUR = 3_600_000;

describe('longestCronGap', () => {
  it.each([
    ['*/15 * * * *', 'UTC', 15 * 60_000],
    ['17 3 * * *', 'UTC', 24 * HOUR],
    // Weekdays only: Friday 09:00 to Monday 09:00, so /healthz does not alarm every Monday.
    ['0 9 * * 1-5', 'UTC', 72 * HOUR],
  ])('%s (%s)', (expression, zone, expected) => {
    expect(longestCronGap(expression, zone)).toBe(expected);
  });

  it('is null for an expression that is not a schedule', () => {
    expect(longestCronGap('not a cron')).toBeNull();
  });
});
