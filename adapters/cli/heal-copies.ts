import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { EventStore } from "../../events/store.ts";
import { applyEvent } from "../../projections/projection.ts";
import { ContentCopyStale } from "../../events/content.ts";
import { familySubjects } from "../../events/subjects.ts";
import { staleCopies, type StaleCopy } from "../../projections/stale-copies.projection.ts";
import { CONTENT_STREAM } from "../nats/content-store.ts";
import { CopyRebuildError, rebuildCopy, type CopyRebuild, type RebuildStep } from "../nats/stream-copies.ts";

/** Who heals: the running `up`, a `forget` that finds the node back, or a person's `sophont cluster heal`. */
export type HealBy = "up" | "forget" | "cli";

/** A copy to rebuild: a pending stale copy, or a node a person named (staleSeq 0, no stale record). */
export type HealTarget = Pick<StaleCopy, "node" | "staleSeq"> & { readonly staleEventId: string | null; readonly lastFailure?: StaleCopy["lastFailure"] };

export type HealOutcome =
  | { readonly node: string; readonly outcome: "rebuilt"; readonly rebuild: CopyRebuild }
  | { readonly node: string; readonly outcome: "waiting"; readonly reason: string; readonly next: string }
  | { readonly node: string; readonly outcome: "failed"; readonly step: RebuildStep; readonly reason: string; readonly next: string };

const metadata = (actor: string, correlationId: string, causationId: string | null) => ({ id: randomUUID(), time: new Date().toISOString(), actor, causationId, correlationId });

/** Records that these nodes' copies missed the forget of `inputId`: they stay pending until rebuilt. */
export const recordStaleCopies = async (store: EventStore, nodes: ReadonlyArray<string>, inputId: string | null, reason: string, actor: string): Promise<void> => {
  if (nodes.length === 0) return;
  await store.append(nodes.map((node) => ({ event: { type: "ContentCopyStale" as const, data: { node, stream: CONTENT_STREAM, inputId, reason } }, metadata: metadata(actor, inputId ?? node, null) })));
};

const CONTENT_EVENTS = familySubjects(ContentCopyStale.family);

/**
 * The copies still to rebuild: the stale-copies fold over the content family's events, walked with
 * the stream leader's message get rather than a consumer, because this runs right after a node died
 * (in forget), when a new consumer can be placed on the dead node and never answer (nats-server 2.9.10).
 */
export const pendingCopies = async (store: EventStore): Promise<StaleCopy[]> => {
  let state = staleCopies.initialState();
  for (let e = await store.nextOnSubject(CONTENT_EVENTS); e; e = await store.nextOnSubject(CONTENT_EVENTS, e.seq + 1)) state = applyEvent(staleCopies, state, e);
  return Object.values(state.pending);
};

export interface HealOptions {
  readonly by: HealBy;
  readonly actor: string;
  /** Record a failure only when its reason differs from the copy's last one (`up` looks again every minute). */
  readonly quietRepeats?: boolean;
}

/**
 * Rebuilds each target's copy of the content store, one at a time (each resizes the stream), and
 * records what came of it: ContentCopyRebuilt, or ContentCopyRebuildFailed with the step and what
 * to do next. A node that is not back yet (down, catching up) is left waiting with nothing recorded.
 */
export const healCopies = async (nc: NatsConnection, store: EventStore, targets: ReadonlyArray<HealTarget>, options: HealOptions): Promise<HealOutcome[]> => {
  const outcomes: HealOutcome[] = [];
  for (const t of targets) {
    const t0 = Date.now();
    const common = { node: t.node, stream: CONTENT_STREAM, by: options.by, staleUpToSeq: t.staleSeq };
    try {
      const rebuild = await rebuildCopy(nc, t.node);
      const { node: _n, stream: _s, ...times } = rebuild;
      await store.append([{ event: { type: "ContentCopyRebuilt", data: { ...common, ...times } }, metadata: metadata(options.actor, t.node, t.staleEventId) }]);
      outcomes.push({ node: t.node, outcome: "rebuilt", rebuild });
    } catch (e) {
      const err = e instanceof CopyRebuildError ? e : new CopyRebuildError(t.node, "check", (e as Error).message, "try again");
      if (err.waiting) {
        outcomes.push({ node: t.node, outcome: "waiting", reason: err.reason, next: err.next });
        continue;
      }
      const reason = `${err.step}: ${err.reason}`;
      if (!(options.quietRepeats && t.lastFailure?.reason === reason)) {
        const data = { ...common, ms: Date.now() - t0, step: err.step, reason: err.reason, next: err.next };
        await store.append([{ event: { type: "ContentCopyRebuildFailed", data }, metadata: metadata(options.actor, t.node, t.staleEventId) }]);
      }
      outcomes.push({ node: t.node, outcome: "failed", step: err.step, reason: err.reason, next: err.next });
    }
  }
  return outcomes;
};

/** One line per outcome, for a person. */
export const describeHeal = (o: HealOutcome): string =>
  o.outcome === "rebuilt"
    ? `${o.node}: its copy of the content store rebuilt in ${(o.rebuild.ms / 1000).toFixed(1)} s (removal ${o.rebuild.removal}; from leader ${o.rebuild.leader})`
    : o.outcome === "waiting"
      ? `${o.node}: not rebuilt yet: ${o.reason}; ${o.next}`
      : `${o.node}: rebuild stopped at ${o.step}: ${o.reason}; ${o.next}`;
