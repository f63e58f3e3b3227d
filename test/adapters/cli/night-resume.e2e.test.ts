import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { useTestLog } from "../../support/nats.ts";
import { collect } from "../../support/events.ts";
import { corpusLines, TOPICS } from "../llm/support.ts";

const bin = fileURLToPath(new URL("../../../adapters/cli/bin.mjs", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "sophont-resume-"));
const log = useTestLog();
const DAY = "2026-11-27";
const INPUTS = 24;

/** The real `sophont` binary on the test's nats-server, with a home of its own; no stdin, like CI. */
const start = (...args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; out: string; err: string }> } => {
  const env = { ...process.env, SOPHONT_HOME: home, SOPHONT_NATS_URL: log.nats.url, SOPHONT_NATS_USER: "soul", SOPHONT_NATS_PASSWORD: log.nats.secrets.soul };
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  return { child, done: new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, out, err }))) };
};
const t0 = Date.now();
const sophont = async (...args: string[]) => {
  const r = await start(...args).done;
  console.log(`[resume] sophont ${args[0]} ${args[1]}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r;
};

afterAll(() => rmSync(home, { recursive: true, force: true }));

const decisions = async () =>
  (await collect(log.store.read({ types: new Set(["InputAccepted", "InputRejected", "ShadowRecorded"]) }))).map((e) => (e.data as { inputId: string }).inputId);

describe("sophont night, killed for real", () => {
  it("resumes with the same command where it stopped: every input decided exactly once, counts by cause at the end", async () => {
    const questions = join(home, "questions.txt");
    writeFileSync(questions, ["How do planets move in their orbits around a star?", "What can a telescope show of distant galaxies?", "Why does a comet brighten near the sun?"].join("\n"));
    const seeded = await sophont("preoccupation", "seed", questions);
    expect(seeded.code, seeded.err).toBe(0);
    // Long inputs (a few thousand tokens each), so the night takes long enough to be killed halfway.
    const lines = TOPICS.flatMap((t) => corpusLines("heldout", t)).filter((l) => l.length > 40);
    const inputs = Array.from({ length: INPUTS }, (_, i) => Array.from({ length: 80 }, (_, k) => lines[(i * 7 + k * 13) % lines.length]).join(" "));
    const file = join(home, "day.log");
    writeFileSync(file, inputs.join("\n"));
    const ingested = await sophont("ingest", file, "--day", DAY, "--max-bytes", "1000000");
    expect(ingested.code, ingested.err).toBe(0);

    const first = start("night", "--day", DAY);
    let seen = 0;
    for (const end = Date.now() + 240_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
      seen = (await decisions()).length;
      if (seen >= 4) break;
    }
    console.log(`[resume] killing after ${seen} decisions: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    first.child.kill("SIGKILL");
    const killed = await first.done;
    expect(killed.signal).toBe("SIGKILL");
    const halfway = (await decisions()).length;
    expect(halfway, "killed after the night was over: make the inputs longer").toBeLessThan(INPUTS);
    expect(halfway).toBeGreaterThanOrEqual(4);
    expect(await collect(log.store.read({ types: new Set(["NightCompleted"]) }))).toHaveLength(0);

    const again = await sophont("night", "--day", DAY, "--json");
    expect(again.code, again.err).toBe(0);
    expect(again.err).toMatch(/resuming it where it stopped/);
    const summary = JSON.parse(again.out) as { night: string; completed: boolean; resumed: boolean; counts: { accepted: number; rejected: number; rejectedByCause: Record<string, number>; shadow: number; refused: number } };
    expect(summary).toMatchObject({ night: DAY, completed: true, resumed: true });

    const ids = await decisions();
    expect(ids).toHaveLength(INPUTS);
    expect(new Set(ids).size).toBe(INPUTS);
    const c = summary.counts;
    expect(c.accepted + c.rejected + c.shadow).toBe(INPUTS);
    expect(Object.values(c.rejectedByCause).reduce((a, b) => a + b, 0)).toBe(c.rejected);
    const completed = await collect(log.store.read({ types: new Set(["NightCompleted"]) }));
    expect(completed).toHaveLength(1);
    expect(completed[0]!.data).toMatchObject({ counts: { accepted: c.accepted, rejected: c.rejected, shadow: c.shadow } });

  }, 300_000);
});
