import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { main } from "../../../adapters/cli/main.ts";
import { loadConfig } from "../../../adapters/cli/config.ts";
import { openRuntime, type Runtime } from "../../../adapters/cli/runtime.ts";
import { serveCommands } from "../../../adapters/nats/commands.ts";
import { ApproveMitosis, DeclineMitosis } from "../../../events/commands.ts";
import { EVENT_STREAM } from "../../../events/subjects.ts";
import { inputReceived, pending } from "../../support/events.ts";

// `sophont agent add|revoke` against a server another process owns (as under `sophont up`): the
// server reloads, the agent connects with its own identity, sends the README's requests exactly as
// printed, and is cut off by a revoke.

const readme = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");
const home = mkdtempSync(join(tmpdir(), "sophont-agent-"));
const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
};
let rt: Runtime;
const received: Array<{ sender: string; command: unknown }> = [];
const conns: NatsConnection[] = [];

beforeAll(async () => {
  delete process.env.SOPHONT_NATS_URL;
  delete process.env.SOPHONT_NATS_PASSWORD;
  rt = await openRuntime(loadConfig({ home }, {}));
  await rt.store.append([pending(inputReceived("agent-cli-1"))]);
  const handle = async (r: { sender: string; command: unknown }) => (received.push({ sender: r.sender, command: r.command }), []);
  serveCommands(rt.nc, [{ def: ApproveMitosis, handle }, { def: DeclineMitosis, handle }]);
}, 60_000);
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  await rt?.close();
  rmSync(home, { recursive: true, force: true });
});

/** The request rows of the README's "NATS users" section: subject and payload, as printed. */
const readmeRequests = (): Array<{ subject: string; payload: string }> => {
  const section = readme.slice(readme.indexOf("### NATS users"), readme.indexOf("## Operating it"));
  return [...section.matchAll(/^\| `(sophont\.cmd\.[a-z.]+)` \| `(\{.*\})` \|/gm)].map((m) => ({ subject: m[1]!, payload: m[2]! }));
};

describe("sophont agent add / revoke", () => {
  let creds: { user: string; password: string; url: string; read: { apiPrefix: string; consumer: string } };
  let alice: NatsConnection;

  it("adds an agent to a running server, which reloads and accepts it at once", async () => {
    const r = io();
    expect(await main(["agent", "add", "alice", "--home", home], r.io), r.err.join("\n")).toBe(0);
    creds = JSON.parse(readFileSync(join(home, "agents", "alice.json"), "utf8"));
    alice = await connect({ servers: creds.url, user: creds.user, pass: creds.password });
    conns.push(alice);
    const c = await jetstream(alice, { apiPrefix: creds.read.apiPrefix }).consumers.get(EVENT_STREAM, creds.read.consumer);
    const m = await c.next({ expires: 3000 });
    expect(m?.json<{ type: string }>().type).toBe("InputReceived");
    m!.ack();
  }, 60_000);

  it("accepts the README's agent requests exactly as printed, with the server's sender", async () => {
    const rows = readmeRequests();
    expect(rows.map((r) => r.subject).sort()).toEqual([ApproveMitosis.subject, DeclineMitosis.subject]);
    for (const { subject, payload } of rows) {
      const reply = JSON.parse((await alice.request(subject, payload, { timeout: 5000 })).string());
      expect(reply).toEqual({ ok: true, events: [] });
      expect(received.at(-1)).toEqual({ sender: "agent:alice", command: JSON.parse(payload).command });
    }
  });

  it("revokes: the live connection is cut, a new one refused, the consumer gone", async () => {
    const closed = alice.closed();
    const r = io();
    expect(await main(["agent", "revoke", "alice", "--home", home], r.io), r.err.join("\n")).toBe(0);
    expect(r.out.join("\n")).toMatch(/disconnected it/);
    const how = await Promise.race([closed.then((e) => `closed: ${e?.message ?? "no error"}`), new Promise<string>((res) => setTimeout(() => res("still open"), 15_000))]);
    expect(how).toMatch(/^closed/);
    await expect(connect({ servers: creds.url, user: creds.user, pass: creds.password, reconnect: false })).rejects.toThrow(/Authorization Violation/);
    const jsm = await jetstreamManager(rt.nc);
    await expect(jsm.consumers.info(EVENT_STREAM, creds.read.consumer)).rejects.toThrow(/consumer not found/);
    const list = io();
    await main(["agent", "list", "--json", "--home", home], list.io);
    expect(JSON.parse(list.out.join("\n"))).toEqual([]);
  }, 60_000);
});

describe("a home from before per-agent accounts", () => {
  it("moves to the new credentials, says so once, and the old shared password no longer works", async () => {
    const old = mkdtempSync(join(tmpdir(), "sophont-agent-old-"));
    try {
      mkdirSync(join(old, "secrets"));
      mkdirSync(join(old, "agents"));
      writeFileSync(join(old, "secrets", "nats.json"), JSON.stringify({ soul: "pwsoulold", agent: "pwsharedagent", replica: "pwreplicaold" }));
      writeFileSync(join(old, "agents", "curator.json"), JSON.stringify({ name: "curator", url: "nats://127.0.0.1:4222", user: "agent", password: "pwsharedagent", headers: { "Sophont-Sender": "agent:curator" } }));
      const first = io();
      expect(await main(["agent", "list", "--home", old], first.io)).toBe(0);
      const said = [...first.out, ...first.err].join("\n");
      expect(said).toMatch(/NATS credentials upgraded.*curator/);
      const creds = JSON.parse(readFileSync(join(old, "agents", "curator.json"), "utf8"));
      expect(creds).toMatchObject({ name: "curator", user: "agent-curator", url: "nats://127.0.0.1:4222" });
      expect(creds.password).not.toBe("pwsharedagent");
      const secrets = JSON.parse(readFileSync(join(old, "secrets", "nats.json"), "utf8"));
      expect(secrets).toMatchObject({ soul: "pwsoulold", replica: "pwreplicaold" });
      expect(secrets.agent).toBeUndefined();
      const second = io();
      expect(await main(["agent", "list", "--home", old], second.io)).toBe(0);
      expect([...second.out, ...second.err].join("\n")).not.toMatch(/upgraded/);
      expect(second.out.join("\n")).toMatch(/curator  user agent-curator/);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });
});
