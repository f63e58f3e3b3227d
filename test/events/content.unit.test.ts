import { describe, expect, it } from "vitest";
import { decodeEvent, encodeEvent, EncodeError } from "../../events/codec.ts";
import type { DomainEvent } from "../../events/catalogue.ts";
import { meta } from "../support/events.ts";

const stream = "OBJ_sophont_content";
const stale: DomainEvent = { type: "ContentCopyStale", data: { node: "n1", stream, inputId: "ab".repeat(32), reason: "not current when the forget ended" } };
const rebuilt: DomainEvent = {
  type: "ContentCopyRebuilt",
  data: { node: "n1", stream, by: "cli", staleUpToSeq: 12, ms: 5100, removeMs: 900, shrinkMs: 40, growMs: 30, growTries: 1, catchUpMs: 4100, removal: "peer remap failed", leader: "n2" },
};
const failed: DomainEvent = {
  type: "ContentCopyRebuildFailed",
  data: { node: "n1", stream, by: "up", staleUpToSeq: 12, ms: 60_000, step: "grow", reason: "insufficient resources", next: "start n1 and try again" },
};

describe("the content copies' events", () => {
  it.each([stale, rebuilt, failed])("round-trip on the node's subject: %s", (e) => {
    const enc = encodeEvent(e, meta());
    expect(enc.subject).toBe("sophont.evt.content.n1");
    const d = decodeEvent(enc.body, 7, enc.subject, 0);
    expect({ type: d.type, data: d.data, writtenVersion: d.writtenVersion }).toEqual({ type: e.type, data: e.data, writtenVersion: 1 });
  });

  it("put a server name that is not a subject token on a token of it", () => {
    const enc = encodeEvent({ type: "ContentCopyStale", data: { ...stale.data, node: "db.eu-1" } } as DomainEvent, meta());
    expect(enc.subject).toBe("sophont.evt.content.db_eu-1");
    expect(decodeEvent(enc.body, 1, enc.subject, 0).data).toMatchObject({ node: "db.eu-1" });
  });

  it("refuse a step, a rebuilder or a field that is not theirs", () => {
    expect(() => encodeEvent({ type: "ContentCopyRebuildFailed", data: { ...failed.data, step: "reboot" } } as never, meta())).toThrow(EncodeError);
    expect(() => encodeEvent({ type: "ContentCopyRebuilt", data: { ...rebuilt.data, by: "agent" } } as never, meta())).toThrow(EncodeError);
    expect(() => encodeEvent({ type: "ContentCopyStale", data: { ...stale.data, inputId: undefined } } as never, meta())).toThrow(EncodeError);
  });
});
