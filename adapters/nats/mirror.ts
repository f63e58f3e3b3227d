import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { EVENT_STREAM } from "../../events/subjects.ts";
import { mirrorConfig, type MCP_ACCOUNT, type REPLICA_ACCOUNT } from "./accounts.ts";

export class MirrorError extends Error {
  override readonly name = "MirrorError";
}

/**
 * Makes (once) the mirror of the event stream in a REPLICA or MCP connection's own account and waits
 * until it has caught up, so a read right after opening sees what the Soul had appended. Reads then go
 * through the usual event store on the mirror, which has the origin's name and sequence numbers.
 */
export const ensureEventMirror = async (nc: NatsConnection, account: typeof REPLICA_ACCOUNT | typeof MCP_ACCOUNT, timeoutMs = 20_000): Promise<void> => {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(EVENT_STREAM);
  } catch {
    await jsm.streams.add(mirrorConfig(account));
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = (await jsm.streams.info(EVENT_STREAM)).mirror;
    if (m?.error) throw new MirrorError(`the mirror of ${EVENT_STREAM} cannot follow the origin: ${m.error.description}`);
    if (m && m.active >= 0 && m.lag === 0) return;
    if (Date.now() > deadline) throw new MirrorError(`the mirror of ${EVENT_STREAM} has not caught up after ${timeoutMs} ms (lag ${m?.lag ?? "?"}); is the server's config current?`);
    await new Promise((r) => setTimeout(r, 100));
  }
};
