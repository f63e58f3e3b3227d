// What "the server did not answer" looks like through nats.js: on a JetStream cluster every request
// can land during an election (a node killed, restarted, or the meta leader moving), and it then
// times out, finds no responder, or is answered "temporarily unavailable". Those are waited out;
// everything else (a missing stream, a refused permission, a bad request) is said at once.
import type { NatsConnection } from "@nats-io/transport-node";
import { StoreError } from "../../events/store.ts";

/** JetStream API error codes the server gives while a cluster has no leader for the asset. */
const ELECTION_CODES = new Set([
  10008, // JetStream system temporarily unavailable
  10009, // JetStream cluster can not handle request (not the leader)
  10005, // no suitable peers for placement (a peer is down, the survivors are still deciding)
  10023, // insufficient resources (counted while a peer is away)
  10076, // JetStream cluster not assigned to this server
]);

/**
 * True when `e` says that the server (or the cluster's leader for what was asked) did not answer:
 * worth retrying with a bounded timeout until it does. Follows `cause` chains (a StoreError over a
 * read's failure, nats.js's RequestError over NoResponders).
 */
export const serverUnavailable = (e: unknown): boolean => {
  for (let x = e as { name?: unknown; message?: unknown; code?: unknown; status?: unknown; cause?: unknown } | undefined, depth = 0; x && depth < 8; x = x.cause as typeof x, depth++) {
    const name = String(x.name ?? "");
    if (name === "TimeoutError" || name === "NoResponders") return true;
    if (name === "StoreError" && (x as { transient?: unknown }).transient === true) return true;
    if (typeof x.code === "number" && ELECTION_CODES.has(x.code)) return true;
    if (x.status === 503 || x.code === 503 || x.code === 408) return true;
    if (/no responders|temporarily unavailable|timeout|no suitable peers|not the leader|heartbeats missed/i.test(String(x.message ?? ""))) return true;
  }
  return false;
};

/**
 * A failed request to the server as the port's StoreError: transient when the server did not
 * answer (an election on a cluster, a node restarting), which every actor waits out with backoff.
 */
export const storeError = (what: string, e: unknown): StoreError =>
  e instanceof StoreError ? e : new StoreError(`${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e, transient: serverUnavailable(e) });

/** How long a request is asked again on a cluster while it does not answer (an election takes ~5 s). */
export const CLUSTER_RETRY_MS = 60_000;

const clustered = new WeakSet<NatsConnection>();

/**
 * True when the connection's server is part of a cluster (where "no answer" is usually an election).
 * Remembered: while the client reconnects after its node died, it has no server info to ask.
 */
export const onCluster = (nc: NatsConnection): boolean => {
  if (nc.info?.cluster !== undefined) clustered.add(nc);
  return clustered.has(nc);
};

/**
 * Runs a request to the server, its failure said as a StoreError. On a cluster, a request that is
 * not answered (each try waits the client's timeout, 10 s) is asked again with backoff for up to
 * CLUSTER_RETRY_MS; on one server it fails at once (transient: the actors wait it out themselves).
 */
export const asked = <T>(nc: NatsConnection, what: string, f: () => Promise<T>): Promise<T> =>
  whileUnavailable(onCluster(nc) ? CLUSTER_RETRY_MS : 0, f, () => nc.isClosed()).catch((e: unknown): never => {
    throw storeError(what, e);
  });

/**
 * Runs `f` again with capped backoff while it fails because the server did not answer, for up to
 * `retryForMs` or until `stop()`; any other failure, or the last, is thrown as it came.
 */
export const whileUnavailable = async <T>(retryForMs: number, f: () => Promise<T>, stop: () => boolean, onRetry?: (e: unknown) => void): Promise<T> => {
  const giveUpAt = Date.now() + retryForMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      if (!serverUnavailable(e) || Date.now() >= giveUpAt || stop()) throw e;
      onRetry?.(e);
      await new Promise((r) => setTimeout(r, Math.min(2_000, 250 * 2 ** attempt)));
    }
  }
};
