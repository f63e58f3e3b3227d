import { describe, expect, it } from "vitest";
import { healCopies, pendingCopies, recordStaleCopies } from "../../../adapters/cli/heal-copies.ts";
import { CONTENT_STREAM } from "../../../adapters/nats/content-store.ts";
import { useTestLog } from "../../support/nats.ts";
import { meta } from "../../support/events.ts";

// The heal's bookkeeping on a real (single) nats-server: the pending set folded from the log by
// subject, and a rebuild that cannot start (no cluster here: the content store is R1) recording
// nothing. The rebuild itself needs a cluster: test/adapters/cli/cluster-forget.e2e.test.ts.
const log = useTestLog();

describe("the stale copies of the content store", () => {
  it("are folded from their own events, a rebuild covering only the stale records before it began", async () => {
    await recordStaleCopies(log.store, ["n1", "n3"], "in-a", "not current when the forget of in-a ended", "test");
    const [n1] = await pendingCopies(log.store);
    const rebuilt = { node: "n1", stream: CONTENT_STREAM, by: "cli" as const, ms: 1, removeMs: 1, shrinkMs: 1, growMs: 1, growTries: 1, catchUpMs: 1, removal: "peer remap failed", leader: "n2" };
    await log.store.append([{ event: { type: "ContentCopyRebuilt", data: { ...rebuilt, staleUpToSeq: n1!.staleSeq } }, metadata: meta() }]);
    await recordStaleCopies(log.store, ["n3"], "in-b", "not current when the forget of in-b ended", "test");
    expect((await pendingCopies(log.store)).map((c) => [c.node, c.inputIds])).toEqual([["n3", ["in-a", "in-b"]]]);
    await recordStaleCopies(log.store, ["n1"], null, "found stale", "test");
    expect((await pendingCopies(log.store)).map((c) => c.node).sort()).toEqual(["n1", "n3"]);
  });

  it("wait, with nothing recorded, while the stream cannot be rebuilt (not R3 with three current copies)", async () => {
    const pending = await pendingCopies(log.store);
    const before = await log.store.lastSeq();
    const outcomes = await healCopies(await log.nats.connect(), log.store, pending, { by: "cli", actor: "test" });
    expect(outcomes.map((o) => [o.node, o.outcome])).toEqual(pending.map((p) => [p.node, "waiting"]));
    expect(outcomes[0]).toMatchObject({ reason: expect.stringMatching(/the stream is R1/), next: expect.stringMatching(/R3/) });
    expect(await log.store.lastSeq()).toBe(before);
  });
});
