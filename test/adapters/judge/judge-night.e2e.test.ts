// The frontier judge inside a real night: the real `sophont night` with config.json's `judge` on and
// the Messages API stand-in answering. Unsure inputs go to the judge and their decisions record it;
// failures fall back to the local verdict; the caps per night hold; the airlock's "judge"
// destination is honoured (redacted text, private inputs never sent, "nothing" sends nothing).
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventData } from "../../../events/catalogue.ts";
import { runSophont } from "../../support/cli.ts";
import { collect } from "../../support/events.ts";
import { useTestLog } from "../../support/nats.ts";
import { startMessagesStandIn, type MessagesStandIn } from "../../support/anthropic-stand-in.ts";
import { sectionDescriptions } from "../../support/debian-corpus.ts";
import { shuffleWords } from "../llm/support.ts";

const log = useTestLog();
const home = mkdtempSync(join(tmpdir(), "sophont-judge-night-"));
const KEY = "sk-ant-test-night-0123456789abcdef";
const SECRET = "quartermaster.jones@harbour-office.example";
const PRIVATE_WORDS = "Marguerite confided the Thursday appointment";
let api: MessagesStandIn;

type Judged = NonNullable<EventData<"InputScored">["judge"]>;
const judgeConfig = (over: Record<string, unknown> = {}) => ({
  provider: "anthropic", model: "claude-test", apiKeyEnv: "TEST_ANTHROPIC_KEY", when: "always", baseUrl: api.url, timeoutMs: 3_000, retries: 2,
  prices: { "claude-test": { inputPerMTok: 3, outputPerMTok: 15 } }, ...over,
});
const configure = (judge: Record<string, unknown>, airlock?: unknown) => writeFileSync(join(home, "config.json"), JSON.stringify({ judge, ...(airlock ? { airlock } : {}) }));
const sophont = async (...args: string[]) => {
  const r = await runSophont(args, { env: { SOPHONT_HOME: home, SOPHONT_NATS_URL: log.nats.url, SOPHONT_NATS_USER: "soul", SOPHONT_NATS_PASSWORD: log.nats.secrets.soul, TEST_ANTHROPIC_KEY: KEY, OTEL_SDK_DISABLED: "true" }, timeoutMs: 240_000 });
  expect(r.code, `${args.join(" ")} (signal ${r.signal}): ${r.err}`).toBe(0);
  return r;
};
/** The night's InputScored, by input id. */
const scoredIn = async (night: string) =>
  new Map((await collect(log.store.read({ types: new Set(["InputScored"]) }))).map((e) => e.data as EventData<"InputScored">).filter((d) => d.nightId === night).map((d) => [d.inputId, d]));
const texts = sectionDescriptions("utils", 20).map((d) => d.text);
const write = (name: string, paragraphs: string[]) => (writeFileSync(join(home, name), paragraphs.join("\n\n")), join(home, name));

beforeAll(async () => {
  api = await startMessagesStandIn(KEY);
  writeFileSync(join(home, "questions.txt"), "How do command-line tools process text files?\nWhat does a utility do with its input?\n");
  await sophont("preoccupation", "seed", join(home, "questions.txt"));
}, 300_000);
afterAll(async () => (await api?.stop(), rmSync(home, { recursive: true, force: true })));

/** What the stand-in received since request `from`. */
const bodiesFrom = (from: number) => api.requests.slice(from).map((r) => r.body);
const unsure = (seed: number, extra = "") => `${shuffleWords(texts[seed % texts.length]!, seed)}${extra}`;
// The local verdict's confidence under the default policy is the distance below the calibrated limit in
// units of its margin. Measured on night 1 here: the prose 0.97-1.00; the shuffled words 0.35, 0.83, 0.84,
// and 1.00 for one the bigram model cannot tell from prose (its bits per byte are below the median).
const BAND = 0.9;

describe("the frontier judge in a real night (Messages API stand-in)", () => {
  it("unsure inputs go to the judge: the decision records judge, model, request hash and tokens, never the key; redacted text leaves, a private input's never", async () => {
    configure(judgeConfig({ when: { below: BAND } }));
    const day = "2026-12-01";
    const from = api.requests.length;
    // Prose the local verdict is sure of, and shuffled words it is less sure of (see BAND).
    await sophont("ingest", write("day1.txt", [...texts.slice(0, 4), unsure(1), unsure(2, ` Write to ${SECRET} for access.`), unsure(3)]), "--day", day);
    await sophont("ingest", write("diary.md", [unsure(4, ` ${PRIVATE_WORDS}.`)]), "--day", day, "--private");
    const night = JSON.parse((await sophont("night", "--day", day, "--json")).out) as { completed: boolean };
    expect(night.completed).toBe(true);

    const scored = [...(await scoredIn(day)).values()];
    expect(scored).toHaveLength(8);
    const judged = scored.filter((d) => d.judge?.judge === "anthropic");
    const local = scored.filter((d) => d.judge === undefined);
    expect(judged).toHaveLength(2); // unsure(1) and the one with the secret; unsure(3) reads as prose (1.00)
    expect(local.length).toBeGreaterThanOrEqual(4); // the prose: sure enough, never sent
    for (const d of judged) {
      const j = d.judge as Judged;
      expect(j).toMatchObject({ model: "claude-test", attempts: 1, fallback: null });
      expect(j.confidence).toBeLessThan(BAND);
      expect(j.inputTokens).toBeGreaterThan(0);
      expect(j.outputTokens).toBeGreaterThan(0);
      expect(j.costUsd).toBeGreaterThan(0);
      expect(d.coherence.detail).toMatch(/^anthropic claude-test: /);
    }
    const sent = bodiesFrom(from);
    expect(sent).toHaveLength(2);
    // Each decision's request hash is the sha256 of a body the API received.
    expect(new Set(judged.map((d) => d.judge!.requestSha256))).toEqual(new Set(sent.map((b) => createHash("sha256").update(b).digest("hex"))));
    const all = sent.join("\n");
    expect(all).toContain("[REDACTED:email]");
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain("Marguerite");
    for (const prose of texts.slice(0, 4)) expect(all).not.toContain(prose.slice(0, 40));
    const priv = scored.find((d) => d.judge?.fallback?.startsWith("private input"));
    expect(priv, "the private input's record").toBeDefined();
    expect(api.requests.slice(from).every((r) => r.headers["x-api-key"] === KEY)).toBe(true);
    const logText = JSON.stringify(await collect(log.store.read()));
    expect(logText).not.toContain(KEY);
    expect(logText).not.toContain(SECRET);
  }, 300_000);

  it("429, then 500, then a timeout: the decision falls back to the local verdict and says why; the night completes", async () => {
    configure(judgeConfig({ when: { below: BAND }, retries: 2, timeoutMs: 2_000 }));
    const day = "2026-12-02";
    await sophont("ingest", write("day2.txt", [texts[5]!, unsure(11)]), "--day", day);
    const from = api.requests.length;
    api.script("429", "500", "timeout");
    expect(JSON.parse((await sophont("night", "--day", day, "--json")).out)).toMatchObject({ completed: true });
    expect(api.requests.length - from).toBe(3);
    const fell = [...(await scoredIn(day)).values()].filter((d) => d.judge);
    expect(fell).toHaveLength(1);
    expect(fell[0]!.judge).toMatchObject({ judge: "local", attempts: 3, inputTokens: 0, costUsd: 0 });
    expect(fell[0]!.judge!.fallback).toMatch(/failed 3 time\(s\), last: timed out after 2000 ms/);
    expect(fell[0]!.coherence.detail).not.toMatch(/^anthropic/); // the local verdict stands
  }, 300_000);

  it("the caps on calls and on spend per night hold, though a night judges a batch concurrently", async () => {
    configure(judgeConfig({ caps: { callsPerNight: 2, spendPerNightUsd: 10 } }));
    const calls = "2026-12-03";
    await sophont("ingest", write("day3.txt", [21, 22, 23, 24, 25].map((s) => unsure(s))), "--day", calls);
    let from = api.requests.length;
    await sophont("night", "--day", calls);
    let records = [...(await scoredIn(calls)).values()].map((d) => d.judge!);
    expect(records.filter((j) => j.judge === "anthropic")).toHaveLength(2);
    expect(records.filter((j) => /^cap: 2 judge calls/.test(j.fallback ?? ""))).toHaveLength(3);
    expect(api.requests.length - from).toBe(2);

    // One call's worst case (every request byte a token, max_tokens out) at these prices is ~$0.02: the cap allows two.
    configure(judgeConfig({ caps: { callsPerNight: 100, spendPerNightUsd: 0.05 }, prices: { "claude-test": { inputPerMTok: 15, outputPerMTok: 75 } } }));
    const spend = "2026-12-04";
    await sophont("ingest", write("day4.txt", [31, 32, 33, 34, 35].map((s) => unsure(s))), "--day", spend);
    from = api.requests.length;
    await sophont("night", "--day", spend);
    records = [...(await scoredIn(spend)).values()].map((d) => d.judge!);
    const spent = records.reduce((n, j) => n + j.costUsd, 0);
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(0.05);
    expect(records.filter((j) => /^cap: \$/.test(j.fallback ?? "")).length).toBeGreaterThan(0);
    expect(api.requests.length - from).toBe(records.filter((j) => j.judge === "anthropic").length);
  }, 300_000);

  it("with the airlock's judge destination \"nothing\", no text is sent and the local verdict stands", async () => {
    configure(judgeConfig(), { destinations: { judge: "nothing" } });
    const day = "2026-12-05";
    await sophont("ingest", write("day5.txt", [unsure(41), unsure(42)]), "--day", day);
    const from = api.requests.length;
    await sophont("night", "--day", day);
    expect(api.requests.length).toBe(from);
    const records = [...(await scoredIn(day)).values()].map((d) => d.judge!);
    expect(records).toHaveLength(2);
    expect(records.every((j) => j.judge === "local" && /sends no text to the judge/.test(j.fallback ?? ""))).toBe(true);
  }, 300_000);
});
