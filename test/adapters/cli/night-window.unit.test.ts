import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../adapters/cli/config.ts";
import { deadlineFor, nextLocal } from "../../../adapters/cli/night-window.ts";

const homes: string[] = [];
const load = (file: unknown, env: NodeJS.ProcessEnv = {}) => {
  const home = mkdtempSync(join(tmpdir(), "sophont-night-"));
  homes.push(home);
  writeFileSync(join(home, "config.json"), JSON.stringify(file));
  return loadConfig({ home }, env);
};
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));

describe("config.json night: when a night may run", () => {
  it("reads night.at and night.deadline, the variables over them", () => {
    expect(load({ night: { at: "02:00", deadline: "06:00" } })).toMatchObject({ night: { at: "02:00", deadline: "06:00" }, nightAt: "02:00", notes: [] });
    expect(load({ night: { at: "02:00" } }, { SOPHONT_NIGHT_DEADLINE: "05:30", SOPHONT_NIGHT_AT: "01:00" }).night).toEqual({ at: "01:00", deadline: "05:30" });
    expect(load({}).night).toEqual({ at: undefined, deadline: undefined });
  });

  it("keeps the old nightAt working, and says so once", () => {
    const c = load({ nightAt: "02:30", night: { deadline: "06:00" } });
    expect(c.night).toEqual({ at: "02:30", deadline: "06:00" });
    expect(c.notes).toHaveLength(1);
    expect(c.notes[0]).toMatch(/"nightAt" is the old name of night.at/);
    expect(() => load({ nightAt: "02:30", night: { at: "03:00" } })).toThrow(/"nightAt" \(02:30\) and night.at \(03:00\) disagree/);
  });

  it.each([
    [{ night: "02:00" }, /"night" must be an object/],
    [{ night: { at: "2am" } }, /night.at must be a local time HH:MM/],
    [{ night: { deadline: "24:00" } }, /night.deadline must be a local time HH:MM/],
    [{ night: { at: "02:00", until: "06:00" } }, /night.until is not a setting; known: at, deadline/],
    [{ night: { at: "02:00", deadline: "02:00" } }, /night.deadline \(02:00\) must differ from night.at/],
  ])("refuses %j, naming the key", (file, error) => {
    expect(() => load(file)).toThrow(error);
  });

  it("refuses a bad variable by its name", () => {
    expect(() => load({}, { SOPHONT_NIGHT_DEADLINE: "6am" })).toThrow(/SOPHONT_NIGHT_DEADLINE must be a local time/);
  });

  it("puts a night's deadline at the first such local time after it starts", () => {
    const start = new Date(2026, 11, 2, 2, 0, 0); // 02:00 local
    expect(nextLocal("06:00", start)).toEqual(new Date(2026, 11, 2, 6, 0, 0));
    expect(nextLocal("01:00", start)).toEqual(new Date(2026, 11, 3, 1, 0, 0));
    expect(nextLocal("02:00", start)).toEqual(new Date(2026, 11, 3, 2, 0, 0)); // strictly after
    expect(deadlineFor({ at: "23:00", deadline: "05:00" }, new Date(2026, 11, 2, 23, 0, 0))).toBe(new Date(2026, 11, 3, 5, 0, 0).toISOString());
    expect(deadlineFor({ at: "02:00", deadline: undefined }, start)).toBeUndefined();
  });
});
