// config.json's `training` object: when the Soul asks for a job by itself, where it runs, the recipe.
import { defaultRecipe } from "../../actors/muscle/request.ts";
import { defaultRuleThresholds } from "../../actors/soul/training.rule.ts";
import { defaultBounds } from "../../actors/soul/evaluation.ts";
import { EvaluationBounds as EvaluationBoundsSchema, type EvaluationBounds, type Recipe } from "../../events/training.ts";

export interface TrainingConfig {
  /** Whether the Soul under `sophont up` requests jobs by itself (default true). */
  readonly auto: boolean;
  readonly minNewSft: number;
  readonly minNewPairs: number;
  readonly maxJobsPerDay: number;
  readonly jobMinutes: number;
  /** A host of the hosts file; null: the local provider (this machine). */
  readonly host: string | null;
  /** The recipe jobs get: the default recipe's keys (actors/muscle/request.ts), overridden by `training.recipe`. */
  readonly recipe: Recipe;
  /** The evaluation's gate, recorded in every AdapterEvaluated: `training.bounds` over the defaults. */
  readonly bounds: EvaluationBounds;
}

const WHOLE: Record<string, number> = { minNewSft: 2, minNewPairs: 1, maxJobsPerDay: 1 };

/** Checks `training` key by key; each error names the key and what it must be. */
export const trainingFrom = (raw: unknown, fail: (msg: string) => Error): TrainingConfig => {
  const o = (raw ?? {}) as Record<string, unknown>;
  if (typeof o !== "object" || Array.isArray(o)) throw fail("`training` must be an object");
  const known = ["auto", "jobMinutes", "host", "recipe", "bounds", ...Object.keys(WHOLE)];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw fail(`training.${k} is not a setting; known: ${known.join(", ")}`);
  const out: Record<string, unknown> = { ...defaultRuleThresholds, auto: true, host: null };
  for (const [k, min] of Object.entries(WHOLE)) {
    if (o[k] === undefined) continue;
    if (!Number.isInteger(o[k]) || (o[k] as number) < min) throw fail(`training.${k} must be a whole number of at least ${min}, got ${JSON.stringify(o[k])}`);
    out[k] = o[k];
  }
  if (o.auto !== undefined && typeof o.auto !== "boolean") throw fail(`training.auto must be true or false, got ${JSON.stringify(o.auto)}`);
  if (o.auto !== undefined) out.auto = o.auto;
  if (o.jobMinutes !== undefined && !(typeof o.jobMinutes === "number" && o.jobMinutes > 0 && o.jobMinutes <= 7 * 24 * 60)) throw fail(`training.jobMinutes must be a number of minutes above 0 (at most a week), got ${JSON.stringify(o.jobMinutes)}`);
  if (o.jobMinutes !== undefined) out.jobMinutes = o.jobMinutes;
  if (o.host !== undefined && !(o.host === null || (typeof o.host === "string" && o.host.length > 0))) throw fail(`training.host must be a host name of \`sophont host list\`, "local" or null, got ${JSON.stringify(o.host)}`);
  if (typeof o.host === "string") out.host = o.host === "local" ? null : o.host;
  return { ...(out as Omit<TrainingConfig, "recipe" | "bounds">), recipe: recipeFrom(o.recipe, fail), bounds: boundsFrom(o.bounds, fail) };
};

/** Every bound the evaluation knows (the schema's keys, optional ones included). */
const BOUND_KEYS: readonly string[] = Object.keys(EvaluationBoundsSchema.fields);

/** `training.bounds`: fractions (minGain may be negative: a tolerated loss), each a finite number. */
const boundsFrom = (raw: unknown, fail: (msg: string) => Error): EvaluationBounds => {
  if (raw === undefined) return defaultBounds;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw fail("training.bounds must be an object");
  const out: Record<string, number> = { ...(defaultBounds as Record<string, number>) };
  for (const [k, v] of Object.entries(raw)) {
    if (!BOUND_KEYS.includes(k)) throw fail(`training.bounds.${k} is not a bound; known: ${BOUND_KEYS.join(", ")}`);
    if (typeof v !== "number" || !Number.isFinite(v) || (k !== "minGain" && v < 0)) throw fail(`training.bounds.${k} must be a ${k === "minGain" ? "" : "non-negative "}fraction (0.02 = 2%), got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out as unknown as EvaluationBounds;
};

/** Recipe keys with no default: the sequence length the plan sizes (default: the model's context, at most 2048), the trainer's back-end and its HF model folder. */
const OPTIONAL_RECIPE_KEYS: Record<string, "number" | "string" | "object"> = { seqLen: "number", backend: "string", hfModel: "string", epochs: "number", maxSteps: "number", candidates: "object", generalReplayRatio: "number" };

/** The default recipe overridden key by key; a key it lacks, or a value of another type, is refused. */
export const recipeFrom = (raw: unknown, fail: (msg: string) => Error, where = "training.recipe", base: Recipe = defaultRecipe): Recipe => {
  if (raw === undefined) return base;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw fail(`${where} must be an object`);
  const keys = base as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(raw)) {
    if (!(k in keys) && !(k in OPTIONAL_RECIPE_KEYS)) throw fail(`${where}.${k} is not a recipe key; known: ${[...Object.keys(keys), ...Object.keys(OPTIONAL_RECIPE_KEYS)].join(", ")}`);
    const want = k in keys ? (Array.isArray(keys[k]) ? "array" : typeof keys[k]) : OPTIONAL_RECIPE_KEYS[k];
    const got = Array.isArray(v) ? "array" : typeof v;
    if (want !== got || (got === "number" && !Number.isFinite(v))) throw fail(`${where}.${k} must be a ${want === "number" ? "finite number" : want}, got ${JSON.stringify(v)}`);
  }
  const given = raw as Partial<Recipe>;
  const replayed = { anchorRatio: given.anchorRatio ?? base.anchorRatio, generalReplayRatio: given.generalReplayRatio ?? base.generalReplayRatio ?? 0 };
  for (const [k, v] of Object.entries(replayed)) if (v < 0 || v >= 1) throw fail(`${where}.${k} must be a share of a batch from 0 to below 1, got ${v}`);
  if (replayed.anchorRatio + replayed.generalReplayRatio >= 1) throw fail(`${where}: anchorRatio + generalReplayRatio must stay below 1 (the rest of each batch is the SFT rows), got ${replayed.anchorRatio} + ${replayed.generalReplayRatio}`);
  // Steps given without epochs are what the user wants trained: the default's epochs would override them.
  if ((given.sftSteps !== undefined || given.dpoSteps !== undefined) && given.epochs === undefined) {
    const { epochs: _epochs, maxSteps: _maxSteps, ...fixed } = base;
    return { ...fixed, ...given };
  }
  return { ...base, ...given };
};
