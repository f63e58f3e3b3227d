import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { commands } from "../../../adapters/cli/commands/index.ts";
import { main } from "../../../adapters/cli/main.ts";

const bin = fileURLToPath(new URL("../../../adapters/cli/bin.mjs", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "sophont-cli-"));

/** Runs the real `sophont` binary with a home of its own; no stdin, like CI. */
const sophont = (...args: string[]): Promise<{ code: number; out: string; err: string }> =>
  new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env, SOPHONT_HOME: home, SOPHONT_NATS_URL: "" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) => resolve({ code: code ?? -1, out, err }));
  });

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("sophont CLI", () => {
  it("has --help for every command", async () => {
    // In-process for each command (spawning ~25 processes would take most of a minute on 2 cores) ...
    for (const c of commands) {
      const out: string[] = [];
      const code = await main([...c.path, "--help"], { out: (s) => out.push(s), err: (s) => out.push(s) });
      expect(code, c.path.join(" ")).toBe(0);
      expect(out.join("\n")).toContain(`usage: ${c.usage}`);
    }
    // ... and once through the real binary.
    const top = await sophont("--help");
    expect(top.code).toBe(0);
    for (const c of commands) expect(top.out).toContain(c.path.join(" "));
  });

  it("runs however it is reached: npx, a symlink (argv[1] is then not bin.mjs)", async () => {
    const run = (cmd: string, args: string[]): Promise<{ code: number; out: string }> =>
      new Promise((resolve) => {
        const p = spawn(cmd, args, { cwd: fileURLToPath(new URL("../../..", import.meta.url)), env: { ...process.env, SOPHONT_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        p.stdout.on("data", (d) => (out += d));
        p.on("close", (code) => resolve({ code: code ?? -1, out }));
      });
    const viaNpx = await run("npx", ["--no-install", "sophont", "--help"]);
    expect(viaNpx.code).toBe(0);
    expect(viaNpx.out).toMatch(/usage: sophont <command>/);
    const link = join(home, "sophont-link");
    symlinkSync(bin, link);
    const viaLink = await run(link, ["--help"]);
    expect(viaLink.code).toBe(0);
    expect(viaLink.out).toMatch(/usage: sophont <command>/);
  });

  it("refuses unknown commands and bad flags with a hint, exit code 2", async () => {
    const a = await sophont("frobnicate");
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/unknown command/);
    const b = await sophont("night", "--day", "tomorrow");
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/YYYY-MM-DD/);
    const c = await sophont("events", "tail", "--bogus");
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/usage: sophont events tail/);
  });

  it("runs a night on the embedded server, then shows it in the log, status and a replay", async () => {
    const night = await sophont("night", "--day", "2026-11-24");
    expect(night.code, night.err).toBe(0);
    expect(night.out).toMatch(/night 2026-11-24 completed/);
    // The secrets file is private.
    expect(statSync(join(home, "secrets", "nats.json")).mode & 0o077).toBe(0);
    // The embedded server was stopped with the command.
    expect(existsSync(join(home, "nats", "server.json"))).toBe(false);

    const tail = await sophont("events", "tail", "--json");
    const events = tail.out.trim().split("\n").map((l) => JSON.parse(l));
    expect(events.map((e) => e.type)).toEqual(["NightStarted", "NightCompleted"]);
    expect(events[1].causationId).toBe(events[0].id);

    const again = await sophont("night", "--day", "2026-11-24");
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already started/);

    const status = await sophont("status", "--json");
    const s = JSON.parse(status.out);
    expect(s.stream.events).toBe(2);
    expect(s.consumers.map((c: { name: string }) => c.name)).toContain("actor-soul");

    const then = await sophont("replay", "--until", "1", "--projection", "night-summaries");
    expect(JSON.parse(then.out)["2026-11-24"].completedSeq).toBeUndefined();
    const now = await sophont("replay", "--projection", "night-summaries");
    expect(JSON.parse(now.out)["2026-11-24"].completedSeq).toBe(2);
    const rebuilt = await sophont("replay", "--rebuild");
    expect(rebuilt.out).toMatch(/rebuilt event-counts, night-summaries, inputs(, [a-z-]+)* from sequence 1 to 2/);
  }, 240_000);
});
