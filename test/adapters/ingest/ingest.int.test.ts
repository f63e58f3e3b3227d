import { describe, expect, it } from "vitest";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { readInput } from "../../../adapters/ingest/known.ts";
import { inputIdOf } from "../../../adapters/ingest/parse.ts";
import { inputsSummary } from "../../../projections/inputs.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { useTestLog } from "../../support/nats.ts";
import { collect } from "../../support/events.ts";
import { soulDecider } from "../../../actors/soul/soul.decider.ts";

const log = useTestLog();

const files = [
  { path: "notes.txt", bytes: Buffer.from("The orbit of the moon.\n\nTides follow the moon.\n\nThe orbit of the moon.\n") },
  { path: "app.log", bytes: Buffer.from("boot ok\ndisk full\n") },
  { path: "blob.bin", bytes: new Uint8Array([1, 2, 0, 3]) },
  { path: "feed.jsonl", bytes: Buffer.from('{"text":"Tides follow the moon.","from":"feed"}\n{"oops":1}\n') },
];
const opts = { day: "2026-11-25", maxBytes: 10_000, correlationId: "t" };
const ingestOnce = async () => ingestFiles(log, files, opts);

describe("ingest", () => {
  it("takes inputs in once by content, counts repeats, refuses with reasons, keeps texts out of the log", async () => {
    const { store, content } = log;
    const s = await ingestOnce();
    expect(s).toMatchObject({ received: 4, repeated: 2, refused: 2, unchanged: 0 });
    const events = await collect(store.read());
    expect(events.map((e) => e.type).sort()).toEqual([...Array(4).fill("InputReceived"), ...Array(2).fill("InputRefused"), ...Array(2).fill("InputRepeated")].sort());
    const refusals = events.filter((e) => e.type === "InputRefused").map((e) => (e.type === "InputRefused" ? e.data.reason : ""));
    expect(refusals.sort()).toEqual(["binary", "malformed"]);
    // The text lives in the content store under its hash, never in an event.
    const received = events.find((e) => e.type === "InputReceived" && e.data.source.path === "app.log")!;
    const sha = (received.data as { contentSha256: string }).contentSha256;
    expect(Buffer.from((await content.get(sha))!).toString()).toBe("boot ok");
    for (const e of events) expect(JSON.stringify(e.data)).not.toContain("disk full");
  });

  it("appends nothing when the same files are ingested again", async () => {
    const { store } = log;
    const before = await store.lastSeq();
    const s = await ingestOnce();
    expect(s).toMatchObject({ received: 0, repeated: 0, refused: 0, unchanged: 8 });
    expect(await store.lastSeq()).toBe(before);
  });

  it("counts the same texts from another file as repeats, once", async () => {
    const { store, content } = log;
    const copy = [{ path: "copy.txt", bytes: files[0]!.bytes }];
    expect(await ingestFiles({ store, content }, copy, opts)).toMatchObject({ received: 0, repeated: 3, unchanged: 0 });
    expect(await ingestFiles({ store, content }, copy, opts)).toMatchObject({ received: 0, repeated: 0, unchanged: 3 });
    expect((await readInput(store, inputIdOf("The orbit of the moon.")))!.sources).toEqual(["notes.txt#0", "notes.txt#2", "copy.txt#0", "copy.txt#2"]);
  });

  it("summarises the intake by day, and reads one input's history from its own subject", async () => {
    const { store } = log;
    expect(await projectAt(store, inputsSummary, "now")).toEqual({
      received: 4, repeated: 5, refused: 2, forgotten: 0, refusedBy: { binary: 1, malformed: 1 },
      byDay: { "2026-11-25": { received: 4, repeated: 5, refused: 2, bytes: 22 + 22 + 7 + 9 } },
    });
    const moon = await readInput(store, inputIdOf("The orbit of the moon."));
    expect(moon).toMatchObject({ day: "2026-11-25", bytes: 22, forgotten: false });
    expect(moon!.sources).toEqual(["notes.txt#0", "notes.txt#2", "copy.txt#0", "copy.txt#2"]);
    expect((await readInput(store, inputIdOf("Tides follow the moon.")))!.sources).toEqual(["notes.txt#1", "feed.jsonl#0", "copy.txt#1"]);
    expect(await readInput(store, inputIdOf("never seen"))).toBeUndefined();
  });
});

describe("ingest of hostile records", () => {
  it("keeps only declared metadata fields in events; the rest is in the content store and forgotten with the text", async () => {
    const { store, content } = log;
    const record = JSON.stringify({ text: "A record with a private field.", email: "someone@example.org", tags: ["a", "b"], prompt: "Say something." });
    await ingestFiles(log, [{ path: "private.jsonl", bytes: Buffer.from(`${record}\n`) }], { ...opts, day: "2026-11-26" });
    const [received] = (await collect(store.read({ types: new Set(["InputReceived"]) }))).filter((e) => e.type === "InputReceived" && e.data.source.path === "private.jsonl");
    const meta = (received!.data as { source: { metadata: Record<string, unknown> } }).source.metadata;
    expect(Object.keys(meta).sort()).toEqual(["extraSha256", "promptSha256"]);
    expect(JSON.stringify(await collect(store.read()))).not.toContain("someone@example.org");
    const extra = JSON.parse(Buffer.from((await content.get(meta.extraSha256 as string))!).toString("utf8")) as { fields: Record<string, unknown> };
    expect(extra.fields).toEqual({ email: "someone@example.org", tags: ["a", "b"] });
    // What forgetting deletes includes the extra fields.
    const soul = soulDecider;
    const state = (await collect(store.read())).reduce(soul.evolve, soul.initialState());
    const [forgotten] = soul.handle({ type: "ForgetInput", inputId: (received!.data as { inputId: string }).inputId, reason: "privacy" }, state, { now: "", position: 0 });
    expect((forgotten!.event.data as unknown as { deletedSha256: string[] }).deletedSha256).toContain(meta.extraSha256);
  });

  it("refuses with an event what used to crash it: a 9 MB metadata field, metadata nested 6,000 deep", async () => {
    const big = JSON.stringify({ text: "big metadata", blob: "x".repeat(9 * 1024 * 1024) });
    const deep = `{"text":"deep metadata","m":${"[".repeat(6000)}${"]".repeat(6000)}}`;
    const s = await ingestFiles(log, [{ path: "hostile.jsonl", bytes: Buffer.from(`${big}\n${deep}\n{"text":"a fine line"}\n`) }], { ...opts, maxBytes: 256 * 1024, day: "2026-11-27" });
    expect(s).toMatchObject({ received: 1, refused: 2 });
    expect(s.refusals.map((r) => r.reason).sort()).toEqual(["malformed", "too-large"]);
    const refusals = (await collect(store().read({ types: new Set(["InputRefused"]) }))).filter((e) => e.type === "InputRefused" && e.data.source.path === "hostile.jsonl");
    expect(refusals).toHaveLength(2);
    for (const r of refusals) expect(JSON.stringify(r).length).toBeLessThan(2000);
  });
});

const store = () => log.store;
