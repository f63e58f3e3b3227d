// The frontier judge against a stand-in of the Messages API (real HTTP on loopback), through the
// egress module into a real nats-server's log.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData } from "../../../events/catalogue.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { Egress } from "../../../adapters/egress/egress.ts";
import { airlockFrom } from "../../../adapters/egress/policy.ts";
import { AnthropicJudge } from "../../../adapters/judge/anthropic.ts";
import { judgeFrom, JudgeConfigError } from "../../../adapters/judge/config.ts";
import { collect } from "../../support/events.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import { startMessagesStandIn, type MessagesStandIn } from "../../support/anthropic-stand-in.ts";

const KEY = "sk-ant-test-key-0123456789abcdef";
const SECRET = "quartermaster.jones@harbour-office.example";
let nats: TestNats;
let store: JetStreamEventStore;
let api: MessagesStandIn;

const config = (over: Record<string, unknown> = {}) =>
  judgeFrom({ provider: "anthropic", model: "claude-test", apiKeyEnv: "TEST_ANTHROPIC_KEY", when: "always", prices: { "claude-test": { inputPerMTok: 3, outputPerMTok: 15 } }, baseUrl: api.url, timeoutMs: 1_000, retries: 2, ...over })!;
const judgeWith = (over: Record<string, unknown> = {}, airlock?: unknown, privateInputs?: Set<string>) =>
  new AnthropicJudge(config(over), new Egress(store, airlockFrom(airlock), privateInputs ? { privateInputs } : {}), { env: { TEST_ANTHROPIC_KEY: KEY }, backoffMs: 20 });

beforeAll(async () => {
  nats = await startTestNats();
  store = new JetStreamEventStore(await nats.connect());
  api = await startMessagesStandIn(KEY);
}, 60_000);
afterAll(async () => (await api?.stop(), store?.close(), await nats?.stop()));

describe("the frontier judge (stand-in of the Messages API)", () => {
  it("gives the verdict, records model, request hash and tokens, and the planted secret never reaches the API", async () => {
    const before = api.requests.length;
    const v = await judgeWith().verdict("n1", "input-1", `The tide turned at noon. Write to ${SECRET} for charts.`, 0.05);
    expect(v).toMatchObject({ coherent: true, reason: "reads as plain English prose", record: { judge: "anthropic", model: "claude-test", attempts: 1, fallback: null } });
    expect(v.record.inputTokens).toBeGreaterThan(0);
    expect(v.record.costUsd).toBeGreaterThan(0);
    const sent = api.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).not.toContain(SECRET);
    expect(sent[0]!.body).toContain("[REDACTED:email]");
    const egress = (await collect(store.read({ types: new Set(["EgressRecorded"]) }))).map((e) => e.data as EventData<"EgressRecorded">).filter((e) => e.destination === "judge");
    expect(egress.at(-1)).toMatchObject({ destination: "judge", target: `${api.url}/v1/messages`, mode: "redacted", texts: 1, redactions: { email: 1 } });
    expect(egress.at(-1)!.sha256).toBe(v.record.requestSha256);
    const log = JSON.stringify(await collect(store.read()));
    expect(log).not.toContain(KEY);
    expect(log).not.toContain(SECRET);
  }, 30_000);

  it("retries 429, 500 and a timeout with backoff, then answers", async () => {
    api.script("429", "500", "timeout");
    const v = await judgeWith({ retries: 3 }).verdict("n2", "input-2", "The sails were reefed before the squall.", 0.1);
    expect(v.record).toMatchObject({ judge: "anthropic", attempts: 4 });
  }, 30_000);

  it("falls back to the local verdict after its retries, on an unparseable answer, for a private input, without a key, and past its caps", async () => {
    api.script("500", "500", "500");
    const failed = await judgeWith().verdict("n3", "input-3", "The anchor held.", 0.1);
    expect(failed.record).toMatchObject({ judge: "local", attempts: 3 });
    expect(failed.record.fallback).toMatch(/failed 3 time\(s\), last: HTTP 500/);
    api.script("garbage");
    expect((await judgeWith().verdict("n3", "input-4", "The anchor held fast.", 0.1)).record.fallback).toMatch(/did not parse/);
    const before = api.requests.length;
    const priv = await judgeWith({}, undefined, new Set(["secret-input"])).verdict("n3", "secret-input", "My diary entry for Tuesday.", 0.1);
    expect(priv.record.fallback).toMatch(/private input/);
    expect((await judgeWith({}, { destinations: { judge: "nothing" } }).verdict("n3", "input-5", "Plain text.", 0.1)).record.fallback).toMatch(/sends no text/);
    expect(api.requests.length).toBe(before);
    const noKey = new AnthropicJudge(config(), new Egress(store, airlockFrom(undefined)), { env: {} });
    expect((await noKey.verdict("n3", "input-6", "x", 0.1)).record.fallback).toMatch(/no API key in \$TEST_ANTHROPIC_KEY/);
    const capped = judgeWith({ caps: { callsPerNight: 2, spendPerNightUsd: 10 } });
    await capped.verdict("n4", "a", "The first text.", 0.1);
    await capped.verdict("n4", "b", "The second text.", 0.1);
    expect((await capped.verdict("n4", "c", "The third text.", 0.1)).record.fallback).toMatch(/cap: 2 judge calls/);
    expect((await capped.verdict("n5", "c", "The third text.", 0.1)).record.judge).toBe("anthropic");
    const poor = judgeWith({ caps: { callsPerNight: 100, spendPerNightUsd: 0.000001 } });
    await poor.verdict("n6", "a", "The first text.", 0.1);
    expect((await poor.verdict("n6", "b", "The second text.", 0.1)).record.fallback).toMatch(/cap: \$/);
  }, 60_000);

  it("is configured with a price for its model and a key variable, never a key", () => {
    expect(() => judgeFrom({ provider: "anthropic", model: "m", apiKeyEnv: "sk-ant-xyz", prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } } })).toThrow(/environment variable/);
    expect(() => judgeFrom({ provider: "anthropic", model: "m", apiKeyEnv: "K", prices: {} })).toThrow(/no price for m/);
    expect(() => judgeFrom({ provider: "openai", model: "m", apiKeyEnv: "K" })).toThrow(JudgeConfigError);
    expect(judgeFrom({ provider: "anthropic", model: "m", apiKeyEnv: "K", prices: { m: { inputPerMTok: 1, outputPerMTok: 5 } } })?.when).toEqual({ below: 0.2 });
  });
});
