import { describe, expect, it } from "vitest";
import { createActor, fromPromise } from "xstate";
import { salienceMachine, type NightJob, type SalienceEmitted } from "../../../actors/salience/salience.machine.ts";
import type { InputRef, NightFrame } from "../../../actors/salience/salience.decider.ts";

const pending: InputRef[] = Array.from({ length: 10 }, (_, i) => ({ inputId: `in-${i}`, seq: i + 1, contentSha256: `sha-${i}`, subjectSeq: i + 1, output: null }));

describe("Salience's night machine at the night's deadline", () => {
  it("scores no batch after it learns the night was cut off; the batch in hand lands, and it says how many are left", async () => {
    const scored: string[][] = [];
    const emitted: SalienceEmitted[] = [];
    const job = { causeId: "night-1", nightId: "2026-12-01" };
    const actor = createActor(
      salienceMachine.provide({
        actors: {
          loadNight: fromPromise(async () => ({ frame: {} as NightFrame, pending })),
          scoreBatch: fromPromise(async ({ input }) => (scored.push(input.batch.map((b) => b.inputId)), [])),
          appendBatch: fromPromise(async () => {
            // The Soul ends the night while the second batch is in hand (the worker says so after appending it).
            if (scored.length === 2) actor.send({ type: "CUT_OFF", causeId: job.causeId });
          }),
          ack: fromPromise<void, NightJob>(async () => {}),
        },
      }),
      { input: { batchSize: 3 } },
    );
    actor.on("*", (e: SalienceEmitted) => emitted.push(e));
    actor.start();
    // A cut-off for another night changes nothing.
    actor.send({ type: "NIGHT", job });
    actor.send({ type: "CUT_OFF", causeId: "another-night" });
    await new Promise<void>((resolve) => actor.on("cut-off", () => resolve()));
    expect(scored).toEqual([["in-0", "in-1", "in-2"], ["in-3", "in-4", "in-5"]]);
    expect(emitted.filter((e) => e.type !== "progress")).toEqual([{ type: "cut-off", job, decided: 6, left: 4 }]);
    expect(actor.getSnapshot().value).toBe("idle");
    // The next night starts clean.
    actor.send({ type: "NIGHT", job: { causeId: "night-2", nightId: "2026-12-02" } });
    await new Promise<void>((resolve) => actor.on("finished", () => resolve()));
    expect(scored.length).toBe(2 + 4);
    actor.stop();
  });
});
