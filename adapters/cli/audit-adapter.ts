import type { DomainEvent, EventData } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import type { EventStore, Until } from "../../events/store.ts";
import { eventSubject } from "../../events/subjects.ts";
import { NotFoundError, resolveId } from "./format.ts";

type Of<T extends DomainEvent["type"]> = Extract<Recorded<DomainEvent>, { type: T }>;

/** The whole story of one self-update, from the log alone. */
export interface AdapterAudit {
  readonly jobId: string;
  readonly requested: { seq: number; time: string; by: string; recipe: EventData<"TrainingRequested">["recipe"]; ledgerAtSeq: number; mergeWith: readonly string[] };
  /** Every input it trained on (and the held-out ones it was measured on), with the decision that put it in the ledger. */
  readonly inputs: Array<{ inputId: string; seq: number; sha256: string; role: "trained" | "held-out"; accepted: { seq: number; nightId: string; reason: string; policy: string; similarity: number; surprise: number } | null; forgotten: boolean }>;
  readonly anchor: number;
  readonly shadowPairs: number;
  readonly host: { name: string; provider: string } | null;
  readonly datasets: Array<{ name: string; sha256: string }>;
  readonly progress: { events: number; last: { step: number; of: number; loss: number | null; etaSeconds: number | null } | null };
  readonly trained: Of<"AdapterTrained">["data"] | null;
  readonly evaluated: Of<"AdapterEvaluated">["data"] | null;
  readonly outcome: { type: "AdapterPromoted" | "AdapterRolledBack" | "TrainingFailed"; seq: number; by: string; detail: string } | null;
}

/** Finds the job by id, or by its adapter's sha256 (a prefix of 6 or more will do), and tells its story. */
export const auditAdapter = async (store: EventStore, key: string, until: Until = "now"): Promise<AdapterAudit | undefined> => {
  // Every name of a job (its id, its adapter's and micro-adapter's sha256) -> the job; a prefix naming two jobs is refused.
  const names = new Map<string, string>();
  for await (const e of store.read({ until, types: new Set(["TrainingRequested", "AdapterTrained"]) })) {
    if (e.type === "TrainingRequested") names.set(e.data.jobId, e.data.jobId);
    if (e.type === "AdapterTrained") names.set(e.data.adapterSha256, e.data.jobId).set(e.data.microSha256, e.data.jobId);
  }
  let jobId: string;
  try {
    jobId = resolveId(key, names, "adapter or job");
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
  const events: Recorded<DomainEvent>[] = [];
  for await (const e of store.read({ subject: eventSubject("training", jobId), until })) events.push(e);
  const req = events.find((e): e is Of<"TrainingRequested"> => e.type === "TrainingRequested");
  if (!req) return undefined;
  const refs = [...req.data.ledger.sft.map((r) => ({ ...r, role: "trained" as const })), ...req.data.ledger.heldOut.map((r) => ({ ...r, role: "held-out" as const }))];
  const ids = new Set(refs.map((r) => r.id));
  const accepted = new Map<string, Of<"InputAccepted">>();
  const forgotten = new Set<string>();
  for await (const e of store.read({ until, types: new Set(["InputAccepted", "InputForgotten"]) })) {
    if (e.type === "InputAccepted" && ids.has(e.data.inputId)) accepted.set(e.data.inputId, e);
    if (e.type === "InputForgotten" && ids.has(e.data.inputId)) forgotten.add(e.data.inputId);
  }
  const find = <T extends DomainEvent["type"]>(t: T) => events.filter((e): e is Of<T> => e.type === t);
  const progress = find("TrainingProgressed");
  const lastP = progress.at(-1);
  const host = find("HostProvisioned")[0];
  const end = events.find((e) => e.type === "AdapterPromoted" || e.type === "AdapterRolledBack" || e.type === "TrainingFailed");
  return {
    jobId,
    requested: { seq: req.seq, time: req.metadata.time, by: req.data.requestedBy, recipe: req.data.recipe, ledgerAtSeq: req.data.ledger.atSeq, mergeWith: req.data.mergeWith },
    inputs: refs.map((r) => {
      const a = accepted.get(r.id);
      return {
        inputId: r.id, seq: r.seq, sha256: r.sha256, role: r.role, forgotten: forgotten.has(r.id),
        accepted: a ? { seq: a.seq, nightId: a.data.nightId, reason: a.data.reason, policy: a.data.policy.version, similarity: a.data.similarity, surprise: a.data.surprise } : null,
      };
    }),
    anchor: req.data.ledger.anchor.length,
    shadowPairs: req.data.ledger.shadow.length,
    host: host ? { name: host.data.host, provider: host.data.provider } : null,
    datasets: find("DatasetUploaded").flatMap((e) => e.data.files.map((f) => ({ name: f.name, sha256: f.sha256 }))),
    progress: { events: progress.length, last: lastP ? { step: lastP.data.step, of: lastP.data.of, loss: lastP.data.loss, etaSeconds: lastP.data.etaSeconds } : null },
    trained: find("AdapterTrained")[0]?.data ?? null,
    evaluated: find("AdapterEvaluated")[0]?.data ?? null,
    outcome: end
      ? {
          type: end.type as "AdapterPromoted" | "AdapterRolledBack" | "TrainingFailed",
          seq: end.seq,
          by: end.metadata.actor,
          detail: end.type === "AdapterRolledBack" ? end.data.reason : end.type === "TrainingFailed" ? end.data.error : `serves from seq ${end.seq}`,
        }
      : null,
  };
};
