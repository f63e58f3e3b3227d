// Derived text in events (distilled questions, verdict details, reasons) reaches every outside
// agent and MCP client through its consumer, and a remote NATS server's disk. Agents read the log
// itself (adapters/nats/accounts.ts: one exported consumer on the event stream), so the airlock acts
// where those events are written: they carry derived text only as the policy allows (redacted, or
// withheld), and nothing derived from a private input ever. The vectors, scores and hashes stay.
import type { DomainEvent } from "../../events/catalogue.ts";
import type { EventStore, Pending } from "../../events/store.ts";
import type { EgressMode } from "../../actors/ports.ts";
import type { Egress } from "./egress.ts";
import { addCounts } from "./redact.ts";

const ORDER: readonly EgressMode[] = ["raw", "redacted", "nothing"];
/** The stricter of two modes. */
export const stricter = (a: EgressMode, b: EgressMode): EgressMode => (ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b);

export const WITHHELD = "[withheld by the airlock]";

/** The event with its derived text sealed under `mode` (private: withheld whatever the mode). */
export const sealEvent = (e: DomainEvent, egress: Egress, mode: EgressMode, isPrivate: boolean, counts: Record<string, number>): DomainEvent => {
  const one = (s: string): string => {
    if (isPrivate || mode === "nothing") return WITHHELD;
    if (mode === "raw") return s;
    const r = egress.seal("agents", s, false);
    addCounts(counts, r.redactions);
    return r.text ?? WITHHELD;
  };
  switch (e.type) {
    case "InputScored": {
      const d = e.data;
      return {
        type: e.type,
        data: {
          ...d,
          coherence: { ...d.coherence, detail: one(d.coherence.detail) },
          hallucination: d.hallucination && { ...d.hallucination, detail: one(d.hallucination.detail) },
          question: { ...d.question, text: d.question.text === null ? null : isPrivate || mode === "nothing" ? null : one(d.question.text) },
        },
      };
    }
    case "InputAccepted":
    case "InputRejected":
    case "ShadowRecorded":
      return { ...e, data: { ...e.data, reason: one(e.data.reason) } } as DomainEvent;
    default:
      return e;
  }
};

/**
 * An EventStore whose appends carry derived text only as the airlock allows for agents (and, on a
 * remote server, for it): the stricter of the two modes. Reads pass through.
 */
export const sealedStore = (store: EventStore, egress: Egress, opts: { remote: boolean }): EventStore => {
  const mode = opts.remote ? stricter(egress.mode("agents"), egress.mode("nats-remote")) : egress.mode("agents");
  const append = async (pending: ReadonlyArray<Pending>) => {
    const priv = await egress.privateInputs();
    const counts: Record<string, number> = {};
    const sealed = pending.map((p) => {
      const inputId = (p.event.data as { inputId?: unknown }).inputId;
      return { ...p, event: sealEvent(p.event, egress, mode, typeof inputId === "string" && priv.has(inputId), counts) };
    });
    return store.append(sealed);
  };
  return new Proxy(store, {
    get: (target, prop) => {
      if (prop === "append") return append;
      const v = (target as unknown as Record<string | symbol, unknown>)[prop];
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
};
