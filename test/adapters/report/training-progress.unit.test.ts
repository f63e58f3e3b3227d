import { describe, expect, it } from "vitest";
import type { DomainEvent } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";
import { parseLines, progressToRecord } from "../../../actors/muscle/muscle.decider.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import { tinyRecipe } from "../../../actors/muscle/request.ts";
import { narrateTraining, progressLine, runningJobs, runningJobsLine } from "../../../adapters/cli/training-narration.ts";
import { renderReport } from "../../../adapters/report/render.ts";
import type { ReportData } from "../../../adapters/report/collect.ts";
import { duration } from "../../../adapters/report/charts.ts";
import { meta } from "../../support/events.ts";

let seq = 0;
const recorded = <E extends DomainEvent>(event: E): Recorded<E> =>
  ({ ...event, writtenVersion: 2, metadata: meta({ time: "2026-12-02T02:10:00.000Z" }), seq: ++seq, subject: "sophont.evt.training.j", storedAt: 0 }) as unknown as Recorded<E>;

const line = (step: number, of: number, loss: number, eta?: number) =>
  JSON.stringify({ event: "progress", phase: "sft", step, of, loss, margin: null, ...(eta === undefined ? {} : { eta_seconds: eta }) });

const progressed = (step: number, of: number, loss: number | null, etaSeconds: number | null) =>
  recorded({ type: "TrainingProgressed", data: { jobId: "j", phase: "sft", step, of, loss, margin: null, etaSeconds, logOffset: step * 100 } } as const);

describe("training progress: step, loss and ETA as the trainer reports them", () => {
  it("takes the trainer's eta_seconds into TrainingProgressed, null where the line has none", () => {
    const lines = parseLines([line(1, 4, 2.5), line(2, 4, 2.0, 30), line(4, 4, 1.5, 0)].join("\n") + "\n");
    const { events } = progressToRecord("j", lines, 0, null, 0, { minIntervalMs: 0 });
    expect(events.map((e) => [e.step, e.of, e.loss, e.etaSeconds])).toEqual([[1, 4, 2.5, null], [2, 4, 2.0, 30], [4, 4, 1.5, 0]]);
  });

  it("says step of steps, loss and ETA in one line for the CLI", () => {
    expect(progressLine({ phase: "sft", step: 12, of: 24, loss: 3.41719, etaSeconds: 185 })).toBe("sft step 12/24 loss 3.4172 ETA 3m05s");
    expect(narrateTraining(progressed(1, 24, null, null))).toBe("  j sft step 1/24 loss - ETA unknown");
    expect([duration(45), duration(3600 * 2 + 600), duration(-3)]).toEqual(["45s", "2h10m", "0s"]);
  });

  it("keeps the last step, loss, ETA and its time in the lineage (what `status` shows)", () => {
    const l = lineage.initialState();
    const req = { jobId: "j", host: null, baseModelSha256: "b", recipe: tinyRecipe, ledger: { atSeq: 0, sft: [], heldOut: [], anchor: [], shadow: [] }, mergeWith: [], deadlineMs: 60_000, requestedBy: "cli" };
    lineage.evolve(l, recorded({ type: "TrainingRequested", data: req } as DomainEvent));
    lineage.evolve(l, progressed(6, 24, 2.75, 90));
    expect(l.jobs.get("j")!.lastProgress).toEqual({ phase: "sft", step: 6, of: 24, loss: 2.75, etaSeconds: 90, at: "2026-12-02T02:10:00.000Z" });
    const running = runningJobs(l.jobs.values());
    expect(running).toMatchObject([{ jobId: "j", status: "requested", host: "local", progress: { step: 6, of: 24, loss: 2.75, etaSeconds: 90 } }]);
    expect(runningJobsLine(running)).toBe("j (requested, by cli, on local): sft step 6/24 loss 2.7500 ETA 1m30s");
    lineage.evolve(l, recorded({ type: "TrainingFailed", data: { jobId: "j", stage: "following", kind: "cancelled", error: "e", exitCode: null, lastLines: [] } }));
    expect(runningJobsLine(runningJobs(l.jobs.values()))).toBe("no job running");
  });

  it("narrates a night cut off at its deadline and a cancel with its reason", () => {
    const cut = recorded({ type: "NightCompleted", data: { nightId: "2026-12-01", counts: { accepted: 3, rejected: 1, shadow: 0, refused: 0, dropped: 0 }, durationMs: 1, cutOff: { reason: "deadline", deadlineAt: "2026-12-02T06:00:00.000Z", left: 7, detail: "d" } } } as const);
    expect(narrateTraining(cut)).toBe("night 2026-12-01 cut off at its deadline 2026-12-02T06:00:00.000Z: 7 input(s) left for the next night");
    expect(narrateTraining({ ...cut, data: { ...cut.data, cutOff: null } })).toBeUndefined();
    expect(narrateTraining(recorded({ type: "TrainingCancelRequested", data: { jobId: "j", by: "soul", reason: "the deadline of night n passed" } } as const))).toBe("j: cancel requested by soul (the deadline of night n passed)");
  });

  it("shows each job's last step, loss, ETA and loss curve in the report, cited to the event", () => {
    const steps = [progressed(1, 3, 3.0, null), progressed(2, 3, 2.0, 40), progressed(3, 3, 1.0, 0)];
    const data: ReportData = {
      until: 10, generatedAt: "2026-12-02T03:00:00.000Z", nights: {}, centroids: {}, rejected: [], rejections: { counts: {}, examples: {} }, contentOf: new Map(), clusterings: [], births: [], proposals: [], adapters: [],
      training: [{ jobId: "j", progress: steps }, { jobId: "k", progress: [{ ...progressed(1, 10, 4.2, 600), data: { ...steps[0]!.data, jobId: "k", of: 10, loss: 4.2, etaSeconds: 600 } }] }],
      cited: new Map(),
    };
    const html = renderReport(data);
    const table = html.slice(html.indexOf('<table id="training">'), html.indexOf("</table>", html.indexOf('<table id="training">')));
    expect(table).toContain(`<a href="#ev-${steps[2]!.seq}" title="event ${steps[2]!.seq}">sft 3/3</a>`);
    expect(table).toContain(">1.0000<");
    expect(table).toContain("█▆▃"); // the loss curve 3.0, 2.0, 1.0, scaled to the largest
    expect(table).toContain("steps done");
    expect(table).toContain(">10m00s<");
    expect(table).toContain("running");
  });
});
