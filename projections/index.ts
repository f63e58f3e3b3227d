import type { AnyProjection } from "./projection.ts";
import { eventCounts } from "./event-counts.projection.ts";
import { nightSummaries } from "./night-summaries.projection.ts";
import { inputsSummary } from "./inputs.projection.ts";
import { antechamberView } from "./antechamber.projection.ts";
import { centroids } from "./centroids.projection.ts";
import { lineage } from "./lineage.projection.ts";
import { staleCopies } from "./stale-copies.projection.ts";

/** Every read model Sophont keeps; the runner and `sophont replay` take them from here. */
export const allProjections: ReadonlyArray<AnyProjection> = [eventCounts, nightSummaries, inputsSummary, centroids, antechamberView, lineage, staleCopies];

export const projectionNamed = (name: string): AnyProjection | undefined => allProjections.find((p) => p.name === name);
