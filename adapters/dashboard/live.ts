// The live timeline's lines: one per event, read in order from the log, with derived text sealed as
// agents read it (adapters/egress/derived.ts). Vectors and hashes stay out: a line is for people.
import type { DomainEvent } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import { sealEvent } from "../egress/derived.ts";
import type { TextView } from "../report/rejections.ts";

export interface LiveLine {
  readonly seq: number;
  readonly type: string;
  readonly time: string;
  readonly actor: string;
  /** What it is about (a night, an input, a satellite, a job) and, for a decision, its cause and reason. */
  readonly gist: string;
  /** nights, decisions, antechamber, training or other: the timeline colours lines by it. */
  readonly kind: "night" | "decision" | "antechamber" | "training" | "other";
}

const KINDS: Record<string, LiveLine["kind"]> = {
  NightStarted: "night", NightCompleted: "night",
  InputAccepted: "decision", InputRejected: "decision", ShadowRecorded: "decision",
  AntechamberClustered: "antechamber", MitosisProposed: "antechamber", MitosisApproved: "antechamber", MitosisDeclined: "antechamber", SatelliteBorn: "antechamber", DriftDetected: "antechamber", CentroidMoved: "antechamber",
};

const scalar = (v: unknown) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";
const shortHex = (s: string) => s.replace(/\b[0-9a-f]{40,64}\b/g, (h) => h.slice(0, 12));

/** The few fields a person reads first, then the other plain values; never a vector. */
const gistOf = (data: Record<string, unknown>): string => {
  const id = ["nightId", "inputId", "satelliteId", "clusterId", "proposalId", "jobId", "centroidId"].filter((k) => typeof data[k] === "string").slice(0, 2);
  const head = id.map((k) => shortHex(data[k] as string));
  const why = [typeof data.cause === "string" ? `${data.cause}:` : "", typeof data.reason === "string" ? data.reason : ""].filter(Boolean).join(" ");
  if (why) head.push(why);
  const rest = Object.entries(data).filter(([k, v]) => !id.includes(k) && k !== "cause" && k !== "reason" && scalar(v)).slice(0, 5).map(([k, v]) => `${k}=${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(3) : shortHex(String(v))}`);
  const counts = typeof data.counts === "object" && data.counts !== null ? [Object.entries(data.counts as Record<string, unknown>).map(([k, v]) => `${v} ${k}`).join(", ")] : [];
  const line = [...head, ...counts, ...rest].join("  ");
  return line.length > 220 ? `${line.slice(0, 217)}...` : line;
};

/** One event as a timeline line, its texts sealed as agents read them. */
export const liveLine = (e: Recorded<DomainEvent>, text: TextView): LiveLine => {
  const inputId = (e.data as { inputId?: unknown }).inputId;
  const sealed = sealEvent(e, text.egress, text.mode, typeof inputId === "string" && text.hidden.has(inputId), {});
  const kind = KINDS[e.type] ?? (/^(Training|Adapter|Host|Dataset)/.test(e.type) ? "training" : "other");
  return { seq: e.seq, type: e.type, time: e.metadata.time, actor: e.metadata.actor, gist: gistOf(sealed.data as Record<string, unknown>), kind };
};
