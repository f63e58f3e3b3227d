import { describe, expect, it } from "vitest";
import { ActorHost } from "../../../actors/host.ts";
import { soulDecider } from "../../../actors/soul/soul.decider.ts";
import { ForgetReactor } from "../../../actors/soul/forget.reactor.ts";
import { Refusal } from "../../../actors/decider.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { readInput } from "../../../adapters/ingest/known.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { useTestLog } from "../../support/nats.ts";
import { collect, meta } from "../../support/events.ts";

const log = useTestLog();

const SECRET = "My neighbour's door code is 4512 and the spare key is under the pot.";
const OUTPUT = JSON.stringify({ prompt: "Where is the key? (private)", text: "Under the pot, code 4512.", corrected: "I should not say." });

describe("forgetting an input", () => {
  it("removes its texts from the content store and every projection, keeping only hashes in the log", async () => {
    const { store, content } = log;
    await ingestFiles({ store, content }, [{ path: "notes.txt", bytes: Buffer.from(SECRET) }, { path: "out.jsonl", bytes: Buffer.from(OUTPUT) }], { day: "2026-11-20", maxBytes: 10_000, correlationId: "c" });
    const [secret, output] = (await collect(store.read({ types: new Set(["InputReceived"]) }))).map((e) => e.data as { inputId: string; contentSha256: string });
    const policy = { version: "t", acceptSimilarity: 0.3, minSurprise: -3, incoherentSurprise: 4, uniformFraction: 0.9 };
    const models = { model: "m", adapter: null, embedder: "e" };
    await store.append([
      { event: { type: "InputAccepted", data: { inputId: secret!.inputId, nightId: "n", reason: "r", policy, models, nearest: "preoccupation", similarity: 0.9, surprise: 0, questionVector: [1, 0] } }, metadata: meta() },
      { event: { type: "ShadowRecorded", data: { inputId: output!.inputId, nightId: "n", reason: "r", policy, models, promptSha256: "p", rejectedSha256: output!.contentSha256, correctedSha256: null } }, metadata: meta() },
    ]);
    expect((await projectAt(store, ledgers, "now")).sft.has(secret!.inputId)).toBe(true);

    const soul = new ActorHost(store, soulDecider);
    const reactor = new ForgetReactor(store, content);
    await soul.start();
    await reactor.start();
    for (const id of [secret!.inputId, output!.inputId]) await soul.command({ id: `forget-${id}`, actor: "person", command: { type: "ForgetInput", inputId: id, reason: "privacy" } });
    await expect(soul.command({ id: "again", actor: "person", command: { type: "ForgetInput", inputId: secret!.inputId, reason: "x" } })).rejects.toBeInstanceOf(Refusal);
    await expect(soul.command({ id: "none", actor: "person", command: { type: "ForgetInput", inputId: "0".repeat(64), reason: "x" } })).rejects.toThrow(/no input/);

    const forgotten = await collect(store.read({ types: new Set(["InputForgotten"]) }));
    const shas = forgotten.flatMap((e) => (e.type === "InputForgotten" ? e.data.deletedSha256 : []));
    expect(shas).toHaveLength(4); // the note, and the output with its prompt and correction
    for (let i = 0; i < 50 && (await Promise.all(shas.map((s) => content.has(s)))).some(Boolean); i++) await new Promise((r) => setTimeout(r, 100));
    for (const sha of shas) expect(await content.get(sha)).toBeUndefined();
    expect(forgotten[0]!.metadata.actor).toBe("soul");
    expect(forgotten[0]!.data).toMatchObject({ reason: "privacy", requestedBy: "person" });

    const l = await projectAt(store, ledgers, "now");
    expect(l.sft.has(secret!.inputId) || l.shadow.has(output!.inputId)).toBe(false);
    expect((await readInput(store, secret!.inputId))!.forgotten).toBe(true);
    // Nothing in the log ever held the text.
    const everything = JSON.stringify(await collect(store.read()));
    for (const fragment of ["4512", "spare key", "Where is the key"]) expect(everything).not.toContain(fragment);
    await reactor.stop();
    await soul.stop();
  });
});
