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
