import type { Projection } from "./projection.ts";

/** A node's copy of the content store that missed a forget and is not rebuilt yet. */
export interface StaleCopy {
  readonly node: string;
  readonly stream: string;
  /** When it was first found stale (since the last rebuild). */
  readonly since: string;
  /** The last ContentCopyStale: a rebuild covers it only if it began after it. */
  readonly staleSeq: number;
  readonly staleEventId: string;
  /** The inputs whose forget it missed (none for a copy found stale otherwise). */
  readonly inputIds: ReadonlyArray<string>;
  readonly reason: string;
  /** Rebuilds tried and not finished since it was found stale, and the last one's reason. */
  readonly failures: number;
  readonly lastFailure: { readonly reason: string; readonly next: string; readonly time: string } | null;
}

export interface StaleCopies {
  /** By node: the copies still to rebuild (stale minus rebuilt). */
  readonly pending: Readonly<Record<string, StaleCopy>>;
  /** Each node's last rebuild. */
  readonly rebuilt: Readonly<Record<string, { readonly seq: number; readonly time: string; readonly ms: number; readonly by: string }>>;
}

/**
 * The cluster nodes whose copy of the content store still holds erased texts on disk: found stale
 * by a forget, until a rebuild that began after the last such record. What `sophont up` and
 * `sophont cluster heal` rebuild, and `sophont status` shows.
 */
export const staleCopies: Projection<StaleCopies> = {
  name: "stale-copies",
  version: 1,
  canHandle: ["ContentCopyStale", "ContentCopyRebuilt", "ContentCopyRebuildFailed"],
  initialState: () => ({ pending: {}, rebuilt: {} }),
  evolve: (state, event) => {
    switch (event.type) {
      case "ContentCopyStale": {
        const d = event.data;
        const was = state.pending[d.node];
        const inputIds = d.inputId === null || was?.inputIds.includes(d.inputId) ? (was?.inputIds ?? []) : [...(was?.inputIds ?? []), d.inputId];
        const copy: StaleCopy = { node: d.node, stream: d.stream, since: was?.since ?? event.metadata.time, staleSeq: event.seq, staleEventId: event.metadata.id, inputIds, reason: d.reason, failures: was?.failures ?? 0, lastFailure: was?.lastFailure ?? null };
        return { ...state, pending: { ...state.pending, [d.node]: copy } };
      }
      case "ContentCopyRebuilt": {
        const d = event.data;
        const rebuilt = { ...state.rebuilt, [d.node]: { seq: event.seq, time: event.metadata.time, ms: d.ms, by: d.by } };
        const was = state.pending[d.node];
        if (!was || was.staleSeq > d.staleUpToSeq) return { ...state, rebuilt };
        const { [d.node]: _done, ...pending } = state.pending;
        return { pending, rebuilt };
      }
      case "ContentCopyRebuildFailed": {
        const d = event.data;
        const was = state.pending[d.node];
        if (!was) return state;
        return { ...state, pending: { ...state.pending, [d.node]: { ...was, failures: was.failures + 1, lastFailure: { reason: `${d.step}: ${d.reason}`, next: d.next, time: event.metadata.time } } } };
      }
      default:
        return state;
    }
  },
};
