import { Schema } from "effect";
import { defineEvent } from "./define.ts";

// Events of the content store's copies on a cluster: a node's copy that missed a forget's erase (it
// was down or behind), and that copy rebuilt from the live messages (or the rebuild failed). A
// node's events share its subject (`sophont.evt.content.<node>`); the copies still to rebuild are a
// projection (projections/stale-copies.projection.ts): stale minus rebuilt.

/** A server name as one subject token (names made by `sophont cluster conf` are n1..nN already). */
export const nodeToken = (node: string): string => node.replace(/[^A-Za-z0-9_\-:=]/g, "_").slice(0, 200) || "_";
const byNode = (d: { node: string }) => nodeToken(d.node);

/** Who rebuilt it: the running `up`, the `forget` that found the node back, or a person's `cluster heal`. */
const By = Schema.Literals(["up", "forget", "cli"]);

/** What every rebuild attempt records, whether it finished or not. */
const Attempt = {
  node: Schema.String,
  stream: Schema.String,
  by: By,
  /** The sequence of the last ContentCopyStale of this node when the rebuild began (0: none); a later one stays pending. */
  staleUpToSeq: Schema.Finite,
  ms: Schema.Finite,
};

export const ContentCopyStale = defineEvent({
  type: "ContentCopyStale",
  family: "content",
  description:
    "A cluster node's copy of the content store was not current when a forget ended (down or behind): it missed the erase, and once it catches up the forgotten text stays in its block file until the copy is rebuilt.",
  schema: Schema.Struct({
    node: Schema.String,
    /** The content store's stream (OBJ_sophont_content). */
    stream: Schema.String,
    /** The input whose forget it missed; null when found stale otherwise. */
    inputId: Schema.NullOr(Schema.String),
    reason: Schema.String,
  }),
  entity: byNode,
});

export const ContentCopyRebuilt = defineEvent({
  type: "ContentCopyRebuilt",
  family: "content",
  description:
    "A node's copy of the content store was removed (its files with it) and made again from the live messages only: the steps' times, what the removal answered, and the last stale record it covers.",
  schema: Schema.Struct({
    ...Attempt,
    removeMs: Schema.Finite,
    shrinkMs: Schema.Finite,
    growMs: Schema.Finite,
    /** Resizes to R3 asked for before a third copy was placed (2.9.10 sometimes places two only); 0 when remapped to a spare node. */
    growTries: Schema.Finite,
    catchUpMs: Schema.Finite,
    /** The peer removal's answer: with no spare node nats-server 2.9.10 says "peer remap failed" and still removes the copy. */
    removal: Schema.String,
    /** The stream's leader the new copy was made from. */
    leader: Schema.String,
  }),
  entity: byNode,
});

export const ContentCopyRebuildFailed = defineEvent({
  type: "ContentCopyRebuildFailed",
  family: "content",
  description:
    "A rebuild of a node's copy of the content store was tried and did not finish: the step it stopped at, the reason, and what to do next. The copy stays pending.",
  schema: Schema.Struct({
    ...Attempt,
    step: Schema.Literals(["check", "stepdown", "remove", "shrink", "grow", "catch-up"]),
    reason: Schema.String,
    next: Schema.String,
  }),
  entity: byNode,
});

export const contentDefinitions = [ContentCopyStale, ContentCopyRebuilt, ContentCopyRebuildFailed] as const;
