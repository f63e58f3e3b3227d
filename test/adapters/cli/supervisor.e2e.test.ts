import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { acquireServerLock, isAlive } from "../../../adapters/nats/server-lock.ts";
import { runSophont, startSophont, type CliRun } from "../../support/cli.ts";
import { eventually } from "../../support/disk.ts";

const home = mkdtempSync(join(tmpdir(), "sophont-supervisor-"));
const env = { SOPHONT_HOME: home, SOPHONT_NATS_URL: "" };
const stateFile = join(home, "nats", "server.json");
const state = () => JSON.parse(readFileSync(stateFile, "utf8")) as { ownerPid: number; pid: number; url: string };
const started: CliRun[] = [];
afterAll(async () => {
  for (const r of started) if (r.child.exitCode === null) r.child.kill("SIGKILL");
  try {
    process.kill(state().pid, "SIGKILL");
  } catch {
    // gone already
  }
  rmSync(home, { recursive: true, force: true });
});

const up = async (): Promise<CliRun & { output: () => string }> => {
  const run = startSophont(["up"], { env });
  started.push(run);
  let output = "";
  run.child.stdout!.on("data", (d) => (output += d));
  run.child.stderr!.on("data", (d) => (output += d));
  await eventually(() => output, (o) => /Sophont is up/.test(o), 300_000);
  expect(output).toMatch(/Sophont is up/);
  return { ...run, output: () => output };
};
const deadPid = (): number => spawnSync("true").pid!;

describe("the server lock", () => {
  it("is taken over from a dead process, and waits (bounded) while a live one starts its server", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sophont-lock-"));
    const file = join(dir, "server.json");
    writeFileSync(file, JSON.stringify({ ownerPid: deadPid(), pid: deadPid(), url: "nats://127.0.0.1:1" }));
    const a = await acquireServerLock(file, () => undefined);
    expect(a.kind).toBe("owner");
    // Held by this (live) process, its server not yet recorded: a second taker waits, then gives up saying why.
    await expect(acquireServerLock(file, () => undefined, 1_000)).rejects.toThrow(/holds .*server.json/);
    if (a.kind === "owner") a.record({ pid: process.pid, url: "nats://127.0.0.1:2" });
    const b = await acquireServerLock(file, () => undefined);
    expect(b).toMatchObject({ kind: "running", state: { url: "nats://127.0.0.1:2" } });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("the embedded nats-server, supervised", () => {
  it("up restarts its server; down stops both; a killed up takes its server with it; a night after it does not hang", async () => {
    const first = await up();
    const s1 = state();
    expect(s1.ownerPid).toBe(first.child.pid);
    process.kill(s1.pid, "SIGKILL");
    await eventually(first.output, (o) => /nats-server restarted/.test(o), 60_000);
    expect(first.output()).toMatch(/nats-server restarted on nats:\/\/127\.0\.0\.1:\d+/);
    expect(state().url).toBe(s1.url);

    const restarted = state();
    const down = await runSophont(["down", "--json"], { env, timeoutMs: 120_000 });
    expect(down.code, down.err).toBe(0);
    expect(JSON.parse(down.out)).toMatchObject({ stopped: true });
    const r1 = await first.done;
    expect(r1.code, r1.err).toBe(0);
    expect(isAlive(restarted.pid)).toBe(false);

    const second = await up();
    const s2 = state();
    second.child.kill("SIGKILL");
    await second.done;
    const gone = await eventually(() => isAlive(s2.pid), (alive) => !alive, 30_000);
    expect(gone, "the server outlived the up that started it").toBe(false);

    const night = await runSophont(["night", "--day", "2026-12-03", "--json"], { env, timeoutMs: 300_000 });
    expect(night.timedOut, night.err).toBe(false);
    expect(night.code, night.err).toBe(0);
    expect(JSON.parse(night.out)).toMatchObject({ completed: true });
  }, 900_000);
});
