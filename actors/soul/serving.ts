// The adapter that serves is a fact of the log (the last AdapterPromoted): every process that scores
// loads it from there before it scores anything, so InputScored names what really measured it.
import type { EventStore } from "../../events/store.ts";
import { lineage } from "../../projections/lineage.projection.ts";
import { projectAt } from "../../projections/runner.ts";
import type { ContentStore } from "../ports.ts";

/** What restoring needs of a model: make an adapter ready from its bytes, and serve with it. */
export interface ServingModel {
  load(sha256: string, bytes: Uint8Array): Promise<void>;
  use(sha256: string | null): Promise<void>;
}

/** Loads and serves the promoted adapter of the log (null: none was promoted, the base model serves). */
export const restoreServing = async (store: EventStore, content: ContentStore, model: ServingModel): Promise<string | null> => {
  const serving = (await projectAt(store, lineage, "now")).serving;
  if (serving) {
    const bytes = await content.get(serving.sha256);
    if (!bytes) throw new Error(`the serving adapter ${serving.sha256} (job ${serving.jobId}) is not in the content store; \`sophont adapters\` shows the lineage`);
    await model.load(serving.sha256, bytes);
  }
  await model.use(serving?.sha256 ?? null);
  return serving?.sha256 ?? null;
};
