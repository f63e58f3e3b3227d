// The season on the default English models (adapters/llm/english) with real text: twelve nights of
// Debian's `science` package descriptions (six a night), a Golden Anchor from four other sections,
// the default recipe capped (24 steps a phase, three candidates), the probe bound at 2% over the
// base. It measures what general-English replay does to forgetting (issue 13): about 15 minutes on
// two cores, so it runs when SOPHONT_SEASON_ENGLISH=1 (and Debian's long descriptions are there);
// SOPHONT_SEASON_REPLAY sets the recipe's generalReplayRatio (default: the default recipe's).
import { describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { defaultRecipe } from "../../actors/muscle/request.ts";
import type { Recipe } from "../../events/training.ts";
import { englishModels } from "../../adapters/llm/english/models.ts";
import { debianDescriptionsAvailable, sectionDescriptions } from "../support/debian-corpus.ts";
import { runSeason, seasonTable } from "./support.ts";

const NIGHTS = 12;
const PER_NIGHT = 6;
const ratio = process.env.SOPHONT_SEASON_REPLAY !== undefined ? Number(process.env.SOPHONT_SEASON_REPLAY) : defaultRecipe.generalReplayRatio;
// Capped for the test (the product's candidates and steps are not): three candidates, 24 steps a phase.
const recipe: Recipe = { ...defaultRecipe, maxSteps: 24, generalReplayRatio: ratio, candidates: { methods: ["stack", "task-arithmetic", "ties"], taskLambdas: [0.5], maxRank: 16, maxCandidates: 3 } };

describe.skipIf(process.env.SOPHONT_SEASON_ENGLISH !== "1" || !debianDescriptionsAvailable())("a season of Debian science descriptions on the default English models", () => {
  it("promotes at least twice with the probe within 2% of the base; a harmful job rolls back", async () => {
    const science = sectionDescriptions("science", NIGHTS * PER_NIGHT).map((d) => d.text);
    const { rows, seconds } = await runSeason({
      lmPath: englishModels().lmPath, nights: NIGHTS, minNewSft: 12, recipe, bounds: { minGain: 0, maxForgetting: 0.1, maxProbeRise: 0.02 },
      texts: (n) => science.slice(n * PER_NIGHT, (n + 1) * PER_NIGHT),
      anchors: ["games", "sound", "mail", "editors"].flatMap((s) => sectionDescriptions(s, 4).map((d) => d.text)),
      harmful: { afterNight: 6, lr: 0.05 },
    });
    const table = seasonTable(rows);
    const jobs = rows.filter((r) => r.jobId !== "-");
    console.log(`${table}\n\nseason (generalReplayRatio ${ratio}): ${NIGHTS} nights in ${seconds.toFixed(0)} s; general rows per job ${jobs.map((r) => r.generalRows).join(", ")}; probe unknown share ${jobs[0]?.unknownShare}`);
    if (process.env.SOPHONT_SEASON_TABLE) writeFileSync(process.env.SOPHONT_SEASON_TABLE, `${table}\n\ngeneralReplayRatio ${ratio}, ${seconds.toFixed(0)} s\n`);

    const harmful = rows.find((r) => r.jobId === "season-harmful")!;
    expect(harmful.end?.type).toBe("AdapterRolledBack");
    expect(harmful.servingAfter).toBe(harmful.servingBefore);
    const promoted = rows.filter((r) => r.verdict === "promoted");
    expect(promoted.length).toBeGreaterThanOrEqual(2);
    for (const r of promoted) {
      expect(r.gain).toBeGreaterThan(0);
      expect(r.probeVsBase).toBeLessThanOrEqual(0.02);
    }
  }, 3_600_000);
});
