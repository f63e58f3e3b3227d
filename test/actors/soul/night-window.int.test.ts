// A night with a window, through the real actors on a real nats-server, on a test clock: the Soul,
// its training rule and its clock, Salience on the tiny models, the Muscle with the local provider
// running the real trainer. Hours pass on the clock; nothing waits for them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { ActorHost } from "../../../actors/host.ts";
import { soulDecider } from "../../../actors/soul/soul.decider.ts";
import { trainingDecider } from "../../../actors/soul/training.decider.ts";
import { SalienceWorker } from "../../../actors/salience/worker.ts";
import type { SalienceModel } from "../../../actors/salience/ports.ts";
import type { MuscleWorker } from "../../../actors/muscle/worker.ts";
import { fixedSteps, tinyRecipe } from "../../../actors/muscle/request.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { parseQuestions, seedPreoccupation } from "../../../adapters/ingest/preoccupation.ts";
import { LocalProvider } from "../../../adapters/local/provider.ts";
import { startDeadlineWatch, type DeadlineWatch } from "../../../adapters/cli/night-window.ts";
import type { DomainEvent, EventData } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";
import { openTinySalience } from "../../support/models.ts";
import { collect } from "../../support/events.ts";
import { corpusLines } from "../../adapters/llm/support.ts";
import { muscle, startWorld, waitFor, type World } from "../muscle/support.ts";

const HOUR = 3600_000;
let offset = 0;
/** The actors' clock: real time moved on by `offset` (hours pass at once). */
const clock = () => new Date(Date.now() + offset);

let w: World;
let models: Awaited<ReturnType<typeof openTinySalience>>;
let soul: ActorHost<ReturnType<typeof soulDecider.initialState>, never>;
let rule: ActorHost<ReturnType<ReturnType<typeof trainingDecider>["initialState"]>, { type: "CancelLateJobs" }>;
let salience: SalienceWorker;
let worker: MuscleWorker;
let watch: DeadlineWatch;
let inputs = 0;

/** Salience's models, held after two batches until the test releases them, as a slow model would be (the models stay real). */
let release: () => void = () => undefined;
const hold = new Promise<void>((r) => (release = r));
let batches = 0;
const gated = (m: SalienceModel): SalienceModel => ({
  ids: () => m.ids(),
  embed: (t) => m.embed(t),
  measure: async (items) => {
    // Batches only: a night without references first measures a sample of itself (reference: true).
    if (!items.some((i) => i.reference) && ++batches > 2) await hold;
    return m.measure(items);
  },
});

const QUESTIONS = ["How do planets move in their orbits around a star?", "What can a telescope show us about distant galaxies?", "How do astronomers measure the luminosity of a star?"];

beforeAll(async () => {
  w = await startWorld();
  models = await openTinySalience();
  await seedPreoccupation(w.store, models.model, parseQuestions(QUESTIONS.join("\n")).questions, "seed");
  const text = [...corpusLines("heldout", "astronomy").slice(0, 24), ...corpusLines("heldout", "cooking").slice(0, 8)];
  inputs = text.length;
  await ingestFiles({ store: w.store, content: w.content }, [{ path: "day1.log", bytes: Buffer.from(text.join("\n")) }], { day: "2026-12-01", maxBytes: 10_000, correlationId: "day1" });
  soul = new ActorHost(w.store, soulDecider, { clock }) as never;
  const settings = { minNewSft: 2, minNewPairs: 1_000, maxJobsPerDay: 4, host: null, recipe: fixedSteps(tinyRecipe, 5_000), jobMinutes: 8 * 60, baseModelSha256: w.lm.identity.sha256 };
  rule = new ActorHost(w.store, trainingDecider(settings), { durable: "actor-soul-training", clock });
  salience = new SalienceWorker(w.store, w.content, gated(models.model), { batchSize: 4, clock });
  worker = muscle(w, { providers: { local: new LocalProvider(path.join(w.scratch, "local-host")) } });
  await soul.start();
  await rule.start();
  await salience.start();
  await worker.start();
  watch = startDeadlineWatch(soul as never, rule, clock, (e) => console.error(e), 200);
}, 240_000);

afterAll(async () => {
  watch?.stop();
  release();
  await worker?.stop();
  await salience?.stop();
  await rule?.stop();
  await soul?.stop();
  await models?.close();
  await w?.close();
});

const all = () => collect(w.store.read());
const completedOf = async (nightId: string) => (await all()).find((e): e is Extract<Recorded<DomainEvent>, { type: "NightCompleted" }> => e.type === "NightCompleted" && e.data.nightId === nightId);
const decisionsOf = (events: Recorded<DomainEvent>[]) => events.filter((e) => e.type === "InputAccepted" || e.type === "InputRejected" || e.type === "ShadowRecorded" || e.type === "InputDropped").map((e) => e.data as { inputId: string; nightId: string });
const startNight = (day: string, deadlineAt: string) =>
  (soul as unknown as ActorHost<unknown, { type: "StartNight"; day: string; trigger: "schedule"; deadlineAt: string }>).command({ id: `start-${day}`, actor: "schedule", command: { type: "StartNight", day, trigger: "schedule", deadlineAt } });

describe("a night has a window", () => {
  it("stops at its deadline with what is undecided left pending, says how many, and the next night takes them", async () => {
    const deadline = new Date(clock().getTime() + 4 * HOUR).toISOString();
    await startNight("2026-12-01", deadline);
    await waitFor(async () => (decisionsOf(await all()).length >= 8 && batches >= 3 ? true : undefined), 120_000, "the night half-way");
    const decidedBefore = decisionsOf(await all()).length;
    expect(decidedBefore).toBeLessThan(inputs);

    offset += 4 * HOUR + 60_000; // the deadline passes while a batch is in hand
    const cut = await waitFor(() => completedOf("2026-12-01"), 30_000, "the night cut off");
    expect(cut.metadata.actor).toBe("soul");
    expect(cut.data.cutOff).toMatchObject({ reason: "deadline", deadlineAt: deadline });
    const counted = Object.values(cut.data.counts).reduce((a, b) => a + b, 0) - cut.data.counts.refused;
    expect(counted + cut.data.cutOff!.left).toBe(inputs);
    expect(cut.data.cutOff!.left).toBeGreaterThan(0);
    expect(cut.data.durationMs).toBeGreaterThanOrEqual(4 * HOUR);

    // No training starts past the deadline: the rule says why, with its numbers.
    const deferred = await waitFor(async () => (await all()).find((e) => e.type === "TrainingDeferred"), 30_000, "the deferral");
    expect(deferred.data).toMatchObject({ nightId: "2026-12-01", reason: "past-deadline" });
    expect((deferred.data as EventData<"TrainingDeferred">).numbers.msToDeadline).toBeLessThan(0);

    // The batch in hand still lands; then Salience stops the night (no further batch is scored).
    const batchesAtCut = batches;
    release();
    await waitFor(async () => (decisionsOf(await all()).length >= counted ? true : undefined), 60_000, "the batch in hand");
    await new Promise((r) => setTimeout(r, 1_500));
    expect(batches).toBeLessThanOrEqual(batchesAtCut + 1);
    const afterCut = decisionsOf(await all()).length;
    expect(afterCut).toBeLessThan(inputs);

    // The next night's window takes what was left, and completes within its own deadline.
    await startNight("2026-12-02", new Date(clock().getTime() + 4 * HOUR).toISOString());
    const next = await waitFor(() => completedOf("2026-12-02"), 180_000, "the next night");
    expect(next.data.cutOff).toBeNull();
    const decisions = decisionsOf(await all());
    expect(new Set(decisions.map((d) => d.inputId)).size).toBe(inputs); // every input decided ...
    expect(decisions).toHaveLength(inputs); // ... exactly once
    expect(decisions.filter((d) => d.nightId === "2026-12-02")).toHaveLength(inputs - afterCut);
  }, 300_000);

  it("gives the Soul's job no more than the time left in its night, and cancels it at the night's deadline with the reason", async () => {
    const requested = await waitFor(async () => (await all()).find((e) => e.type === "TrainingRequested"), 60_000, "the Soul's request after the second night");
    const job = requested.data as EventData<"TrainingRequested">;
    expect(job).toMatchObject({ requestedBy: "soul", rule: { nightId: "2026-12-02" } });
    expect(job.deadlineMs).toBeLessThanOrEqual(4 * HOUR);
    expect(job.deadlineMs).toBeGreaterThan(3 * HOUR);
    // The trainer runs and reports step, loss and ETA.
    const progress = await waitFor(async () => (await all()).find((e) => e.type === "TrainingProgressed" && (e.data as { step: number }).step >= 2), 120_000, "two steps");
    expect(progress.data).toMatchObject({ jobId: job.jobId, of: 5_000, etaSeconds: expect.any(Number) });

    offset += 4 * HOUR; // past the second night's deadline: the job must stop
    const failed = await waitFor(async () => (await all()).find((e) => e.type === "TrainingFailed"), 90_000, "the job stopped");
    const cancel = (await all()).find((e) => e.type === "TrainingCancelRequested")!;
    expect(cancel.data).toMatchObject({ jobId: job.jobId, by: "soul", reason: expect.stringContaining("deadline of night 2026-12-02") });
    expect(failed.data).toMatchObject({ jobId: job.jobId, kind: "cancelled", error: expect.stringContaining("cancelled by soul: the deadline of night 2026-12-02") });
    await waitFor(async () => ((await all()).some((e) => e.type === "HostReleased") ? true : undefined), 60_000, "the host released");
    // Asked once, however often the clock looked.
    expect((await all()).filter((e) => e.type === "TrainingCancelRequested")).toHaveLength(1);
  }, 300_000);
});
