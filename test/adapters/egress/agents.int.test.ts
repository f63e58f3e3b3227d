// Derived text reaches outside agents through the consumer the Soul made for them: a hostile agent
// (nats.js, its own account) reads every event it is given and looks for the planted secret and
// for anything derived from a private input.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { defaultPolicy } from "../../../actors/salience/salience.policy.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { Egress } from "../../../adapters/egress/egress.ts";
import { sealedStore, WITHHELD } from "../../../adapters/egress/derived.ts";
import { airlockFrom } from "../../../adapters/egress/policy.ts";
import { agentConsumer, IMPORTED_API } from "../../../adapters/nats/accounts.ts";
import { EVENT_STREAM } from "../../../events/subjects.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";

let nats: TestNats;
let store: JetStreamEventStore;
let agent: NatsConnection;
const SECRET = "captain.hook@jolly-roger.example";
const KEY = "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm";
const models = { model: "m".repeat(64), adapter: null, embedder: "e".repeat(64) };

const scored = (inputId: string, question: string): DomainEvent => ({
  type: "InputScored",
  data: {
    inputId, nightId: "2026-11-24", perplexity: 3, meanNll: 1.1, tokenCount: 20, surprise: 0.5, baseline: { mean: 1, std: 0.2, samples: 10 },
    coherence: { coherent: true, method: "model", detail: `the text names ${SECRET} consistently` },
    hallucination: null,
    question: { text: question, method: "model", vector: [0.6, 0.8] },
    similarity: { preoccupation: 0.5, satellites: [], nearest: "preoccupation", nearestSimilarity: 0.5 },
    models, policy: defaultPolicy, bytes: null, bitsPerByte: null, domain: null, calibration: null,
  },
});
const rejected = (inputId: string, reason: string): DomainEvent => ({
  type: "InputRejected",
  data: { inputId, nightId: "2026-11-24", reason, policy: defaultPolicy, models, cause: "off-topic", nearest: "preoccupation", similarity: 0.1, questionVector: [0.6, 0.8] },
});

const meta = (id: string) => ({ id, time: new Date().toISOString(), actor: "salience", causationId: null, correlationId: "t" });

/** Everything the agent's consumer hands it, as the raw bytes it receives. */
const agentReads = async (n: number): Promise<string[]> => {
  const js = jetstream(agent, { apiPrefix: IMPORTED_API });
  const c = await js.consumers.get(EVENT_STREAM, agentConsumer(nats.agent.name));
  const out: string[] = [];
  while (out.length < n) {
    const batch = await c.fetch({ max_messages: n - out.length, expires: 5_000 });
    for await (const m of batch) (out.push(new TextDecoder().decode(m.data)), m.ack());
    if (out.length === 0) break;
  }
  return out;
};

beforeAll(async () => {
  nats = await startTestNats();
  store = new JetStreamEventStore(await nats.connect());
  agent = await nats.connect("agent");
}, 60_000);
afterAll(async () => (store?.close(), await nats?.stop()));

describe("derived text that reaches agents (a hostile nats.js agent on its own consumer)", () => {
  it("arrives redacted by default, withheld for private inputs, and raw only when the policy says so", async () => {
    const egress = new Egress(store, airlockFrom(undefined), { privateInputs: new Set(["private-1"]) });
    const sealed = sealedStore(store, egress, { remote: false });
    await sealed.append([{ event: scored("public-1", `Who answers mail at ${SECRET}?`), metadata: meta("a1") }]);
    await sealed.append([{ event: rejected("public-1", `off topic: mentions key ${KEY}`), metadata: meta("a2") }]);
    await sealed.append([{ event: scored("private-1", "What did the diary say about Tuesday?"), metadata: meta("a3") }]);
    const reads = await agentReads(3);
    expect(reads).toHaveLength(3);
    const all = reads.join("\n");
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain("jolly-roger");
    expect(all).not.toContain(KEY);
    expect(all).not.toContain("diary");
    expect(all).toContain("[REDACTED:email]");
    const priv = JSON.parse(reads[2]!) as { data: { question: { text: string | null; vector: number[] }; coherence: { detail: string } } };
    expect(priv.data.question).toEqual({ text: null, method: "model", vector: [0.6, 0.8] });
    expect(priv.data.coherence.detail).toBe(WITHHELD);
    // The Soul's own reads hold the same sealed events: the log never had the raw derived text.
    const own = [];
    for await (const e of store.read({ types: new Set(["InputScored"]) })) own.push(JSON.stringify(e.data));
    expect(own.join("\n")).not.toContain(SECRET);
  }, 60_000);

  it("with agents: \"raw\", a public input's derived text arrives as it is (the policy changed what leaves); a private one's still does not", async () => {
    const egress = new Egress(store, airlockFrom({ destinations: { agents: "raw" } }), { privateInputs: new Set(["private-2"]) });
    const sealed = sealedStore(store, egress, { remote: false });
    await sealed.append([{ event: scored("public-2", `Who answers mail at ${SECRET}?`), metadata: meta("b1") }]);
    await sealed.append([{ event: scored("private-2", "What did the diary say about Wednesday?"), metadata: meta("b2") }]);
    const reads = await agentReads(2);
    expect(reads[0]).toContain(SECRET);
    expect(reads[1]).not.toContain("diary");
  }, 60_000);

  it("on a remote NATS server the stricter of agents and nats-remote applies", async () => {
    const egress = new Egress(store, airlockFrom({ destinations: { agents: "raw", "nats-remote": "nothing" } }));
    const sealed = sealedStore(store, egress, { remote: true });
    await sealed.append([{ event: rejected("public-3", `off topic: ${SECRET}`), metadata: meta("c1") }]);
    const [read] = await agentReads(1);
    expect(JSON.parse(read!).data.reason).toBe(WITHHELD);
  }, 60_000);
});
