import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import { CONTENT_STREAM } from "./content-store.ts";

/** The steps of a rebuild, as ContentCopyRebuildFailed names them. */
export type RebuildStep = "check" | "stepdown" | "remove" | "shrink" | "grow" | "catch-up";

/** What a rebuild did, step by step (ms each), and from which leader the new copy was made. */
export interface CopyRebuild {
  readonly node: string;
  readonly stream: string;
  readonly ms: number;
  readonly removeMs: number;
  readonly shrinkMs: number;
  readonly growMs: number;
  /** How many times R3 was asked for before a third copy was placed (0: remapped to a spare node). */
  readonly growTries: number;
  readonly catchUpMs: number;
  /** The peer removal's answer ("removed", "peer remap failed", or "already removed" when resumed). */
  readonly removal: string;
  readonly leader: string;
}

/**
 * A rebuild refused or stopped. `waiting`: refused before anything changed because the node or the
 * cluster is not ready (the node down, a copy catching up): try again later, it is no failure.
 */
export class CopyRebuildError extends Error {
  override readonly name = "CopyRebuildError";
  constructor(readonly node: string, readonly step: RebuildStep, readonly reason: string, readonly next: string, readonly waiting = false) {
    super(`${node}'s copy of the content store not rebuilt (${step}): ${reason}; ${next}`);
  }
}

export interface RebuildOptions {
  readonly stream?: string;
  /** The most each wait (stepdown, removal, the new copy current) may take. Default 60 s. */
  readonly stepTimeoutMs?: number;
}

/** How long a resize to R3 is given to show its third copy before it is asked again (it shows 1.5-2 s after it, measured). */
const GROW_WAIT_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const peersOf = (i: StreamInfo): string[] => [i.cluster?.leader, ...(i.cluster?.replicas ?? []).map((r) => r.name)].filter((n): n is string => typeof n === "string" && n !== "");

/**
 * Removes `node`'s copy of the content stream and has it made again from the live messages only,
 * so that bytes the node kept of erased messages (it was down during a forget and caught up from the
 * leader's snapshot, which on nats-server 2.9.10 drops them from its index without overwriting them)
 * go with its old files. The steps: the leader steps down if it is that node; the peer is removed
 * (with no spare node 2.9.10 answers "peer remap failed" and removes it all the same, files
 * included); the stream goes to R2 and back to R3, and the only node without a copy gets the new
 * one; it returns once that copy is current.
 *
 * Refused (waiting, nothing changed) unless the stream is R3, the node is online and current and
 * so are the two others. Safe to call again: a rebuild stopped after the removal or at R2 resumes
 * from there (the node is then not among the stream's peers); one that finished is simply done again.
 */
export const rebuildCopy = async (nc: NatsConnection, node: string, options: RebuildOptions = {}): Promise<CopyRebuild> => {
  const stream = options.stream ?? CONTENT_STREAM;
  const stepMs = options.stepTimeoutMs ?? 60_000;
  // 10 s: on a cluster a request can land during a leader election (~4-5 s on 2.9.10).
  const jsm = await jetstreamManager(nc, { timeout: 10_000, checkAPI: false });
  const t0 = Date.now();
  const fail = (step: RebuildStep, reason: string, next: string, waiting = false) => new CopyRebuildError(node, step, reason, next, waiting);
  const info = (step: RebuildStep) => jsm.streams.info(stream).catch((e: Error) => Promise.reject(fail(step, `the stream's info is not answered: ${e.message}`, "try again once the cluster has a leader for it", step === "check")));
  const until = async (step: RebuildStep, what: string, ok: (i: StreamInfo) => boolean, next: string, ms = stepMs): Promise<StreamInfo> => {
    for (const end = Date.now() + ms; ; await sleep(250)) {
      const i = await jsm.streams.info(stream).catch(() => undefined);
      if (i && ok(i)) return i;
      if (Date.now() > end) throw fail(step, `${what} not within ${ms / 1000} s${i ? ` (peers ${peersOf(i).join(", ")})` : ""}`, next);
    }
  };

  const first = await info("check");
  const replicas = first.config.num_replicas ?? 1;
  const peers = peersOf(first);
  const resumed = !peers.includes(node) && peers.length === 2 && (replicas === 3 || replicas === 2);
  if (!resumed) {
    if (replicas !== 3 || peers.length !== 3) throw fail("check", `the stream is R${replicas} with copies on ${peers.join(", ") || "no node"}`, "a rebuild needs R3 with a copy on every node", true);
    if (!peers.includes(node)) throw fail("check", `${node} holds no copy (copies on ${peers.join(", ")})`, "name one of the stream's nodes", true);
    const r = first.cluster?.replicas ?? [];
    const notReady = r.filter((p) => p.offline || !p.current).map((p) => `${p.name} ${p.offline ? "offline" : `behind by ${p.lag ?? "?"}`}`);
    if (notReady.length > 0) throw fail("check", `not every copy is current (${notReady.join(", ")})`, `start ${node} if it is down, and try again once every copy is current`, true);
    if (first.cluster?.leader === node) {
      await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, "", { timeout: 10_000 }).catch((e: Error) => Promise.reject(fail("stepdown", `the leader's stepdown is not answered: ${e.message}`, "try again")));
      await until("stepdown", "a leader other than the node", (i) => !!i.cluster?.leader && i.cluster.leader !== node && peersOf(i).length === 3, "try again once the stream has a leader");
    }
  }

  const tRemove = Date.now();
  let removal = "already removed";
  if (!resumed) {
    const answer = await nc.request(`$JS.API.STREAM.PEER.REMOVE.${stream}`, JSON.stringify({ peer: node }), { timeout: 10_000 }).catch((e: Error) => Promise.reject(fail("remove", `the peer removal is not answered: ${e.message}`, "try again: a removal that went through is resumed")));
    const r = answer.json<{ success?: boolean; error?: { description?: string } }>();
    removal = r.success ? "removed" : (r.error?.description ?? "no answer");
    await until("remove", `${node}'s copy removed`, (i) => !peersOf(i).includes(node), `try again; if ${node} keeps its copy, its answer was: ${removal}`);
  }
  const tShrink = Date.now();
  let tGrow = tShrink;
  let growTries = 0;
  // A cluster with a spare node remaps the copy there: the stream is whole again without a resize.
  // Else R2 then R3. That R3 is sometimes left on two nodes, the third never placed (measured on
  // 2.9.10: 5 of 10 rebuilds of the meta leader's own copy, none of 14 of other nodes'), and a second
  // R2 and R3 places it: the pair is asked again until the third copy shows.
  for (const end = Date.now() + stepMs; ; ) {
    const now = await info("shrink");
    if (peersOf(now).length >= 3) break;
    if (Date.now() > end) throw fail("grow", `the stream stays on ${peersOf(now).join(", ")} after ${growTries} resize(s) to R3`, `try again: it resumes at R${now.config.num_replicas ?? "?"}`);
    if ((now.config.num_replicas ?? 1) !== 2) {
      await jsm.streams.update(stream, { ...now.config, num_replicas: 2 }).catch((e: Error) => Promise.reject(fail("shrink", `the update to R2 was refused: ${e.message}`, "try again: the removal is done and is resumed")));
    }
    if (growTries === 0) tGrow = Date.now();
    growTries++;
    await jsm.streams.update(stream, { ...now.config, num_replicas: 3 }).catch((e: Error) => Promise.reject(fail("grow", `the update back to R3 was refused: ${e.message}`, `the stream is at R2: start ${node} if it is down and try again (it resumes from here)`)));
    await until("grow", "a third copy placed", (i) => peersOf(i).length >= 3, "", GROW_WAIT_MS).catch(() => undefined);
  }
  const tCatchUp = Date.now();
  const whole = await until("catch-up", "three current copies", (i) => peersOf(i).length === 3 && (i.cluster?.replicas ?? []).every((p) => p.current && !p.offline), "try again later: the stream is at R3 and its new copy is still catching up");
  const t1 = Date.now();
  return { node, stream, ms: t1 - t0, removeMs: tShrink - tRemove, shrinkMs: tGrow - tShrink, growMs: tCatchUp - tGrow, growTries, catchUpMs: t1 - tCatchUp, removal, leader: whole.cluster?.leader ?? "" };
};
