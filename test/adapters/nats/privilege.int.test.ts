import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { ObjectContentStore } from "../../../adapters/nats/content-store.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { serveCommands } from "../../../adapters/nats/commands.ts";
import { IMPORTED_API, REPLICA_ACCOUNT } from "../../../adapters/nats/accounts.ts";
import { ensureEventMirror } from "../../../adapters/nats/mirror.ts";
import { ApproveMitosis, DeclineMitosis } from "../../../events/commands.ts";
import { CONTENT_BUCKET, EVENT_STREAM } from "../../../events/subjects.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultNatsConf } from "../../../adapters/nats/server.ts";
import { INCLUDED_FILES, natsServerVersion, writeServerConfig } from "../../../adapters/nats/server-config.ts";
import { newAgentIdentity } from "../../../adapters/nats/agents.ts";
import { collect, inputReceived, pending } from "../../support/events.ts";

// A hostile outside agent and a hostile replica, as real nats.js clients against the real server with
// Sophont's nats.conf: everything the probe of issue 16 did is tried, and what the server answered is
// asserted (and printed, for the report).

const CANARY = "bank PIN 4921-canary-do-not-leak";
const enc = new TextEncoder();
const dec = new TextDecoder();
let nats: TestNats;
let soul: NatsConnection;
let jsm: JetStreamManager;
const senders: string[] = [];
const answers: Record<string, string> = {};

/** Sends a raw request and returns what came back: the payload, or the error the client saw. */
const ask = async (nc: NatsConnection, subject: string, body: unknown = "", timeout = 1500): Promise<string> => {
  try {
    const m = await nc.request(subject, typeof body === "string" ? body : JSON.stringify(body), { timeout });
    return m.string();
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
};
const record = (who: string, probe: string, answer: string) => {
  answers[`${who}: ${probe}`] = answer;
  return answer;
};
/** The server's asynchronous permission errors of a connection. */
const violations = (nc: NatsConnection): string[] => {
  const out: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error") out.push(String((s as { error?: Error }).error?.message));
  })();
  return out;
};

/** Everything a connection receives on `>` and `_INBOX.>` while `during` runs. */
const overhear = async (nc: NatsConnection, during: () => Promise<void>): Promise<Msg[]> => {
  const got: Msg[] = [];
  const subs = [">", "_INBOX.>"].map((s) => nc.subscribe(s, { callback: (_e, m) => void got.push(m) }));
  await nc.flush();
  await during();
  await new Promise((r) => setTimeout(r, 300));
  subs.forEach((s) => s.unsubscribe());
  return got;
};

/** What the Soul's side does that carries raw text: put it in the content store, read it back, read the log. */
const soulWork = async () => {
  const content = new ObjectContentStore(soul);
  const sha = await content.put(enc.encode(CANARY));
  expect(dec.decode((await content.get(sha))!)).toBe(CANARY);
  const store = new JetStreamEventStore(soul);
  await store.append([pending(inputReceived(`canary-${Date.now()}`))]);
  await collect(store.read({}));
  store.close();
};

beforeAll(async () => {
  nats = await startTestNats();
  soul = await nats.connect("soul");
  jsm = await jetstreamManager(soul);
  const store = new JetStreamEventStore(soul);
  await store.append([pending(inputReceived("priv-1")), pending(inputReceived("priv-2"))]);
  store.close();
  // The actors' durable consumers, as ActorHost makes them.
  for (const durable of ["actor-soul", "actor-salience"]) await jsm.consumers.add(EVENT_STREAM, { durable_name: durable, ack_policy: AckPolicy.Explicit, ack_wait: 30e9 });
  serveCommands(soul, [
    { def: ApproveMitosis, handle: async (r) => (senders.push(r.sender), []) },
    { def: DeclineMitosis, handle: async (r) => (senders.push(r.sender), []) },
  ]);
});
afterAll(async () => {
  // eslint-disable-next-line no-console
  console.log("what the server answered the hostile clients:\n" + Object.entries(answers).map(([k, v]) => `  ${k} -> ${v}`).join("\n"));
  await nats?.stop();
});

const actorConsumersUnchanged = async () => {
  const soulC = await jsm.consumers.info(EVENT_STREAM, "actor-soul");
  expect(soulC.delivered.stream_seq).toBe(0);
  expect(soulC.ack_floor.stream_seq).toBe(0);
  const sal = await jsm.consumers.info(EVENT_STREAM, "actor-salience");
  expect(sal.config.ack_wait).toBe(30e9);
  expect(sal.config.max_deliver ?? -1).toBe(-1);
};

describe("a hostile outside agent (its own account)", () => {
  it("overhears nothing on _INBOX.> or >, so the canary never reaches it", async () => {
    const agent = await nats.connect("agent");
    const got = await overhear(agent, soulWork);
    record("agent", "subscribe > and _INBOX.> during a put/get of the canary and a read of the log", `${got.length} messages`);
    expect(got).toHaveLength(0);
  });

  it("cannot reach the content store or any JetStream API but its consumer's", async () => {
    const agent = await nats.connect("agent");
    const info = record("agent", "$JS.API.STREAM.INFO.OBJ_sophont_content", await ask(agent, `$JS.API.STREAM.INFO.OBJ_${CONTENT_BUCKET}`));
    expect(info).toMatch(/JetStream not enabled for account/);
    const get = record("agent", "$JS.API.STREAM.MSG.GET.OBJ_sophont_content", await ask(agent, `$JS.API.STREAM.MSG.GET.OBJ_${CONTENT_BUCKET}`, { last_by_subj: `$O.${CONTENT_BUCKET}.C.>` }));
    expect(get).toMatch(/JetStream not enabled for account/);
    const viaPrefix = record("agent", `${IMPORTED_API}.STREAM.INFO.OBJ_sophont_content`, await ask(agent, `${IMPORTED_API}.STREAM.INFO.OBJ_${CONTENT_BUCKET}`));
    expect(viaPrefix).toMatch(/no responders|timeout/i);
    const os = await new Objm(agent).open(CONTENT_BUCKET).then(() => "opened", (e: Error) => e.message);
    record("agent", "Objm.open(sophont_content)", os);
    expect(os).not.toBe("opened");
  });

  it("cannot pull, ack, update or impersonate an actor's consumer, nor create one", async () => {
    const agent = await nats.connect("agent");
    for (const [probe, subject, body] of [
      ["pull actor-soul", `$JS.API.CONSUMER.MSG.NEXT.${EVENT_STREAM}.actor-soul`, { batch: 1, expires: 1e9 }],
      ["pull actor-soul via the imported prefix", `${IMPORTED_API}.CONSUMER.MSG.NEXT.${EVENT_STREAM}.actor-soul`, { batch: 1, expires: 1e9 }],
      ["update actor-salience (ack_wait 1 s, max_deliver 1)", `$JS.API.CONSUMER.DURABLE.CREATE.${EVENT_STREAM}.actor-salience`, { stream_name: EVENT_STREAM, config: { durable_name: "actor-salience", ack_policy: "explicit", ack_wait: 1e9, max_deliver: 1 } }],
      ["create a durable named actor-soul", `$JS.API.CONSUMER.CREATE.${EVENT_STREAM}.actor-soul`, { stream_name: EVENT_STREAM, config: { name: "actor-soul", durable_name: "actor-soul", ack_policy: "none" } }],
      ["create an ephemeral consumer delivering to sophont.cmd.mitosis.approve", `$JS.API.CONSUMER.CREATE.${EVENT_STREAM}`, { stream_name: EVENT_STREAM, config: { ack_policy: "none", deliver_subject: "sophont.cmd.mitosis.approve" } }],
    ] as const) {
      const a = record("agent", probe, await ask(agent, subject, body));
      expect(a).toMatch(/JetStream not enabled for account|no responders|timeout/i);
    }
    // A forged ack of the Soul's next message goes nowhere.
    agent.publish(`$JS.ACK.${EVENT_STREAM}.actor-soul.1.1.1.0.0`, "+ACK");
    await agent.flush();
    await actorConsumersUnchanged();
  });

  it("cannot publish an event: neither through JetStream nor by a plain publish", async () => {
    const agent = await nats.connect("agent");
    const before = (await jsm.streams.info(EVENT_STREAM)).state.last_seq;
    const h = headers();
    h.set("Nats-Msg-Id", "agent-forgery");
    const viaJs = await jetstream(agent).publish("sophont.evt.night.forged", "{}", { headers: h, timeout: 1500 }).then((a) => `acked seq ${a.seq}`, (e: Error) => `${e.name}: ${e.message}`);
    record("agent", "jetstream publish sophont.evt.night.forged", viaJs);
    expect(viaJs).not.toMatch(/acked/);
    agent.publish("sophont.evt.night.forged", "{}");
    await agent.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect((await jsm.streams.info(EVENT_STREAM)).state.last_seq).toBe(before);
    record("agent", "plain publish sophont.evt.night.forged", "stream unchanged (the subject exists only in the agent's own account)");
  });

  it("is recorded as the sender the server authenticated, whatever headers it writes", async () => {
    const agent = await nats.connect("agent");
    const h = headers();
    h.set("Sophont-Sender", "cli:root");
    h.set("Nats-Request-Info", JSON.stringify({ acc: "SOPHONT", user: "soul" }));
    const r = await agent.request("sophont.cmd.mitosis.approve", JSON.stringify({ id: "spoof-1", command: { type: "ApproveMitosis", proposalId: "p1" } }), { headers: h, timeout: 3000 });
    record("agent", "approve with Sophont-Sender: cli:root and a forged Nats-Request-Info", `${r.string()}; recorded sender ${senders.at(-1)}`);
    expect(JSON.parse(r.string())).toMatchObject({ ok: true });
    expect(senders.at(-1)).toBe("agent:tester");
    // Another agent's subject, and the Soul-only commands: nobody answers.
    for (const subject of ["sophont.cmd.agent.other.mitosis.approve", "sophont.cmd.night.start", "sophont.cmd.input.forget"]) {
      const a = record("agent", `request ${subject}`, await ask(agent, subject, "{}"));
      expect(a).toMatch(/no responders|503|timeout/i);
    }
  });

  it("reads the events through its own exported consumer and acks them", async () => {
    const agent = await nats.connect("agent");
    const c = await jetstream(agent, { apiPrefix: IMPORTED_API }).consumers.get(EVENT_STREAM, nats.agent.name === "tester" ? "agent-tester" : "");
    const seen: string[] = [];
    const batch = await c.fetch({ max_messages: 100, expires: 2000 });
    for await (const m of batch) {
      seen.push(m.string());
      await m.ackAck();
      if (m.info.pending === 0) break;
    }
    record("agent", "fetch from its consumer agent-tester", `${seen.length} events, acked`);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.join("\n")).not.toContain(CANARY);
    expect((await c.info()).ack_floor.stream_seq).toBeGreaterThanOrEqual(2);
  });
});

describe("a hostile replica (its own account, a mirror of the events)", () => {
  it("overhears nothing of the Soul's account", async () => {
    const replica = await nats.connect("replica");
    await ensureEventMirror(replica, REPLICA_ACCOUNT);
    const got = await overhear(replica, soulWork);
    // Its mirror's feed reaches it (events, which it may read), and nothing else of the Soul's account. Its own
    // account's JetStream audits its own calls ($JS.EVENT.ADVISORY.API, client.acc REPLICA): the advisory of
    // ensureEventMirror's last STREAM.INFO can arrive after the subscription on a loaded machine (a CI run did).
    const ownAudit = (m: Msg) => m.subject.startsWith("$JS.EVENT.ADVISORY.") && (m.json() as { client?: { acc?: string } }).client?.acc === REPLICA_ACCOUNT;
    const leaked = got.filter((m) => !m.subject.startsWith("sophont.mirror.replica.") && !m.subject.startsWith("sophont.evt.") && !ownAudit(m));
    record("replica", "subscribe > and _INBOX.> during a put/get of the canary", `${got.length} messages: ${[...new Set(got.map((m) => m.subject.split(".").slice(0, 4).join(".")))].join(", ")}`);
    expect(leaked.map((m) => m.subject)).toEqual([]);
    expect(got.map((m) => m.string()).join("\n")).not.toContain(CANARY);
  });

  it("rebuilds from its mirror: every event, and nothing of the content store", async () => {
    const replica = await nats.connect("replica");
    await ensureEventMirror(replica, REPLICA_ACCOUNT);
    const events = await collect(new JetStreamEventStore(replica).read({}));
    expect(events.length).toBe((await jsm.streams.info(EVENT_STREAM)).state.messages);
    const os = await new Objm(replica).open(CONTENT_BUCKET).then(() => "opened", (e: Error) => e.message);
    record("replica", "Objm.open(sophont_content)", os);
    expect(os).not.toBe("opened");
    const get = record("replica", `${IMPORTED_API}.STREAM.MSG.GET.OBJ_sophont_content`, await ask(replica, `${IMPORTED_API}.STREAM.MSG.GET.OBJ_${CONTENT_BUCKET}`, { seq: 1 }));
    expect(get).toMatch(/Permissions Violation|no responders|timeout/i);
  });

  it("cannot touch the actors' consumers, create consumers on the origin or publish events", async () => {
    const replica = await nats.connect("replica");
    const errs = violations(replica);
    // Its own JetStream answers: the names exist only in its account.
    const pull = record("replica", "pull actor-soul", await ask(replica, `$JS.API.CONSUMER.MSG.NEXT.${EVENT_STREAM}.actor-soul`, { batch: 1, no_wait: true }));
    expect(pull).toMatch(/consumer not found|no responders|timeout|404/i);
    const dur = record("replica", "create a durable named actor-soul", await ask(replica, `$JS.API.CONSUMER.DURABLE.CREATE.${EVENT_STREAM}.actor-soul`, { stream_name: EVENT_STREAM, config: { durable_name: "actor-soul", ack_policy: "explicit" } }));
    record("replica", "(where it went)", "its own mirror; the Soul's actor-soul is untouched");
    expect(dur).toBeTruthy();
    const origin = record("replica", `${IMPORTED_API}.CONSUMER.CREATE.SOPHONT_EVENTS (deliver to sophont.cmd.mitosis.approve)`, await ask(replica, `${IMPORTED_API}.CONSUMER.CREATE.${EVENT_STREAM}`, { stream_name: EVENT_STREAM, config: { ack_policy: "none", deliver_subject: "sophont.cmd.mitosis.approve" } }));
    expect(origin).toMatch(/Permissions Violation/);
    replica.publish(`$JS.ACK.${EVENT_STREAM}.actor-soul.1.1.1.0.0`, "+ACK");
    replica.publish("sophont.evt.night.forged", "{}");
    await replica.flush();
    await new Promise((r) => setTimeout(r, 200));
    await actorConsumersUnchanged();
    record("replica", "publish sophont.evt.night.forged", errs.join("; ") || "(no error)");
    expect(errs.join("\n")).toMatch(/Permissions Violation for Publish to "sophont.evt.night.forged"/);
  });

  it("cannot point a mirror's deliveries into the Soul's subjects", async () => {
    const replica = await nats.connect("replica");
    const rjsm = await jetstreamManager(replica);
    const heard: string[] = [];
    const subs = ["sophont.>", "$KV.>"].map((subject) => soul.subscribe(subject, { callback: (_e, m) => void heard.push(m.subject) }));
    const kvBefore = (await jsm.streams.info("KV_sophont_checkpoints")).state.messages;
    const second = await rjsm.streams.add({ name: "HOSTILE_2", subjects: ["h.>"] }).then(() => "created", (e: Error) => e.message);
    record("replica", "a second stream beside its mirror", second);
    expect(second).toMatch(/maximum number of streams reached/);
    // It may drop its own mirror and make another, pointed elsewhere: nothing reaches SOPHONT's subjects.
    await rjsm.streams.delete(EVENT_STREAM);
    for (const [name, deliver] of [["HOSTILE_CMD", "sophont.cmd"], ["HOSTILE_KV", "$KV.sophont_checkpoints"], ["HOSTILE_EVT", "sophont.evt"]] as const) {
      const made = await rjsm.streams.add({ name, mirror: { name: EVENT_STREAM, external: { api: IMPORTED_API, deliver } } }).then(() => "created in its own account", (e: Error) => e.message);
      await new Promise((r) => setTimeout(r, 700));
      const si = await rjsm.streams.info(name);
      record("replica", `mirror with deliver prefix ${deliver}`, `${made}; ${si.state.messages} messages reached it; origin says: ${si.mirror?.error?.description ?? "no error"}`);
      expect(si.state.messages).toBe(0);
      await rjsm.streams.delete(name);
    }
    await ensureEventMirror(replica, REPLICA_ACCOUNT);
    subs.forEach((s) => s.unsubscribe());
    expect(heard.filter((s) => s.startsWith("sophont.cmd") || s.startsWith("$KV."))).toEqual([]);
    expect((await jsm.streams.info("KV_sophont_checkpoints")).state.messages).toBe(kvBefore);
  });
});

describe("the MCP server's identity", () => {
  it("is recorded as mcp, and nobody in the Soul's account can send as mcp or as an agent", async () => {
    const mcp = await nats.connect("mcp");
    const r = await mcp.request("sophont.cmd.mitosis.decline", JSON.stringify({ id: "mcp-1", command: { type: "DeclineMitosis", proposalId: "p2", reason: "not a field" } }), { timeout: 3000 });
    expect(JSON.parse(r.string())).toMatchObject({ ok: true });
    expect(senders.at(-1)).toBe("mcp");
    const local = await nats.connect("soul");
    for (const subject of ["sophont.cmd.mcp.mitosis.approve", "sophont.cmd.agent.tester.mitosis.approve"]) {
      const a = record("soul", `request ${subject}`, await ask(local, subject, JSON.stringify({ id: "x", command: { type: "ApproveMitosis", proposalId: "p3" } })));
      expect(a).toMatch(/Permissions Violation for Publish/);
    }
    expect(senders.at(-1)).toBe("mcp");
  });
});

describe("the accounts config", () => {
  it("refuses to start where one agent imports another's export", () => {
    const dir = mkdtempSync(join(tmpdir(), "sophont-accounts-"));
    try {
      const conf = writeServerConfig(dir, defaultNatsConf, [newAgentIdentity("alice")], natsServerVersion()!);
      const env = { ...process.env, SOPHONT_NATS_HOST: "127.0.0.1", SOPHONT_NATS_PORT: "4999", SOPHONT_NATS_STORE: join(dir, "s"), SOPHONT_SOUL_PASSWORD: "a", SOPHONT_REPLICA_PASSWORD: "b", SOPHONT_MCP_PASSWORD: "c" };
      expect(spawnSync("nats-server", ["-c", conf, "-t"], { env, encoding: "utf8" }).status).toBe(0);
      appendFileSync(join(dir, INCLUDED_FILES.agents), 'AGENT_mallory {\n  users: [ { user: "agent-mallory", password: "pwx" } ]\n  imports: [ { service: { account: SOPHONT, subject: "sophont.cmd.agent.alice.>" }, to: "sophont.cmd.>" } ]\n}\n');
      const t = spawnSync("nats-server", ["-c", conf, "-t"], { env, encoding: "utf8" });
      record("config", "agent mallory imports alice's commands", (t.stderr + t.stdout).trim());
      expect(t.status).not.toBe(0);
      expect(t.stderr + t.stdout).toMatch(/service import not authorized/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
