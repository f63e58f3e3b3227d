import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { EVENT_STREAM } from "../../events/subjects.ts";
import { mirrorConfig, type MCP_ACCOUNT, type REPLICA_ACCOUNT } from "./accounts.ts";

/** How long a mirror's last sequence must stay put, at lag 0, to count as caught up. */
const QUIET_MS = 750;

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
  // A lag of 0 alone is no proof: a mirror reports it between two batches of its catch-up too (a replica
  // once read 159 of 251 events so). Caught up is a lag of 0 with the last sequence unchanged for QUIET_MS.
  let since: { seq: number; at: number } | undefined;
  for (;;) {
    const info = await jsm.streams.info(EVENT_STREAM);
    const m = info.mirror;
    if (m?.error) throw new MirrorError(`the mirror of ${EVENT_STREAM} cannot follow the origin: ${m.error.description}`);
    const seq = info.state.last_seq;
    if (!m || m.active < 0 || m.lag !== 0) since = undefined;
    else if (since?.seq !== seq) since = { seq, at: Date.now() };
    else if (Date.now() - since.at >= QUIET_MS) return;
    if (Date.now() > deadline) throw new MirrorError(`the mirror of ${EVENT_STREAM} has not caught up after ${timeoutMs} ms (lag ${m?.lag ?? "?"}); is the server's config current?`);
    await new Promise((r) => setTimeout(r, 100));
  }
};
