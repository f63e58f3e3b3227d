import { describe, expect, it } from "vitest";
import { createActor, fromPromise } from "xstate";
import { adapterTrainedOf, failureKindOf, isFatal, parseLines, progressToRecord } from "../../../actors/muscle/muscle.decider.ts";
import { muscleMachine, type Ended, type MuscleEmitted } from "../../../actors/muscle/muscle.machine.ts";
import { requestTraining, tinyRecipe } from "../../../actors/muscle/request.ts";
import { judgeAdapter } from "../../../actors/soul/evaluation.ts";
import { Refusal } from "../../../actors/decider.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";

const progressLine = (step: number, of = 10, loss = 1) => JSON.stringify({ event: "progress", phase: "sft", step, of, loss, margin: null });

describe("the Muscle's decider", () => {
  it("records the first, the last and one progress line per interval, with the log offset after each", () => {
    const text = [1, 2, 3, 4, 10].map((s) => progressLine(s)).join("\n") + "\n";
    const lines = parseLines(text);
    const { events, last } = progressToRecord("j", lines, 100, null, 1_000, { minIntervalMs: 5_000 });
    expect(events.map((e) => e.step)).toEqual([1, 10]);
    expect(events[1]!.logOffset).toBe(100 + Buffer.byteLength(text));
    expect(last).toMatchObject({ step: 10, phase: "sft" });
  });

  it("never records a step twice when a re-attach reads lines again", () => {
    const lines = parseLines([3, 4, 5].map((s) => progressLine(s)).join("\n") + "\n");
    const { events } = progressToRecord("j", lines, 0, { step: 4, phase: "sft", logOffset: 0, at: 0 }, 10_000, { minIntervalMs: 1 });
    expect(events.map((e) => e.step)).toEqual([5]);
  });

  it("keeps lines that are not JSON (a traceback) and tells failures apart", () => {
    expect(parseLines("Traceback (most recent call last):\n{\"event\":\"failed\"}\n").map((l) => l.parsed?.event ?? null)).toEqual([null, "failed"]);
    expect(failureKindOf({ _tag: "HostKeyMismatchError" })).toBe("host-key");
    expect(isFatal({ _tag: "HostKeyMismatchError" })).toBe(true);
    expect(isFatal({ _tag: "ConnectionError" })).toBe(false);
    expect(isFatal(new Error("ECONNRESET"))).toBe(false);
  });

  it("reads the merge out of result.json", () => {
    const result = { event: "done", seconds: 2, artifacts: [{ kind: "micro", sha256: "m" }, { kind: "merged", sha256: "a", rank: 4, alpha: 8, merged_from: ["old", "m"], ties: { k: 20, lambda: 1 }, reconstruction_error: 0.3 }], before: { sft_loss: 5 }, after: { sft_loss: 2 } };
    expect(adapterTrainedOf("j", result, "m", 10)).toMatchObject({ adapterSha256: "a", merge: { method: "ties", mergedFrom: ["old"], k: 20, reconstructionError: 0.3 }, before: { sftLoss: 5, anchorLoss: null } });
  });
});

describe("a training request", () => {
  const withSft = (n: number) => {
    const l = ledgers.initialState();
    for (let i = 0; i < n; i++) l.sft.set(`id${i}`, { inputId: `${i.toString(16).padStart(8, "0")}`, seq: i + 1, nightId: "n", contentSha256: `sha${i}`, question: null, similarity: 1, surprise: 1 });
    return l;
  };
  const ask = { jobId: "j", host: null, recipe: tinyRecipe, baseModelSha256: "b", atSeq: 9, deadlineMs: 1, requestedBy: "t" };

  it("holds out a stable share of the SFT Ledger, never all of it, never none", () => {
    const data = requestTraining(withSft(8), lineage.initialState(), ask);
    expect(data.ledger.heldOut.map((e) => e.id)).toEqual(["00000000", "00000004"]);
    expect(data.ledger.sft).toHaveLength(6);
    expect(requestTraining(withSft(2), lineage.initialState(), ask).ledger.heldOut).toHaveLength(1);
  });

  it("is refused with nothing to learn, or for a job id already used", () => {
    expect(() => requestTraining(withSft(1), lineage.initialState(), ask)).toThrow(Refusal);
    const lin = lineage.initialState();
    lin.jobs.set("j", {} as never);
    expect(() => requestTraining(withSft(4), lin, ask)).toThrow(/already requested/);
  });
});

describe("the Soul's judgement", () => {
  const set = (meanNll: number) => ({ texts: 2, tokens: 10, meanNll });
  const measured = (held: number, anchor: number) => ({
    jobId: "j", adapterSha256: "new", baselineSha256: "old",
    trained: { before: set(2), after: set(1) }, heldOut: { before: set(2), after: set(held) }, anchor: { before: set(1), after: set(anchor) },
  });

  it("promotes within the bounds and rolls back beyond them, saying why", () => {
    const bounds = { minGain: 0, maxForgetting: 0.1 };
    expect(judgeAdapter(measured(1.5, 1.05), bounds).map((d) => d.event.type)).toEqual(["AdapterEvaluated", "AdapterPromoted"]);
    const [evaluated, verdict] = judgeAdapter(measured(1.5, 1.5), bounds);
    expect(evaluated!.event.data).toMatchObject({ withinBounds: false, forgetting: expect.closeTo(Math.exp(0.5) - 1, 6) });
    expect(verdict!.event).toMatchObject({ type: "AdapterRolledBack", data: { servingSha256: "old", reason: expect.stringMatching(/anchor forgetting/) } });
    expect(judgeAdapter(measured(Number.POSITIVE_INFINITY, 1), bounds)[1]!.event.type).toBe("AdapterRolledBack");
  });
});

describe("the Muscle's lifecycle machine", () => {
  const run = (failFollowing: number, fatal = false) =>
    new Promise<MuscleEmitted[]>((resolve) => {
      let follows = 0;
      const seen: MuscleEmitted[] = [];
      const ok = fromPromise<void, any>(async () => undefined);
      const actor = createActor(muscleMachine.provide({
        actors: {
          provisioning: fatal ? fromPromise<void, any>(async () => { throw { _tag: "HostKeyMismatchError", message: "changed" }; }) : ok,
          uploading: ok, starting: ok, downloading: ok, cleaning: ok, cancelling: ok, recording: ok, releasing: ok,
          following: fromPromise<Ended, any>(async () => {
            if (follows++ < failFollowing) throw new Error("link dropped");
            return { state: "exited", code: 0 };
          }),
        },
      }), { input: { retryBaseMs: 1 } });
      actor.on("*", (e: MuscleEmitted) => (seen.push(e), e.type === "finished" && resolve(seen)));
      actor.start();
      actor.send({ type: "JOB", job: { causeId: "c", jobId: "j", resume: "provisioning", remainingMs: 60_000 } });
    });

  it("re-enters starting (a re-attach) after the link drops while following, then goes on", async () => {
    const seen = await run(2);
    const steps = seen.flatMap((e) => (e.type === "step" ? [e.step] : []));
    expect(steps).toEqual(["provisioning", "uploading", "starting", "following", "starting", "following", "starting", "following", "downloading", "cleaning"]);
    expect(seen.at(-1)).toMatchObject({ type: "finished", failure: null });
  });

  it("fails at once, without retrying, on a changed host key", async () => {
    const seen = await run(0, true);
    expect(seen.filter((e) => e.type === "step")).toHaveLength(1);
    expect(seen.at(-1)).toMatchObject({ type: "finished", failure: { stage: "provisioning", kind: "host-key" } });
  });
});
