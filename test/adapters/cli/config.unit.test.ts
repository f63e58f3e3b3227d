import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../adapters/cli/config.ts";
import { isCalendarDay } from "../../../events/day.ts";
import { defaultPolicy, uncalibratedPolicy } from "../../../actors/salience/salience.policy.ts";
import { defaultRecipe } from "../../../actors/muscle/request.ts";

const homes: string[] = [];
const withConfig = (json: string) => {
  const home = mkdtempSync(join(tmpdir(), "sophont-config-"));
  homes.push(home);
  writeFileSync(join(home, "config.json"), json);
  return () => loadConfig({ home }, {});
};
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));

describe("config.json", () => {
  it("takes the README's example as it is", () => {
    const c = withConfig(JSON.stringify({ model: "/m.gguf", embedder: "/e.gguf", threads: 16, gpu: "auto", nightAt: "02:30", salience: { acceptSimilarity: 0.35 } }))();
    expect(c).toMatchObject({ threads: 16, gpu: "auto", nightAt: "02:30", modelPath: "/m.gguf" });
  });

  it.each([
    ['{"threads":"four"}', /"threads" must be a whole number/],
    ['{"threads":0}', /"threads" must be a whole number from 1/],
    ['{"threads":2.5}', /"threads"/],
    ['{"nightAt":"25:99"}', /"nightAt" must be a local time HH:MM/],
    ['{"replicas":2}', /"replicas" must be 1, 3 or 5/],
    ['{"gpu":"yes"}', /"gpu" must be "auto" or false/],
    ['{"natsUrl":"localhost"}', /"natsUrl" must be a NATS URL/],
    ['{"salience":[]}', /"salience" must be an object/],
    ['{"salience":{"calibrated":{"minTopc":-1}}}', /unknown salience.calibrated setting\(s\): minTopc; known: .*minTopic/],
    ['{"salience":{"calibrated":{"minTopic":"low"}}}', /salience.calibrated.minTopic must be a number/],
    ['{"treads":4}', /unknown key "treads"; known keys: .*threads/],
    ['{"training":{"minNewSft":1}}', /training.minNewSft must be a whole number of at least 2/],
    ['{"training":{"maxJobsPerDay":"two"}}', /training.maxJobsPerDay must be a whole number/],
    ['{"training":{"minNewSfts":4}}', /training.minNewSfts is not a setting; known: .*minNewSft/],
    ['{"training":{"host":""}}', /training.host must be a host name/],
    ['{"training":{"recipe":{"sftStep":4}}}', /training.recipe.sftStep is not a recipe key/],
    ['{"training":{"recipe":{"lr":"fast"}}}', /training.recipe.lr must be a finite number/],
    ['{"training":{"recipe":{"generalReplayRatio":1}}}', /training.recipe.generalReplayRatio must be a share of a batch from 0 to below 1/],
    ['{"training":{"recipe":{"generalReplayRatio":0.5,"anchorRatio":0.5}}}', /anchorRatio \+ generalReplayRatio must stay below 1/],
    ["[1,2]", /must hold a JSON object/],
    ["{", /not valid JSON/],
  ])("refuses %s, naming the key", (json, message) => {
    expect(withConfig(json)).toThrow(ConfigError);
    expect(withConfig(json)).toThrow(message);
  });

  it("judges with the default policy unless told, and names a changed one by its values", () => {
    expect(withConfig("{}")().policy).toEqual(defaultPolicy);
    const stricter = withConfig(JSON.stringify({ salience: { calibrated: { minTopic: -1 } } }))().policy;
    expect(stricter.calibrated).toEqual({ ...defaultPolicy.calibrated, minTopic: -1 });
    expect(stricter.version).toMatch(/^config-[0-9a-f]{8}$/);
    const plain = withConfig(JSON.stringify({ salience: { calibrated: false, version: "mine" } }))().policy;
    expect(plain).toEqual({ ...uncalibratedPolicy, version: "mine" });
  });

  it("reads the training rule's settings over their defaults", () => {
    const c = withConfig(JSON.stringify({ training: { minNewSft: 30, host: "local", recipe: { sftSteps: 8 } } }))();
    expect(c.training).toMatchObject({ auto: true, minNewSft: 30, minNewPairs: 8, maxJobsPerDay: 2, host: null });
    expect(c.training.recipe.sftSteps).toBe(8);
    expect(withConfig(JSON.stringify({ training: { host: "gpu1", auto: false } }))().training).toMatchObject({ host: "gpu1", auto: false });
  });

  it("gates on the general probe by default, takes every bound, and trains at the default recipe's rate", () => {
    const plain = withConfig("{}")().training;
    expect(plain.bounds).toEqual({ minGain: 0, maxForgetting: 0.1, maxProbeRise: 0.05 });
    expect(plain.recipe.lr).toBe(0.001);
    expect(plain.recipe.generalReplayRatio).toBe(defaultRecipe.generalReplayRatio);
    expect(withConfig(JSON.stringify({ training: { recipe: { generalReplayRatio: 0 } } }))().training.recipe.generalReplayRatio).toBe(0);
    const set = withConfig(JSON.stringify({ training: { bounds: { maxProbeRise: 0.02, maxForgetting: 0.2 } } }))().training.bounds;
    expect(set).toEqual({ minGain: 0, maxForgetting: 0.2, maxProbeRise: 0.02 });
    expect(withConfig(JSON.stringify({ training: { bounds: { maxProbe: 0.02 } } }))).toThrow(/training.bounds.maxProbe is not a bound; known: minGain, maxForgetting, maxProbeRise/);
  });

  it("checks the variables that override it", () => {
    const home = mkdtempSync(join(tmpdir(), "sophont-config-"));
    homes.push(home);
    expect(() => loadConfig({ home }, { SOPHONT_THREADS: "four" })).toThrow(/SOPHONT_THREADS/);
    expect(() => loadConfig({ home }, { SOPHONT_NIGHT_AT: "24:00" })).toThrow(/SOPHONT_NIGHT_AT/);
  });
});

describe("days", () => {
  it("are real calendar dates", () => {
    expect(["2026-01-31", "2024-02-29", "2000-02-29", "2026-12-31"].every(isCalendarDay)).toBe(true);
    expect(["2026-13-45", "2026-02-30", "2026-02-29", "1900-02-29", "2026-00-10", "2026-04-31", "2026-1-1", "x", "2026-01-01T00:00"].some(isCalendarDay)).toBe(false);
  });
});
