// Telemetry's egress records, batched. An exporter sends a batch every few seconds; one event per
// batch would put hundreds an hour into the log of a long `sophont up`. So the batches a process
// sends are gathered into a window: one EgressRecorded per window (at most one a minute, and one when
// the process lets go of its log), with the bytes summed and the sha256 of the request bodies
// concatenated in the order they were sent (a receiver that keeps them can check it). Spans are
// never held back for the record: a batch sent while no log is open (before a command connects,
// or its own last spans, flushed after it closed the log) is kept in the home's
// `traces/otlp-egress.jsonl` and appended by the next process that opens the log.
import { createHash, randomUUID, type Hash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { EventStore } from "../../events/store.ts";
import { waitAtMost } from "../../actors/wait.ts";
import { Egress, egressIdOf, type EgressRecordedData } from "./egress.ts";
import { policyRecord, type AirlockPolicy } from "./policy.ts";
import type { EventData } from "../../events/catalogue.ts";
import { addCounts } from "./redact.ts";

/** One batch handed to the exporter: its request body and what sealing it counted. */
export interface OtlpBatch {
  readonly body: Uint8Array;
  readonly spans: number;
  readonly texts: number;
  readonly withheld: number;
  readonly redactions: Readonly<Record<string, number>>;
}

/** A window's record is appended once it is this old, at the next batch or when the log is let go. */
export const WINDOW_MS = 60_000;

interface Window {
  readonly key: string;
  readonly startedAt: Date;
  batches: number;
  spans: number;
  bytes: number;
  readonly hash: Hash;
  texts: number;
  withheld: number;
  readonly redactions: Record<string, number>;
}

/** Where records of batches sent with no log open wait for the next process that opens it. */
export const spoolFile = (home: string): string => join(home, "traces", "otlp-egress.jsonl");

export class OtlpEgressLog {
  private window: Window | undefined;
  private egress: Egress | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: { readonly home: string; readonly policy: AirlockPolicy; readonly target: string; readonly flushSpans: () => Promise<void>; readonly clock?: () => Date }) {}

  private now = () => this.opts.clock?.() ?? new Date();

  /** Called by the exporter for each batch it hands over. */
  sent(b: OtlpBatch): void {
    const w = (this.window ??= { key: `otlp:${randomUUID()}`, startedAt: this.now(), batches: 0, spans: 0, bytes: 0, hash: createHash("sha256"), texts: 0, withheld: 0, redactions: {} });
    w.batches++, (w.spans += b.spans), (w.bytes += b.body.byteLength), (w.texts += b.texts), (w.withheld += b.withheld);
    w.hash.update(b.body);
    addCounts(w.redactions, b.redactions);
    if (this.egress && this.now().getTime() - w.startedAt.getTime() >= WINDOW_MS) void this.closeWindow();
  }

  private data(w: Window): EgressRecordedData {
    const span = `${w.startedAt.toISOString().slice(11, 19)}-${this.now().toISOString().slice(11, 19)}`;
    return {
      egressId: egressIdOf("otlp", w.key), destination: "otlp", target: this.opts.target, mode: this.opts.policy.destinations.otlp, policyVersion: this.opts.policy.version,
      purpose: `telemetry: ${w.batches} OTLP export(s) of ${w.spans} span(s), ${span} UTC (sha256 of the request bodies in order)`,
      bytes: w.bytes, sha256: w.hash.copy().digest("hex"), redactions: { ...w.redactions }, withheld: w.withheld, texts: w.texts,
    };
  }

  /** Ends the current window: appended to the log when one is open, else kept in the spool. */
  private closeWindow(): Promise<void> {
    const w = this.window;
    this.window = undefined;
    if (!w) return this.writing;
    const data = this.data(w);
    const egress = this.egress;
    this.writing = this.writing.then(async () => {
      if (egress) {
        try {
          return await egress.appendRecorded(w.key, data, w.startedAt.toISOString());
        } catch {
          // the log went away meanwhile: the spool keeps it
        }
      }
      this.spool(w.key, data, w.startedAt);
    });
    return this.writing;
  }

  private spool(key: string, data: EgressRecordedData, at: Date): void {
    mkdirSync(join(this.opts.home, "traces"), { recursive: true });
    appendFileSync(spoolFile(this.opts.home), JSON.stringify({ key, time: at.toISOString(), data, policy: policyRecord(this.opts.policy) }) + "\n");
  }

  /** The log is open (a command connected): records go there from now on. */
  attach(store: EventStore): Promise<void> {
    this.egress = new Egress(store, this.opts.policy, { actor: "telemetry" });
    return this.writing;
  }

  /** The log is about to close: the spans so far are exported and recorded while it is open. */
  async detach(boundMs: number): Promise<void> {
    await waitAtMost(this.opts.flushSpans(), boundMs);
    await this.closeWindow();
    this.egress = undefined;
  }

  /** At the process's end: whatever is left goes to the spool. */
  finish(): Promise<void> {
    this.egress = undefined;
    return this.closeWindow();
  }
}


/**
 * Appends the records earlier processes kept in the home's spool (each once: its id derives from its
 * key, so a repeat is dropped) and empties it. A torn last line is dropped with the spool.
 */
export const drainSpool = async (home: string, store: EventStore, policy: AirlockPolicy): Promise<number> => {
  const file = spoolFile(home);
  if (!existsSync(file)) return 0;
  const taken = `${file}.${process.pid}`;
  try {
    renameSync(file, taken);
  } catch {
    return 0; // another process took it
  }
  const egress = new Egress(store, policy, { actor: "telemetry" });
  let n = 0;
  try {
    for (const line of readFileSync(taken, "utf8").split("\n")) {
      let rec: { key: string; time: string; data: EgressRecordedData; policy?: EventData<"AirlockPolicySet"> };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        continue;
      }
      if (rec.data?.egressId !== egressIdOf("otlp", rec.key)) continue;
      if (rec.policy?.version === rec.data.policyVersion) await egress.appendPolicy(rec.policy);
      await egress.appendRecorded(rec.key, rec.data, rec.time);
      n++;
    }
    rmSync(taken, { force: true });
  } catch (e) {
    // Back into the spool for the next process (appended ones are dropped then as repeats).
    appendFileSync(file, readFileSync(taken));
    rmSync(taken, { force: true });
    throw e;
  }
  return n;
};

let active: OtlpEgressLog | undefined;

/** The process's telemetry egress log (set by adapters/telemetry when spans go to an OTLP endpoint). */
export const setActiveOtlpLog = (log: OtlpEgressLog | undefined): void => void (active = log);

/**
 * Called by the runtime when it opens the log: drains the spool and, when this process exports
 * spans, records them there from now on. Returns what to call before the log closes.
 */
export const attachTelemetryEgress = async (home: string, store: EventStore, policy: AirlockPolicy): Promise<() => Promise<void>> => {
  await drainSpool(home, store, policy).catch(() => 0);
  const log = active;
  if (!log) return async () => undefined;
  await log.attach(store);
  return () => log.detach(500);
};
