/**
 * Capabilities several actors share. Interfaces only; adapters implement them.
 */

/** Content-addressed storage for texts and artifacts: events carry only the sha256. */
export interface ContentStore {
  /** Stores bytes under their sha256 (hex) and returns it; storing the same bytes twice is a no-op. */
  put(bytes: Uint8Array): Promise<string>;
  /** The bytes, or undefined when they were never stored or were forgotten. */
  get(sha256: string): Promise<Uint8Array | undefined>;
  /** Removes the bytes for good (forgetting an input). */
  delete(sha256: string): Promise<void>;
  has(sha256: string): Promise<boolean>;
}

/** Where a text may be sent from Node A (the airlock's destinations), and how. */
export type EgressDestination = "gpu-host" | "judge" | "otlp" | "nats-remote" | "agents";
export type EgressMode = "raw" | "redacted" | "nothing";

/** What an egress record says besides its id, the policy version and the mode (which the airlock adds). */
export interface EgressFacts {
  readonly destination: EgressDestination;
  readonly target: string;
  readonly purpose: string;
  /** Exactly the bytes that left (hashed and counted, not stored). */
  readonly sent: Uint8Array | string;
  readonly redactions: Readonly<Record<string, number>>;
  readonly withheld: number;
  readonly texts: number;
}

/**
 * The privacy airlock, as actors see it: what of a text may leave for a destination, and the record
 * of what left. Implemented by adapters/egress, the only way out of Node A.
 */
export interface Airlock {
  readonly policyVersion: string;
  mode(destination: EgressDestination): EgressMode;
  /** The text as it may leave (null: it stays here: private input, or "nothing"), and the redactions made. */
  admit(destination: EgressDestination, text: string, inputId: string | null): Promise<{ readonly text: string | null; readonly redactions: Readonly<Record<string, number>> }>;
  /** Appends EgressRecorded (and, the first time, the policy itself); `key` makes a repeat a no-op. */
  record(key: string, facts: EgressFacts): Promise<void>;
}
