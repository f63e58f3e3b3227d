import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { createHash } from "node:crypto";
import type { PolicyValues } from "../../events/salience.ts";
import { defaultPolicy } from "../../actors/salience/salience.policy.ts";
import { trainingFrom, type TrainingConfig } from "./training-config.ts";
import { HHMM, nightWindowFrom, type NightWindow } from "./night-window.ts";
import { clockFrom, type Clock } from "./test-clock.ts";
import { airlockFrom, AirlockPolicyError, type AirlockPolicy } from "../egress/policy.ts";
import { judgeFrom, JudgeConfigError, type JudgeConfig } from "../judge/config.ts";

/**
 * Everything Sophont reads from its surroundings, read in one place: flags, then `SOPHONT_*`
 * variables, then `$SOPHONT_HOME/config.json`, then defaults. Secrets stay out of this object's
 * printed form (see `redacted`).
 */
export interface Config {
  readonly home: string;
  /** An external NATS server (a JetStream cluster included); absent: the CLI embeds its own. */
  readonly natsUrl: string | undefined;
  readonly natsUser: string;
  readonly natsPassword: string | undefined;
  /** Stream replicas when Sophont creates its streams (3 on a cluster). */
  readonly replicas: number;
  /** Local time of the Soul's nightly schedule under `sophont up` (HH:MM), if any: `night.at`. */
  readonly nightAt: string | undefined;
  /** When a night may run: `night.at` and `night.deadline` in config.json (or SOPHONT_NIGHT_AT / SOPHONT_NIGHT_DEADLINE). */
  readonly night: NightWindow;
  /** The process's clock: the system's, or the test clock SOPHONT_TEST_CLOCK asks for (time-travel testing). */
  readonly clock: Clock;
  /** Things worth saying once about the config (an old key still honoured). */
  readonly notes: readonly string[];
  /** The Soul's GGUF; absent: the project's default English models (adapters/llm/english). */
  readonly modelPath: string | undefined;
  /** The embedding model's GGUF (default: the scoring model itself, or the default English embedder). */
  readonly embedderPath: string | undefined;
  /** llama.cpp threads (default 1 for the default English models, else half the cores). */
  readonly threads: number | undefined;
  readonly gpu: false | "auto";
  /** Salience's thresholds: the defaults, overridden by `salience` in config.json. */
  readonly policy: PolicyValues;
  /** When the Soul asks for training by itself, where it runs, the recipe (config.json `training`). */
  readonly training: TrainingConfig;
  /** The privacy airlock: what may leave Node A, per destination (config.json `airlock`). */
  readonly airlock: AirlockPolicy;
  /** The frontier judge (config.json `judge`), opt-in; undefined: none. */
  readonly judge: JudgeConfig | undefined;
  /** The dashboard: where it listens, its token (SOPHONT_DASHBOARD_TOKEN only: never in a file), and whether `sophont up` serves it. */
  readonly dashboard: DashboardConfig;
  readonly file: Record<string, unknown>;
}

export interface DashboardConfig {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly token: string | undefined;
  /** `sophont up` serves it too (config.json `dashboard.up`, SOPHONT_DASHBOARD=1, or `up --dashboard`). */
  readonly withUp: boolean;
}

/** The dashboard's default port on loopback. */
export const DASHBOARD_PORT = 8484;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const readFileConfig = (home: string): Record<string, unknown> => {
  const path = join(home, "config.json");
  if (!existsSync(path)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError(`${path} is not valid JSON (${(e as Error).message}); fix or remove it`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`${path} must hold a JSON object ({ "key": value, ... })`);
  checkFileConfig(raw as Record<string, unknown>, path);
  return raw as Record<string, unknown>;
};

const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Every key config.json may hold, with what its value must be. An unknown key is refused (a typo
 * would otherwise be ignored in silence); the objects are checked key by key where they are read.
 */
const FILE_KEYS: Record<string, { readonly what: string; readonly ok: (v: unknown) => boolean }> = {
  $schema: { what: "a string", ok: (v) => typeof v === "string" },
  natsUrl: { what: "a NATS URL such as nats://host:4222 (several: comma-separated)", ok: (v) => typeof v === "string" && v.split(",").every((u) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(u.trim())) },
  natsUser: { what: "a non-empty string", ok: (v) => typeof v === "string" && v.length > 0 },
  replicas: { what: "1, 3 or 5", ok: (v) => v === 1 || v === 3 || v === 5 },
  nightAt: { what: "a local time HH:MM (00:00 to 23:59) (the old name of night.at)", ok: (v) => typeof v === "string" && HHMM.test(v) },
  night: { what: "an object { at, deadline } of local times HH:MM", ok: isObject },
  model: { what: "the path of a GGUF file (a non-empty string)", ok: (v) => typeof v === "string" && v.length > 0 },
  embedder: { what: "the path of a GGUF file (a non-empty string)", ok: (v) => typeof v === "string" && v.length > 0 },
  threads: { what: "a whole number from 1 to 1024", ok: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 1024 },
  gpu: { what: "\"auto\" or false", ok: (v) => v === "auto" || v === false },
  salience: { what: "an object", ok: isObject },
  antechamber: { what: "an object", ok: isObject },
  mitosis: { what: "an object", ok: isObject },
  drift: { what: "an object", ok: isObject },
  training: { what: "an object", ok: isObject },
  airlock: { what: "an object { destinations, private, rules }", ok: isObject },
  judge: { what: "an object { provider, model, apiKeyEnv, when, caps, prices }", ok: isObject },
  dashboard: {
    what: "an object { host?, port?, up? } (the token comes from SOPHONT_DASHBOARD_TOKEN, never from a file)",
    ok: (v) => isObject(v) && Object.entries(v as Record<string, unknown>).every(([k, x]) => (k === "host" && typeof x === "string" && x.length > 0) || (k === "port" && Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 65535) || (k === "up" && typeof x === "boolean")),
  },
};

const shown = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 60);

const checkFileConfig = (file: Record<string, unknown>, path: string): void => {
  for (const [k, v] of Object.entries(file)) {
    const rule = FILE_KEYS[k];
    if (!rule) throw new ConfigError(`${path}: unknown key ${JSON.stringify(k.slice(0, 60))}; known keys: ${Object.keys(FILE_KEYS).filter((x) => x !== "$schema").join(", ")}`);
    if (!rule.ok(v)) throw new ConfigError(`${path}: "${k}" must be ${rule.what}, got ${shown(v)}`);
  }
};

export const loadConfig = (flags: { home?: string | undefined; natsUrl?: string | undefined }, env: NodeJS.ProcessEnv = process.env): Config => {
  const home = resolve(flags.home ?? env.SOPHONT_HOME ?? join(homedir(), ".sophont"));
  const file = readFileConfig(home);
  const str = (k: string) => (typeof file[k] === "string" ? (file[k] as string) : undefined);
  const replicas = Number(env.SOPHONT_REPLICAS ?? file.replicas ?? 1);
  if (![1, 3, 5].includes(replicas)) throw new ConfigError(`SOPHONT_REPLICAS must be 1, 3 or 5, got ${replicas}`);
  const { window: night, notes } = nightWindowFrom(file, env, (m) => new ConfigError(`${join(home, "config.json")}: ${m}`));
  const threads = env.SOPHONT_THREADS !== undefined && env.SOPHONT_THREADS !== "" ? Number(env.SOPHONT_THREADS) : typeof file.threads === "number" ? file.threads : undefined;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 1024)) throw new ConfigError(`SOPHONT_THREADS must be a whole number from 1 to 1024, got ${env.SOPHONT_THREADS}`);
  return {
    home,
    natsUrl: flags.natsUrl || env.SOPHONT_NATS_URL || str("natsUrl") || undefined,
    natsUser: env.SOPHONT_NATS_USER ?? str("natsUser") ?? "soul",
    natsPassword: env.SOPHONT_NATS_PASSWORD,
    replicas,
    nightAt: night.at,
    night,
    clock: clockFrom(env.SOPHONT_TEST_CLOCK, (m) => new ConfigError(m)),
    notes,
    modelPath: env.SOPHONT_MODEL || str("model") || undefined,
    embedderPath: env.SOPHONT_EMBEDDER || str("embedder") || undefined,
    threads,
    gpu: (env.SOPHONT_GPU ?? file.gpu) === "auto" ? "auto" : false,
    policy: policyFrom(file.salience),
    training: trainingFrom(file.training, (m) => new ConfigError(`${join(home, "config.json")}: ${m}`)),
    airlock: airlockOf(file.airlock),
    judge: judgeOf(file.judge),
    dashboard: dashboardOf(file.dashboard as Record<string, unknown> | undefined, env),
    file,
  };
};

const dashboardOf = (file: Record<string, unknown> | undefined, env: NodeJS.ProcessEnv): DashboardConfig => {
  const port = env.SOPHONT_DASHBOARD_PORT !== undefined && env.SOPHONT_DASHBOARD_PORT !== "" ? Number(env.SOPHONT_DASHBOARD_PORT) : ((file?.port as number | undefined) ?? DASHBOARD_PORT);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new ConfigError(`SOPHONT_DASHBOARD_PORT must be a port number (0 to 65535), got ${env.SOPHONT_DASHBOARD_PORT}`);
  return {
    host: env.SOPHONT_DASHBOARD_HOST || (file?.host as string | undefined) || "127.0.0.1",
    port,
    token: env.SOPHONT_DASHBOARD_TOKEN || undefined,
    withUp: env.SOPHONT_DASHBOARD === "1" || file?.up === true,
  };
};

const airlockOf = (raw: unknown): AirlockPolicy => {
  try {
    return airlockFrom(raw);
  } catch (e) {
    if (e instanceof AirlockPolicyError) throw new ConfigError(`config.json: ${e.message}`);
    throw e;
  }
};

const judgeOf = (raw: unknown): JudgeConfig | undefined => {
  try {
    return judgeFrom(raw);
  } catch (e) {
    if (e instanceof JudgeConfigError) throw new ConfigError(`config.json: ${e.message}`);
    throw e;
  }
};

const POLICY_KEYS = ["acceptSimilarity", "minSurprise", "incoherentSurprise", "uniformFraction"] as const;
type CalibratedValues = NonNullable<PolicyValues["calibrated"]>;
const CALIBRATED_KEYS = Object.keys(defaultPolicy.calibrated ?? {}) as Array<keyof CalibratedValues>;

/**
 * The salience policy: defaults, overridden by config.json's `salience` object: the four salience-1 keys,
 * and `calibrated` (false: judge uncalibrated, as salience-1; an object: any of the default's calibrated
 * values). A policy with changed values gets a version of its own (unless one is given), so every decision
 * names what judged it.
 */
export const policyFrom = (raw: unknown): PolicyValues => {
  if (raw === undefined) return defaultPolicy;
  if (typeof raw !== "object" || raw === null) throw new ConfigError("`salience` in config.json must be an object");
  const o = raw as Record<string, unknown>;
  const known = [...POLICY_KEYS, "calibrated", "version"];
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length) throw new ConfigError(`unknown salience setting(s): ${unknown.join(", ")}; known: ${known.join(", ")}`);
  const values: { -readonly [K in keyof PolicyValues]: PolicyValues[K] } = { ...defaultPolicy };
  for (const k of POLICY_KEYS) {
    if (o[k] === undefined) continue;
    if (typeof o[k] !== "number" || !Number.isFinite(o[k])) throw new ConfigError(`salience.${k} must be a number`);
    values[k] = o[k] as number;
  }
  if (o.calibrated === false) delete values.calibrated;
  else if (o.calibrated !== undefined) {
    const c = o.calibrated as Record<string, unknown>;
    if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ConfigError("salience.calibrated must be false or an object");
    const wrong = Object.keys(c).filter((k) => !(CALIBRATED_KEYS as string[]).includes(k));
    if (wrong.length) throw new ConfigError(`unknown salience.calibrated setting(s): ${wrong.join(", ")}; known: ${CALIBRATED_KEYS.join(", ")}`);
    const merged: Record<string, number> = { ...(defaultPolicy.calibrated as Record<string, number>) };
    for (const [k, v] of Object.entries(c)) {
      if (typeof v !== "number" || !Number.isFinite(v)) throw new ConfigError(`salience.calibrated.${k} must be a number`);
      merged[k] = v;
    }
    values.calibrated = merged as unknown as CalibratedValues;
  }
  const changed = JSON.stringify({ ...values, version: "" }) !== JSON.stringify({ ...defaultPolicy, version: "" });
  const version = typeof o.version === "string" ? o.version : changed ? `config-${createHash("sha256").update(JSON.stringify({ ...values, version: "" })).digest("hex").slice(0, 8)}` : defaultPolicy.version;
  return { ...values, version };
};

/** The config as it may be printed or logged. */
export const redacted = (c: Config) => ({ ...c, natsPassword: c.natsPassword ? "***" : undefined, file: "(config.json)" });
