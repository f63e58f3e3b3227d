import { describe, expect, it } from "vitest";
import { clockFrom, systemClock } from "../../../adapters/cli/test-clock.ts";

const fail = (m: string) => new Error(m);

describe("SOPHONT_TEST_CLOCK", () => {
  it("is the system's clock when unset", () => {
    expect(clockFrom(undefined, fail)).toBe(systemClock);
    expect(clockFrom("", fail)).toBe(systemClock);
  });

  it("starts at the given time and runs at its rate; timers wait the wall-clock share", () => {
    let wall = 1_000;
    const c = clockFrom("2026-12-04T21:59:00Z,x3600", fail, () => wall);
    expect(c.now().toISOString()).toBe("2026-12-04T21:59:00.000Z");
    wall += 1_000; // one wall second is an hour
    expect(c.now().toISOString()).toBe("2026-12-04T22:59:00.000Z");
    expect(c.wallMs(24 * 3600_000)).toBe(24_000);
    expect(c.description).toMatch(/^test clock: started at 2026-12-04T21:59:00.000Z, 3600x the wall clock/);
    expect(clockFrom("2026-12-04T21:59:00Z", fail, () => wall).wallMs(5_000)).toBe(5_000);
  });

  it("refuses what it cannot read, naming the variable", () => {
    expect(() => clockFrom("tomorrow", fail)).toThrow(/SOPHONT_TEST_CLOCK must be an ISO 8601 time/);
    expect(() => clockFrom("2026-12-04T21:59:00Z,x0", fail)).toThrow(/rate must be above 0/);
  });
});
