import type { EventStore, Until } from "../events/store.ts";
import { cosine } from "../events/vectors.ts";
import { centroids, type Centroids } from "./centroids.projection.ts";
import { ledgers } from "./ledgers.projection.ts";
import { nightSummaries } from "./night-summaries.projection.ts";
import { projectAt } from "./runner.ts";

/** What changed between two points of the log, read from the same folds as everything else. */
export interface Diff {
  readonly centroids: {
    readonly born: string[];
    readonly gone: string[];
    readonly moved: Array<{ id: string; cosineDistance: number }>;
  };
  readonly ledgers: Record<"sft" | "shadow" | "anchor", { added: string[]; removed: string[] }>;
  readonly nights: { readonly started: string[]; readonly completed: string[] };
}

const keysDiff = (a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>) => ({
  added: [...b.keys()].filter((k) => !a.has(k)),
  removed: [...a.keys()].filter((k) => !b.has(k)),
});

const centroidDiff = (a: Centroids, b: Centroids): Diff["centroids"] => ({
  born: Object.keys(b).filter((k) => !a[k]),
  gone: Object.keys(a).filter((k) => !b[k]),
  moved: Object.keys(b)
    .filter((k) => a[k] && a[k]!.vector.length === b[k]!.vector.length)
    .map((k) => ({ id: k, cosineDistance: 1 - cosine(a[k]!.vector, b[k]!.vector) }))
    .filter((m) => m.cosineDistance > 1e-12),
});

/** Folds the log up to both points and compares: centroids born and moved, ledger entries, nights. */
export const diffBetween = async (store: EventStore, from: Until, to: Until): Promise<Diff> => {
  const [ca, cb, la, lb, na, nb] = await Promise.all([
    projectAt(store, centroids, from),
    projectAt(store, centroids, to),
    projectAt(store, ledgers, from),
    projectAt(store, ledgers, to),
    projectAt(store, nightSummaries, from),
    projectAt(store, nightSummaries, to),
  ]);
  return {
    centroids: centroidDiff(ca, cb),
    ledgers: { sft: keysDiff(la.sft, lb.sft), shadow: keysDiff(la.shadow, lb.shadow), anchor: keysDiff(la.anchor, lb.anchor) },
    nights: {
      started: Object.keys(nb).filter((k) => !na[k]),
      completed: Object.keys(nb).filter((k) => nb[k]!.completedSeq && !na[k]?.completedSeq),
    },
  };
};
