// The process's clock. SOPHONT_TEST_CLOCK is a test clock for time-travel testing: "START" or
// "START,xRATE" starts this process's time at START (ISO 8601) and runs it RATE times as fast as the
// wall clock, so `sophont up`'s schedule, the Soul's deadlines and the events' times follow it
// (twelve nights in minutes). "START,xRATE,@ANCHOR" says that the clock read START at the wall-clock
// time ANCHOR (ISO 8601) instead of at this process's start, so several processes (an `up` and a
// `sophont train` beside it) share one test clock. It is named a test clock on every start: never for a real home.

export interface Clock {
  now(): Date;
  /** Wall-clock milliseconds until `ms` of this clock have passed (a timer's delay). */
  wallMs(ms: number): number;
  /** What `up` says of it; null for the system's clock. */
  readonly description: string | null;
}

export const systemClock: Clock = { now: () => new Date(), wallMs: (ms) => ms, description: null };

/** The clock SOPHONT_TEST_CLOCK asks for (the system's when unset); `fail` makes the error for a bad value. */
export const clockFrom = (spec: string | undefined, fail: (msg: string) => Error, wall: () => number = Date.now): Clock => {
  if (spec === undefined || spec.trim() === "") return systemClock;
  const m = /^\s*([^,]+?)\s*(?:,\s*x\s*([0-9.]+)\s*)?(?:,\s*@\s*([^,]+?)\s*)?$/.exec(spec);
  const start = m ? Date.parse(m[1]!) : NaN;
  const rate = m?.[2] !== undefined ? Number(m[2]) : 1;
  if (!m || !Number.isFinite(start)) throw fail(`SOPHONT_TEST_CLOCK must be an ISO 8601 time, optionally ",xRATE" and ",@ANCHOR" (e.g. 2026-12-04T21:59:00Z,x3600), got ${JSON.stringify(spec)}`);
  if (!(rate > 0 && rate <= 1_000_000)) throw fail(`SOPHONT_TEST_CLOCK's rate must be above 0 and at most 1000000, got ${m[2]}`);
  // The wall-clock time at which this clock read START.
  const began = m[3] !== undefined ? Date.parse(m[3]) : wall();
  if (!Number.isFinite(began)) throw fail(`SOPHONT_TEST_CLOCK's anchor (after "@") must be an ISO 8601 wall-clock time, got ${JSON.stringify(m[3])}`);
  return {
    now: () => new Date(start + (wall() - began) * rate),
    wallMs: (ms) => Math.max(0, ms / rate),
    description: `test clock: started at ${new Date(start).toISOString()}${m[3] !== undefined ? ` (at the wall clock's ${new Date(began).toISOString()})` : ""}, ${rate}x the wall clock (SOPHONT_TEST_CLOCK)`,
  };
};
