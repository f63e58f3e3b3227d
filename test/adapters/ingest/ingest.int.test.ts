import { describe, expect, it } from "vitest";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { readInput } from "../../../adapters/ingest/known.ts";
import { inputIdOf } from "../../../adapters/ingest/parse.ts";
import { inputsSummary } from "../../../projections/inputs.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { useTestLog } from "../../support/nats.ts";
import { collect } from "../../support/events.ts";

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
