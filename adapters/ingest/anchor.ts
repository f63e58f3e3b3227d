import type { ContentStore } from "../../actors/ports.ts";
import { derivedEventId } from "../../actors/ids.ts";
import type { EventStore } from "../../events/store.ts";
import { inputIdOf, parseInputs, formatOf } from "./parse.ts";

/**
 * Adds texts to the Golden Anchor set: one per paragraph (text), per record (JSON Lines) or the whole
 * Markdown file. Texts go to the content store; adding the same text again appends nothing.
 */
export const addAnchors = async (
  deps: { store: EventStore; content: ContentStore; known: ReadonlySet<string> },
  path: string,
  bytes: Uint8Array,
  correlationId: string,
): Promise<{ added: number; known: number; refused: Array<{ index: number; reason: string; detail: string }> }> => {
  const pieces = parseInputs(bytes, { format: formatOf(path), maxBytes: 64 * 1024 });
  const refused: Array<{ index: number; reason: string; detail: string }> = [];
  const events = [];
  let known = 0;
  for (const p of pieces) {
    if ("refusal" in p) {
      refused.push({ index: p.index, reason: p.refusal, detail: p.detail });
      continue;
    }
    const anchorId = inputIdOf(p.text);
    if (deps.known.has(anchorId)) {
      known++;
      continue;
    }
    const contentSha256 = await deps.content.put(Buffer.from(p.text, "utf8"));
    events.push({
      event: { type: "AnchorAdded" as const, data: { anchorId, contentSha256, bytes: p.bytes, source: `${path}#${p.index}` } },
      metadata: { id: derivedEventId("anchor", anchorId, 0), time: new Date().toISOString(), actor: "cli", causationId: null, correlationId },
    });
  }
  const appended = events.length > 0 ? await deps.store.append(events) : [];
  return { added: appended.filter((a) => !a.duplicate).length, known: known + appended.filter((a) => a.duplicate).length, refused };
};
