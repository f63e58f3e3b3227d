import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../../adapters/cli/bin.mjs", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "sophont-mcp-"));
const env = { ...process.env, SOPHONT_HOME: home, SOPHONT_NATS_URL: "" };
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("outside agents", () => {
  it("get an identity of their own: a user, a password and a consumer nobody else has", () => {
    const r = spawnSync(process.execPath, [bin, "agent", "add", "curator"], { env, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const file = join(home, "agents", "curator.json");
    expect(statSync(file).mode & 0o077).toBe(0);
    const creds = JSON.parse(readFileSync(file, "utf8"));
    expect(creds).toMatchObject({ user: "agent-curator", account: "AGENT_curator", read: { consumer: "agent-curator", apiPrefix: "$JS.SOPHONT.API" } });
    expect(creds.commands.map((c: { subject: string }) => c.subject).sort()).toEqual(["sophont.cmd.mitosis.approve", "sophont.cmd.mitosis.decline"]);
    const secrets = JSON.parse(readFileSync(join(home, "secrets", "nats.json"), "utf8"));
    expect(Object.values(secrets)).not.toContain(creds.password);
    const list = spawnSync(process.execPath, [bin, "agent", "list", "--json"], { env, encoding: "utf8" });
    expect(JSON.parse(list.stdout).map((a: { name: string }) => a.name)).toEqual(["curator"]);
  });

  it("talk to `sophont mcp` over stdio: initialize, list the tools, call one", async () => {
    const input = join(home, "day.txt");
    writeFileSync(input, "The comet passed the moon.\n\nThe telescope saw a nebula.\n");
    expect(spawnSync(process.execPath, [bin, "ingest", input, "--day", "2026-11-20"], { env, encoding: "utf8" }).status).toBe(0);
    const p = spawn(process.execPath, [bin, "mcp"], { env, stdio: ["pipe", "pipe", "pipe"] });
    const lines = createInterface({ input: p.stdout });
    const replies: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    lines.on("line", (l) => {
      replies.push(JSON.parse(l));
      waiters.shift()?.();
    });
    const call = async (msg: Record<string, unknown>) => {
      const n = replies.length;
      p.stdin.write(JSON.stringify({ jsonrpc: "2.0", ...msg }) + "\n");
      while (replies.length <= n) await new Promise<void>((r) => waiters.push(r));
      return replies[n] as { result?: Record<string, unknown>; error?: { code: number } };
    };
    const init = await call({ id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "test", version: "1" } } });
    expect(init.result).toMatchObject({ protocolVersion: "2025-06-18", serverInfo: { name: "sophont" }, capabilities: { tools: {} } });
    p.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
    const list = await call({ id: 2, method: "tools/list" });
    const names = (list.result!.tools as Array<{ name: string }>).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["events_tail", "ledger", "centroids", "audit_input", "mitosis_approve", "mitosis_decline"]));
    const tail = await call({ id: 3, method: "tools/call", params: { name: "events_tail", arguments: { last: 5 } } });
    const events = JSON.parse((tail.result!.content as Array<{ text: string }>)[0]!.text);
    expect(events.map((e: { type: string }) => e.type)).toEqual(["InputReceived", "InputReceived"]);
    const bad = await call({ id: 4, method: "tools/call", params: { name: "audit_input", arguments: { inputId: "nope" } } });
    expect(bad.result).toMatchObject({ isError: true });
    const unknown = await call({ id: 5, method: "no/such" });
    expect(unknown.error?.code).toBe(-32601);
    p.stdin.end();
    await new Promise((r) => p.on("close", r));
  }, 60_000);
});
