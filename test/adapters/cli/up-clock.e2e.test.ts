// `sophont up` on a test clock (SOPHONT_TEST_CLOCK, a simulated day in 36 s of wall time): the real
// process's own schedule starts a night each simulated evening and Salience judges the inputs that
// were dropped in (`sophont ingest`) during that day. The ground under a season run through `up`.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { useTestLog } from "../../support/nats.ts";
import { startSophont } from "../../support/cli.ts";
import { waitFor } from "../../actors/muscle/support.ts";
import { collect } from "../../support/events.ts";
import { corpusLines } from "../llm/support.ts";

const home = mkdtempSync(join(tmpdir(), "sophont-up-clock-"));
const log = useTestLog();
const RATE = 2400;
const env = () => ({ ...process.env, TZ: "UTC", SOPHONT_HOME: home, SOPHONT_NATS_URL: log.nats.url, SOPHONT_NATS_USER: "soul", SOPHONT_NATS_PASSWORD: log.nats.secrets.soul, OTEL_SDK_DISABLED: "true" });

const start = (args: string[], extra: Record<string, string> = {}) => {
  const run = startSophont(args, { env: { ...env(), ...extra } });
  return { child: run.child, out: run.stdout, done: run.done };
};
const sophont = (...args: string[]) => start(args).done;
const completed = async (day: string) => (await collect(log.store.read({ types: new Set(["NightCompleted"]) }))).find((e) => (e.data as { nightId: string }).nightId === day);

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("sophont up on a test clock", () => {
  it("starts a night each simulated evening by its own schedule and judges that day's inputs", async () => {
    writeFileSync(join(home, "config.json"), JSON.stringify({ night: { at: "22:00" }, training: { auto: false } }));
    writeFileSync(join(home, "questions.txt"), ["How do planets move in their orbits around a star?", "What can a telescope show of distant galaxies?", "Why does a comet brighten near the sun?"].join("\n"));
    expect((await sophont("preoccupation", "seed", join(home, "questions.txt"))).code).toBe(0);
    const days = ["2026-12-05", "2026-12-06"];
    const dayInputs = (i: number) => [...corpusLines("heldout", "astronomy").slice(i * 4, i * 4 + 4), corpusLines("heldout", "cooking")[i]!];
    const drop = async (i: number) => {
      writeFileSync(join(home, `day-${i}.log`), dayInputs(i).join("\n"));
      const r = await sophont("ingest", join(home, `day-${i}.log`), "--day", days[i]!);
      expect(r.code, r.err).toBe(0);
    };
    await drop(0);

    // 12:00 on the first day: the evening's night comes after 10 simulated hours (15 s of wall time).
    const up = start(["up"], { SOPHONT_TEST_CLOCK: `${days[0]}T12:00:00Z,x${RATE}` });
    try {
      await waitFor(async () => (up.out().includes("Ctrl-C to stop") ? true : undefined), 60_000, "up to start");
      expect(up.out()).toMatch(/test clock: started at 2026-12-05T12:00:00.000Z, 2400x the wall clock/);
      const first = await waitFor(() => completed(days[0]!), 90_000, `the night of ${days[0]}`);
      await drop(1); // the next day's inputs arrive while up runs
      const second = await waitFor(() => completed(days[1]!), 90_000, `the night of ${days[1]}`);
      expect(up.out()).toContain(`night ${days[0]} started by the schedule`);
      expect(up.out()).toContain(`night ${days[1]} started by the schedule`);
      const started = (await collect(log.store.read({ types: new Set(["NightStarted"]) }))).map((e) => ({ day: (e.data as { nightId: string }).nightId, time: e.metadata.time, trigger: (e.data as { trigger?: string }).trigger }));
      // The nights start at the schedule's simulated evening (the wall clock says today).
      expect(started.map((s) => s.day)).toEqual(days);
      for (const [i, s] of started.entries()) {
        expect(s.trigger).toBe("schedule");
        expect(s.time.slice(0, 13)).toBe(`${days[i]}T22`);
      }
      const counts = (e: typeof first) => (e.data as { counts: { accepted: number; rejected: number; shadow: number } }).counts;
      for (const [i, e] of [first, second].entries()) {
        const c = counts(e);
        expect(c.accepted + c.rejected + c.shadow, `the night of ${days[i]} judged that day's inputs`).toBe(dayInputs(i).length);
      }
    } finally {
      up.child.kill("SIGINT");
      const end = await up.done;
      expect(end.code, end.err).toBe(0);
    }
  }, 300_000);
});
