import { createHash } from "node:crypto";

/**
 * The id of the i-th event an actor decides in answer to a cause (event or command id). Derived, not
 * random: deciding again after a crash yields the same ids, so the server's dedup drops the repeat.
 */
export const derivedEventId = (actor: string, causeId: string, i: number | string): string => {
  const h = createHash("sha256").update(`${actor}\u0000${causeId}\u0000${i}`).digest("hex");
  // Formatted like a UUID (version 8: vendor-specific) so tools display it as one.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
