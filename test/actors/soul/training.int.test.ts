import { describe, expect, it } from "vitest";
import { ActorHost } from "../../../actors/host.ts";
import { tinyRecipe } from "../../../actors/muscle/request.ts";
import { soulDecider } from "../../../actors/soul/soul.decider.ts";
import { trainingDecider } from "../../../actors/soul/training.decider.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import { useTestLog } from "../../support/nats.ts";
import { collect, meta } from "../../support/events.ts";

const log = useTestLog();
const settings = { minNewSft: 3, minNewPairs: 2, maxJobsPerDay: 2, host: null, recipe: tinyRecipe, jobMinutes: 30, baseModelSha256: "base" };
const policy = { version: "t", acceptSimilarity: 0.3, minSurprise: -3, incoherentSurprise: 4, uniformFraction: 0.9 };
const models = { model: "m", adapter: null, embedder: "e" };

const inputs = (day: string, ids: string[]): DomainEvent[] =>
  ids.map((id) => ({ type: "InputReceived", data: { inputId: id, day, source: { path: "t.txt", format: "text", index: 0 }, bytes: 1, contentSha256: `sha-${id}` } }));
const accept = (nightId: string, ids: string[]): DomainEvent[] =>
  ids.map((id) => ({ type: "InputAccepted", data: { inputId: id, nightId, reason: "r", policy, models, nearest: "preoccupation", similarity: 0.9, surprise: 0, questionVector: [1] } }));

const waitFor = async <T>(f: () => Promise<T | undefined>, what: string, ms = 30_000): Promise<T> => {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe("the Soul decides to train", () => {
  it("requests a job after a night with enough new entries, and decides on a night it missed when it comes back", async () => {
    const { store } = log;
    const soul = new ActorHost(store, soulDecider);
    const rule = new ActorHost(store, trainingDecider(settings), { durable: "actor-soul-training" });
    await soul.start();
    await rule.start();
    const night = async (day: string, ids: string[]) => {
      await store.append(inputs(day, ids).map((event) => ({ event, metadata: meta() })));
      await soul.command({ id: `start-${day}`, actor: "schedule", command: { type: "StartNight", day, trigger: "schedule" } });
      await store.append(accept(day, ids).map((event) => ({ event, metadata: meta() })));
      await waitFor(async () => (await collect(store.read({ types: new Set(["NightCompleted"]) }))).find((e) => e.type === "NightCompleted" && e.data.nightId === day), `night ${day}`);
    };
    const requests = async () => (await collect(store.read({ types: new Set(["TrainingRequested", "TrainingDeferred"]) })));

    await night("2026-11-20", ["a", "b"]);
    await night("2026-11-21", ["c", "d"]);
    const first = await waitFor(async () => (await requests())[0], "the first request");
    expect(first.type).toBe("TrainingRequested");
    expect(first.metadata.actor).toBe("soul");
    if (first.type !== "TrainingRequested") return;
    expect(first.data).toMatchObject({ jobId: "soul-2026-11-21-1", requestedBy: "soul", rule: { name: "new-sft", nightId: "2026-11-21", numbers: { newSft: 4, minNewSft: 3 } } });

    // The rule stops; the job is promoted and a night with three more entries completes meanwhile.
    await rule.stop();
    await store.append([{ event: { type: "AdapterPromoted", data: { jobId: first.data.jobId, adapterSha256: "x", previousSha256: null } }, metadata: meta() }]);
    await night("2026-11-22", ["e", "f", "g"]);
    expect(await requests()).toHaveLength(1);

    const back = new ActorHost(store, trainingDecider(settings), { durable: "actor-soul-training" });
    await back.start();
    const second = await waitFor(async () => (await requests())[1], "the request decided on return");
    expect(second.data).toMatchObject({ jobId: "soul-2026-11-22-1", rule: { numbers: { newSft: 3 } } });
    // The promoted job's entries are not counted again, nor trained on alone: the snapshot holds every entry.
    if (second.type === "TrainingRequested") expect(second.data.ledger.sft.length + second.data.ledger.heldOut.length).toBe(7);
    await back.stop();
    await soul.stop();
  });
});
