import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../../adapters/cli/bin.mjs", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "sophont-demo-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const run = (env: Record<string, string>, ...args: string[]) => spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, SOPHONT_NATS_URL: "", OTEL_SDK_DISABLED: "true", ...env }, encoding: "utf8", timeout: 600_000 });

describe("sophont demo", () => {
  it("runs to the end: a mitosis, a promotion and a rollback, as the events tell", () => {
    const r = run({ SOPHONT_HOME: home }, "demo", "--nights", "5");
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/summary \(read from the events\)/);
    const demoHome = join(home, "demo");
    expect(existsSync(join(demoHome, "report.html"))).toBe(true);
    // Read the outcome from the log itself, not from the narration.
    const tail = run({ SOPHONT_HOME: demoHome }, "events", "tail", "--json", "--last", "100000", "--type", "NightCompleted,SatelliteBorn,AdapterPromoted,AdapterRolledBack");
    expect(tail.status, tail.stderr).toBe(0);
    const types = tail.stdout.trim().split("\n").map((l) => JSON.parse(l).type as string);
    const count = (t: string) => types.filter((x) => x === t).length;
    expect(count("NightCompleted")).toBe(5);
    expect(count("SatelliteBorn")).toBeGreaterThanOrEqual(1);
    expect(count("AdapterPromoted")).toBeGreaterThanOrEqual(1);
    expect(count("AdapterRolledBack")).toBeGreaterThanOrEqual(1);
    // The audit of the promoted adapter lists exactly the inputs that trained it: the SFT Ledger as it was
    // when the job was requested, split into trained and held out.
    const audit = JSON.parse(run({ SOPHONT_HOME: demoHome }, "audit", "adapter", "demo-job-1", "--json").stdout);
    expect(audit.outcome.type).toBe("AdapterPromoted");
    const ledgerThen = run({ SOPHONT_HOME: demoHome }, "ledger", "export", "sft", "--at", String(audit.requested.ledgerAtSeq));
    const ledgerIds = ledgerThen.stdout.trim().split("\n").map((l) => JSON.parse(l).id as string).sort();
    expect(audit.inputs.map((i: { inputId: string }) => i.inputId).sort()).toEqual(ledgerIds);
    expect(audit.inputs.filter((i: { role: string }) => i.role === "trained").length).toBeGreaterThan(0);
    expect(audit.inputs.every((i: { accepted: unknown }) => i.accepted !== null)).toBe(true);
    // As of the request, the same story has no verdict yet.
    const then = JSON.parse(run({ SOPHONT_HOME: demoHome }, "audit", "adapter", "demo-job-1", "--at", String(audit.requested.seq), "--json").stdout);
    expect(then.outcome).toBeNull();
    expect(then.inputs).toEqual(audit.inputs);
    // Time travel: the satellite is absent before its birth, present after, and the diff names the birth.
    const births = run({ SOPHONT_HOME: demoHome }, "events", "tail", "--json", "--last", "100000", "--type", "SatelliteBorn").stdout.trim().split("\n").map((l) => JSON.parse(l));
    const birth = births[0]!;
    const before = JSON.parse(run({ SOPHONT_HOME: demoHome }, "centroids", "--at", String(birth.seq - 1), "--json").stdout);
    const after = JSON.parse(run({ SOPHONT_HOME: demoHome }, "centroids", "--at", String(birth.seq), "--json").stdout);
    expect(JSON.stringify(before)).not.toContain(birth.data.satelliteId);
    expect(JSON.stringify(after)).toContain(birth.data.satelliteId);
    const diff = JSON.parse(run({ SOPHONT_HOME: demoHome }, "diff", "--from", String(birth.seq - 1), "--to", String(birth.seq), "--json").stdout);
    expect(diff.centroids.born).toEqual([birth.data.satelliteId]);
    // The whole log reaches a reader through a pipe, however slowly it reads (the CLI waits for the
    // pipe before exiting: Node's pipe writes are asynchronous).
    const toFile = join(home, "log.jsonl");
    const cmd = `"${process.execPath}" "${bin}" events tail --from 1 --json`;
    const viaFile = spawnSync("sh", ["-c", `${cmd} > "${toFile}"; wc -c < "${toFile}"`], { env: { ...process.env, SOPHONT_HOME: demoHome, SOPHONT_NATS_URL: "" }, encoding: "utf8" });
    const viaPipe = spawnSync("sh", ["-c", `${cmd} | { sleep 2; wc -c; }`], { env: { ...process.env, SOPHONT_HOME: demoHome, SOPHONT_NATS_URL: "" }, encoding: "utf8" });
    expect(Number(viaFile.stdout.trim()), viaFile.stderr).toBeGreaterThan(256 * 1024);
    expect(Number(viaPipe.stdout.trim()), viaPipe.stderr).toBe(Number(viaFile.stdout.trim()));
    // Running it again starts clean.
    const again = run({ SOPHONT_HOME: home }, "demo", "--nights", "1", "--no-train");
    expect(again.status, again.stderr).toBe(0);
    const rerun = run({ SOPHONT_HOME: demoHome }, "events", "tail", "--json", "--last", "100000", "--type", "NightCompleted");
    expect(rerun.stdout.trim().split("\n")).toHaveLength(1);
  }, 600_000);
});
