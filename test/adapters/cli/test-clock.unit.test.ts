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

  it("with an anchor, two processes started at different times read the same time", () => {
    const spec = `2026-12-04T21:59:00Z,x3600,@${new Date(10_000).toISOString()}`;
    const up = clockFrom(spec, fail, () => 12_000);
    const train = clockFrom(spec, fail, () => 15_000); // started 3 wall seconds later
    let wall = 16_000;
    const upLater = clockFrom(spec, fail, () => wall);
    expect(up.now().toISOString()).toBe("2026-12-04T23:59:00.000Z"); // 2 wall seconds after the anchor
    expect(train.now().toISOString()).toBe("2026-12-05T02:59:00.000Z");
    expect(upLater.now().toISOString()).toBe("2026-12-05T03:59:00.000Z");
    wall += 1_000;
    expect(upLater.now().toISOString()).toBe("2026-12-05T04:59:00.000Z");
    expect(up.description).toMatch(/\(at the wall clock's 1970-01-01T00:00:10.000Z\), 3600x/);
  });

  it("refuses what it cannot read, naming the variable", () => {
    expect(() => clockFrom("tomorrow", fail)).toThrow(/SOPHONT_TEST_CLOCK must be an ISO 8601 time/);
    expect(() => clockFrom("2026-12-04T21:59:00Z,x0", fail)).toThrow(/rate must be above 0/);
    expect(() => clockFrom("2026-12-04T21:59:00Z,x2,@soon", fail)).toThrow(/anchor \(after "@"\) must be an ISO 8601/);
  });
});
