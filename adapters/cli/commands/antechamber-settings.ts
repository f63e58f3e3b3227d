import { join } from "node:path";
import { defaultClusteringParams } from "../../../actors/antechamber/clustering.ts";
import { defaultDriftThresholds } from "../../../actors/mitosis/drift.ts";
import type { MitosisConfig } from "../../../actors/mitosis/mitosis.decider.ts";
import { defaultMitosisThresholds } from "../../../actors/mitosis/mitosis.rules.ts";
import type { ClusteringParams } from "../../../events/antechamber.ts";
import { ConfigError, type Config } from "../config.ts";

/** Where the Antechamber's vectors live, how it clusters, and the rules of Mitosis and drift. */
export interface AntechamberSettings {
  readonly dir: string;
  readonly clustering: ClusteringParams;
  readonly mitosis: MitosisConfig;
}

const numbers = <T extends object>(defaults: T, given: unknown, what: string): T => {
  if (given === undefined) return defaults;
  if (typeof given !== "object" || given === null) throw new ConfigError(`${what} must be an object`);
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, v] of Object.entries(given)) {
    if (!(k in defaults)) throw new ConfigError(`${what}.${k} is not a setting; known: ${Object.keys(defaults).join(", ")}`);
    if (typeof v !== typeof (defaults as Record<string, unknown>)[k]) throw new ConfigError(`${what}.${k} must be a ${typeof (defaults as Record<string, unknown>)[k]}`);
    out[k] = v;
  }
  return out as T;
};

/**
 * The settings from config.json (`antechamber`, `mitosis`, `drift` objects) and SOPHONT_MITOSIS_APPROVAL
 * ("auto" or "command"), over the defaults. Every value used is recorded in the events it shapes.
 */
export const antechamberSettings = (config: Config, env: NodeJS.ProcessEnv = process.env): AntechamberSettings => {
  const thresholds = numbers(defaultMitosisThresholds, config.file.mitosis, "mitosis");
  const approval = env.SOPHONT_MITOSIS_APPROVAL ?? thresholds.approval;
  if (approval !== "auto" && approval !== "command") throw new ConfigError(`SOPHONT_MITOSIS_APPROVAL must be auto or command, got ${approval}`);
  return {
    dir: join(config.home, "vectors"),
    clustering: numbers(defaultClusteringParams, config.file.antechamber, "antechamber"),
    mitosis: { thresholds: { ...thresholds, approval }, drift: numbers(defaultDriftThresholds, config.file.drift, "drift") },
  };
};
