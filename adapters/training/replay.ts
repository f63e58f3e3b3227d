// The shipped general-English replay set (replay/general-en.txt): paragraphs of the default English
// models' own training corpus, replayed beside the domain's rows so that a job does not forget
// general text. Never the probe: the probe measures forgetting and is never trained on.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { GeneralReplaySet } from "../../actors/muscle/datasets.ts";
import type { Recipe } from "../../events/training.ts";

export const generalReplayPath = fileURLToPath(new URL("replay/general-en.txt", import.meta.url));

/** The recorded rule that chose the set (adapters/llm/english/build/replay.py). */
export const GENERAL_REPLAY_RULE = "paragraphs of the English models' training part whose sha256 is 1 mod 200 (so 1 mod 50: never the held-out 0), no probe line";

/** The set's texts (one a line), its file's sha256 and the rule that chose it. */
export const loadGeneralReplay = (path = generalReplayPath): GeneralReplaySet => {
  const bytes = readFileSync(path);
  const texts = bytes.toString("utf8").split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  return { texts, sha256: createHash("sha256").update(bytes).digest("hex"), rule: GENERAL_REPLAY_RULE };
};

/** What a recipe replays, for the plan and the CLI (`sophont train --plan`). */
export const replayPlan = (recipe: Recipe, set: GeneralReplaySet = loadGeneralReplay()) => ({
  anchorRatio: recipe.anchorRatio,
  general: (recipe.generalReplayRatio ?? 0) > 0 ? { ratio: recipe.generalReplayRatio!, texts: set.texts.length, sha256: set.sha256, rule: set.rule } : null,
});

/** The plan's replay line: each replayed set's share of an SFT batch. */
export const replayLine = (p: ReturnType<typeof replayPlan>): string =>
  `replay: ${p.anchorRatio} of each SFT batch from the Golden Anchor's replay part, ` +
  (p.general ? `${p.general.ratio} from general English (${p.general.texts} texts, sha256 ${p.general.sha256.slice(0, 12)}…; ${p.general.rule})` : "no general English (generalReplayRatio 0)");
