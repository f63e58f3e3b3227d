// The egress module: the only way out of Node A. Every text bound for the GPU host, the judge, an
// OTLP endpoint, a remote NATS server or an agent passes `admit` (private inputs stay, "nothing"
// keeps every text, "redacted" applies the rules), and every send is recorded as EgressRecorded
// (destination, bytes, sha256 of what was sent, policy version, redactions). HTTP leaves through
// `post`, which records what it sent.
import { createHash } from "node:crypto";
import { derivedEventId } from "../../actors/ids.ts";
import type { Airlock, EgressDestination, EgressFacts, EgressMode } from "../../actors/ports.ts";
import type { EventStore } from "../../events/store.ts";
import type { EventData } from "../../events/catalogue.ts";
import { policyRecord, type AirlockPolicy } from "./policy.ts";
import { redact } from "./redact.ts";

export type EgressRecordedData = EventData<"EgressRecorded">;

/** An egress's id: the same destination and key make the same id, so a repeat is dropped by the log. */
export const egressIdOf = (destination: EgressDestination, key: string): string => sha256Hex(`${destination}\0${key}`).slice(0, 32);

export const sha256Hex = (b: Uint8Array | string): string => createHash("sha256").update(b).digest("hex");

/** A URL as it may be recorded: no user, password, query or fragment (they may hold keys). */
export const safeTarget = (url: string): string => {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(not a URL)";
  }
};

export interface EgressOptions {
  readonly actor?: string;
  readonly clock?: () => Date;
  /** Inputs known private without reading the log (tests, a caller that just marked them). */
  readonly privateInputs?: ReadonlySet<string>;
}

export class Egress implements Airlock {
  private policyRecorded = false;
  private privateCache: { at: number; ids: ReadonlySet<string> } | undefined;

  constructor(private readonly store: EventStore, readonly policy: AirlockPolicy, private readonly options: EgressOptions = {}) {}

  get policyVersion(): string {
    return this.policy.version;
  }

  mode(destination: EgressDestination): EgressMode {
    return this.policy.destinations[destination];
  }

  /** The inputs marked private in the log (re-read at most every 2 s). */
  async privateInputs(): Promise<ReadonlySet<string>> {
    const now = Date.now();
    if (this.privateCache && now - this.privateCache.at < 2_000) return this.privateCache.ids;
    const ids = new Set(this.options.privateInputs ?? []);
    for await (const e of this.store.read({ types: new Set(["InputMarkedPrivate"]) })) if (e.type === "InputMarkedPrivate") ids.add(e.data.inputId);
    this.privateCache = { at: now, ids };
    return ids;
  }

  /** Pure part of `admit`: the text under this destination's mode, for an input known private or not. */
  seal(destination: EgressDestination, text: string, isPrivate: boolean): { text: string | null; redactions: Record<string, number> } {
    const mode = this.mode(destination);
    if (isPrivate || mode === "nothing") return { text: null, redactions: {} };
    if (mode === "raw") return { text, redactions: {} };
    const r = redact(text, this.policy.rules);
    return { text: r.text, redactions: { ...r.counts } };
  }

  async admit(destination: EgressDestination, text: string, inputId: string | null) {
    const isPrivate = inputId !== null && (await this.privateInputs()).has(inputId);
    return this.seal(destination, text, isPrivate);
  }

  private time = () => (this.options.clock?.() ?? new Date()).toISOString();

  /** The policy in the log, once per version (its id derives from the version: a repeat is dropped). */
  async recordPolicy(): Promise<void> {
    if (this.policyRecorded) return;
    await this.appendPolicy(policyRecord(this.policy));
    this.policyRecorded = true;
  }

  /** A policy's AirlockPolicySet (this one's, or one a process that had no log open kept). */
  async appendPolicy(record: EventData<"AirlockPolicySet">): Promise<void> {
    const id = derivedEventId("airlock", record.version, "policy");
    await this.store.append([{ event: { type: "AirlockPolicySet", data: record }, metadata: { id, time: this.time(), actor: this.options.actor ?? "airlock", causationId: null, correlationId: record.version } }]);
  }

  async record(key: string, f: EgressFacts): Promise<void> {
    const bytes = typeof f.sent === "string" ? Buffer.byteLength(f.sent) : f.sent.byteLength;
    await this.recordDigest(key, { destination: f.destination, target: f.target, purpose: f.purpose, redactions: f.redactions, texts: f.texts, withheld: f.withheld }, { bytes, sha256: sha256Hex(f.sent) });
  }

  /** As `record`, for a sender that hashed what it sent itself (several requests under one record). */
  async recordDigest(key: string, f: Omit<EgressFacts, "sent">, sent: { readonly bytes: number; readonly sha256: string }): Promise<void> {
    await this.appendRecorded(key, { egressId: egressIdOf(f.destination, key), destination: f.destination, target: f.target, purpose: f.purpose, mode: this.mode(f.destination), policyVersion: this.policy.version, bytes: sent.bytes, sha256: sent.sha256, redactions: { ...f.redactions }, withheld: f.withheld, texts: f.texts });
  }

  /** Appends an EgressRecorded made earlier (a record kept on disk by a process that had no log open). */
  async appendRecorded(key: string, data: EgressRecordedData, time?: string): Promise<void> {
    if (data.policyVersion === this.policy.version) await this.recordPolicy();
    await this.store.append([{
      event: { type: "EgressRecorded", data },
      metadata: { id: derivedEventId("airlock", data.egressId, 0), time: time ?? this.time(), actor: this.options.actor ?? "airlock", causationId: null, correlationId: key },
    }]);
  }

  /**
   * POSTs `body` (already admitted) to `url` and records the egress once the request was made,
   * whatever the answer. Headers are sent, never recorded (they carry keys).
   */
  async post(destination: EgressDestination, url: string, body: string | Uint8Array, init: { headers: Record<string, string>; signal?: AbortSignal; key: string; purpose: string; redactions: Readonly<Record<string, number>>; texts: number; withheld: number }): Promise<Response> {
    if (this.mode(destination) === "nothing" && init.texts > 0) throw new Error(`the airlock sends no text to ${destination} (policy ${this.policy.version})`);
    try {
      return await fetch(url, { method: "POST", headers: init.headers, body, ...(init.signal ? { signal: init.signal } : {}) });
    } finally {
      await this.record(init.key, { destination, target: safeTarget(url), purpose: init.purpose, sent: body, redactions: init.redactions, texts: init.texts, withheld: init.withheld });
    }
  }
}
