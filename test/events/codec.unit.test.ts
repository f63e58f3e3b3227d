import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { definitions } from "../../events/catalogue.ts";
import { DecodeError, EncodeError, decodeEvent, encodeEvent } from "../../events/codec.ts";
import { eventSubject, parseEventSubject } from "../../events/subjects.ts";
import { meta } from "../support/events.ts";

const fixtures = new URL("../fixtures/events/", import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, fixtures), "utf8");

describe("event codec", () => {
  it("round-trips an event: encode validates, decode returns the same payload", () => {
    const m = meta();
    const e = encodeEvent({ type: "NightStarted", data: { nightId: "n1", day: "2026-11-25", trigger: "cli", untilSeq: 7 } }, m);
    expect(e.subject).toBe("sophont.evt.night.n1");
    expect(e.msgId).toBe(m.id);
    const d = decodeEvent(e.body, 3, e.subject, 1000);
    expect(d).toMatchObject({ type: "NightStarted", seq: 3, writtenVersion: 2, data: { nightId: "n1", untilSeq: 7 }, metadata: m });
  });

  it("refuses to encode a payload that breaks its schema, naming the field", () => {
    expect(() => encodeEvent({ type: "NightStarted", data: { nightId: "n1", day: "x", trigger: "moon", untilSeq: 1 } } as never, meta())).toThrow(EncodeError);
    expect(() => encodeEvent({ type: "Nope", data: {} } as never, meta())).toThrow(/unknown event type/);
  });

  it.each([
    ["not-json", "{"],
    ["bad-envelope", JSON.stringify({ type: "NightStarted" })],
    ["unknown-type", JSON.stringify({ ...meta(), type: "Nope", version: 1, data: {} })],
    ["unknown-version", JSON.stringify({ ...meta(), type: "NightStarted", version: 9, data: {} })],
    ["bad-payload", JSON.stringify({ ...meta(), type: "NightStarted", version: 2, data: { nightId: 3 } })],
  ])("names the reason a message cannot be decoded: %s", (reason, body) => {
    try {
      decodeEvent(body, 1, "sophont.evt.night.x", 0);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
      expect((e as DecodeError).reason).toBe(reason);
    }
  });

  it("refuses a valid event on a subject it does not belong to, naming where it belongs", () => {
    const e = encodeEvent({ type: "NightStarted", data: { nightId: "n1", day: "2026-11-25", trigger: "cli", untilSeq: 7 } }, meta());
    for (const subject of ["sophont.evt.training.n1", "sophont.evt.night.n2", "sophont.evt.night.n1.extra"]) {
      try {
        decodeEvent(e.body, 1, subject, 0);
        expect.unreachable();
      } catch (err) {
        expect((err as DecodeError).reason).toBe("misplaced");
        expect((err as Error).message).toContain("sophont.evt.night.n1");
      }
    }
  });

  it("keeps a golden fixture for every retired version, and each one upcasts to a valid current payload", () => {
    const files = new Set(readdirSync(fixtures).filter((f) => f.endsWith(".json")));
    for (const def of definitions) {
      for (const past of def.past) {
        const name = `${def.type}.v${past.version}.json`;
        expect(files.has(name), `missing golden fixture ${name}`).toBe(true);
        const raw = JSON.parse(fixture(name)) as { data: Record<string, unknown> };
        const subject = eventSubject(def.family, def.entity(past.upcast(raw.data) as never));
        const ev = decodeEvent(fixture(name), 1, subject, 0);
        expect(ev.type).toBe(def.type);
        expect(ev.writtenVersion).toBe(past.version);
      }
    }
  });

  it("upcasts NightStarted v1: the trigger and window it did not record are marked unknown", () => {
    const ev = decodeEvent(fixture("NightStarted.v1.json"), 1, "sophont.evt.night.2026-01-14", 0);
    expect(ev.data).toEqual({ nightId: "2026-01-14", day: "2026-01-14", trigger: "unknown", untilSeq: 0 });
  });

  it("upcasts InputScored v1: bits per byte, the domain model and the calibration it did not measure are null", () => {
    const ev = decodeEvent(fixture("InputScored.v1.json"), 1, "sophont.evt.input.in-1", 0);
    expect(ev.type).toBe("InputScored");
    expect(ev.data).toMatchObject({ inputId: "in-1", meanNll: 3.0007, bytes: null, bitsPerByte: null, domain: null, calibration: null });
  });

  it("upcasts TrainingProgressed v1: the ETA its trainer did not report is null, not zero", () => {
    const ev = decodeEvent(fixture("TrainingProgressed.v1.json"), 1, "sophont.evt.training.soul-2026-11-29-1", 0);
    expect(ev.writtenVersion).toBe(1);
    expect(ev.data).toEqual({ jobId: "soul-2026-11-29-1", phase: "sft", step: 12, of: 24, loss: 3.4172, margin: null, logOffset: 4096, etaSeconds: null });
  });

  it("builds subjects from safe tokens only", () => {
    expect(parseEventSubject(eventSubject("input", "abc-1"))).toEqual({ family: "input", entityId: "abc-1" });
    expect(() => eventSubject("input", "a.b")).toThrow();
    expect(() => eventSubject("input", "*")).toThrow();
    expect(parseEventSubject("other.subject")).toBeUndefined();
  });
});
