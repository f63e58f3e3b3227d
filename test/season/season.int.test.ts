// A season: twelve nights on a test clock (a day passes per night), the domain's texts growing each
// day, through the real actors on a real nats-server: the Soul and its training rule, the Muscle with
// the local provider running the real trainer on the tiny GGUF, the Soul's evaluation choosing among
// candidates with the general probe set (the driver: ./support.ts). Inputs are accepted as Salience
// would (Salience's own judgement is tested elsewhere); one job with a harmful recipe is asked for mid-season.
import { describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { tinyRecipe } from "../../actors/muscle/request.ts";
import type { Recipe } from "../../events/training.ts";
import { corpusLines } from "../adapters/llm/support.ts";
import { runSeason, seasonTable } from "./support.ts";

const NIGHTS = 12;
const PER_NIGHT = 6;
// Capped for CI (the product's candidates and steps are not): three candidates, 24 steps a phase.
const recipe: Recipe = { ...tinyRecipe, maxSteps: 24, candidates: { methods: ["stack", "task-arithmetic", "ties"], taskLambdas: [0.5], maxRank: 16, maxCandidates: 3 } };

describe("a season of twelve nights", () => {
  it("trains by itself at least three times, each promotion lowers held-out perplexity, the probe stays within 2% of the base, a harmful job rolls back", async () => {
    const { rows, seconds } = await runSeason({
      nights: NIGHTS, minNewSft: 12, recipe, bounds: { minGain: 0, maxForgetting: 0.1, maxProbeRise: 0.02 },
      texts: (n) => corpusLines("heldout", "sailing").slice(n * PER_NIGHT, (n + 1) * PER_NIGHT),
      anchors: ["cooking", "medicine", "astronomy", "gardening"].flatMap((t) => corpusLines("heldout", t).slice(0, 4)),
      harmful: { afterNight: 6, lr: 5 },
    });
    const table = seasonTable(rows);
    console.log(`${table}\n\nseason: ${NIGHTS} nights in ${seconds.toFixed(0)} s`);
    if (process.env.SOPHONT_SEASON_TABLE) writeFileSync(process.env.SOPHONT_SEASON_TABLE, table + "\n");

    const harmful = rows.find((r) => r.jobId === "season-harmful")!;
    expect(harmful.end?.type).toBe("AdapterRolledBack");
    expect(harmful.end?.data).toMatchObject({ servingSha256: harmful.servingBefore });
    expect(harmful.servingAfter).toBe(harmful.servingBefore);
    const soulJobs = rows.filter((r) => r.rule !== "-" && r.jobId !== "season-harmful");
    expect(soulJobs.length).toBeGreaterThanOrEqual(3);
    const promoted = rows.filter((r) => r.verdict === "promoted");
    expect(promoted.length).toBeGreaterThanOrEqual(2);
    for (const r of promoted) {
      expect(r.gain, `${r.jobId} lowers held-out perplexity against the adapter before it`).toBeGreaterThan(0);
      expect(r.probeVsBase, `${r.jobId}'s probe perplexity against the base`).toBeLessThanOrEqual(0.02);
    }
  }, 1_200_000);
});
