import { describe, expect, it } from "vitest";
import { staleCopies, type StaleCopies } from "../../projections/stale-copies.projection.ts";
import { meta } from "../support/events.ts";

type Evolved = Parameters<typeof staleCopies.evolve>[1];
let seq = 0;
const stored = (type: string, data: object): Evolved => ({ type, data, seq: ++seq, metadata: meta({ id: `e${seq}` }) }) as unknown as Evolved;
const stream = "OBJ_sophont_content";
const stale = (node: string, inputId: string | null) => stored("ContentCopyStale", { node, stream, inputId, reason: "missed the erase" });
const rebuilt = (node: string, staleUpToSeq: number) =>
  stored("ContentCopyRebuilt", { node, stream, by: "up", staleUpToSeq, ms: 5000, removeMs: 1, shrinkMs: 1, growMs: 1, growTries: 1, catchUpMs: 1, removal: "peer remap failed", leader: "n2" });
const failed = (node: string) => stored("ContentCopyRebuildFailed", { node, stream, by: "up", staleUpToSeq: 0, ms: 10, step: "grow", reason: "insufficient resources", next: "start it" });
const fold = (events: Evolved[]) => events.reduce<StaleCopies>((s, e) => staleCopies.evolve(s, e), staleCopies.initialState());

describe("stale-copies", () => {
  it("holds a copy from its stale record to its rebuild, and again when it goes stale again", () => {
    const first = stale("n1", "in-a");
    const again = stale("n1", "in-b");
    expect(fold([first]).pending.n1).toMatchObject({ node: "n1", staleSeq: first.seq, staleEventId: "e" + first.seq, inputIds: ["in-a"], failures: 0 });
    const healed = fold([first, again, failed("n1"), rebuilt("n1", again.seq)]);
    expect(healed.pending).toEqual({});
    expect(healed.rebuilt.n1).toMatchObject({ by: "up", ms: 5000 });
    const third = stale("n1", "in-c");
    expect(Object.keys(fold([first, rebuilt("n1", first.seq), third]).pending)).toEqual(["n1"]);
    expect(fold([first, rebuilt("n1", first.seq), third]).pending.n1!.inputIds).toEqual(["in-c"]);
  });

  it("keeps a copy that went stale after its rebuild began, and counts the failed rebuilds", () => {
    const a = stale("n1", "in-a");
    const b = stale("n1", "in-b");
    const s = fold([a, failed("n1"), b, rebuilt("n1", a.seq), stale("n3", null)]);
    expect(s.pending.n1).toMatchObject({ staleSeq: b.seq, inputIds: ["in-a", "in-b"], failures: 1, lastFailure: { reason: "grow: insufficient resources", next: "start it" } });
    expect(s.pending.n3).toMatchObject({ inputIds: [] });
  });

  it("ignores a rebuild or a failure of a copy that was not stale", () => {
    const s = fold([failed("n2"), rebuilt("n2", 0)]);
    expect(s.pending).toEqual({});
    expect(s.rebuilt.n2).toBeDefined();
  });
});
