// `<home>/cloud.json`, checked key by key: a GPU cloud to rent from per job (`--host cloud`) and,
// optionally, its persistent volume. The API key stays in the variable `apiKeyEnv` names.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ASSUMED_FLOPS, type Device } from "../../actors/muscle/plan.ts";
import type { SshRemoteHostOptions } from "../ssh/client.ts";

/** A GPU type in a region at a price: tried in order until one has capacity. */
export interface Offer {
  readonly gpuType: string;
  readonly region: string;
  readonly pricePerHour: number;
  /** The GPU's memory, for the memory plan (`sophont train --plan --host cloud`). */
  readonly gpuMemoryGiB?: number;
}

/** A machine without a GPU that stages files on the volume (the cheapest in the volume's region is rented). */
export interface StagingOffer {
  readonly machineType: string;
  /** Default: the volume's region. */
  readonly region?: string;
  readonly pricePerHour: number;
}

/** A persistent network volume: the base is staged on it once, and it bills for its size while it exists. */
export interface VolumeOptions {
  readonly name: string;
  readonly sizeGiB: number;
  readonly pricePerGiBMonth: number;
  /** After each job: keep the volume (the next job finds the base there) or delete it (no storage cost; each job stages again). */
  readonly policy: "keep" | "delete";
  /** Where it is created when missing (default: the first offer's region); only instances in it can mount it. */
  readonly region?: string;
  /** Where instances see it, when the API does not say (default /workspace, RunPod's). */
  readonly mountPath?: string;
  readonly staging: readonly StagingOffer[];
  /** This machine's upload speed to the provider in MB/s, as you measured it: the plan's staging estimate. */
  readonly uploadMBps?: number;
}

export interface CloudOptions {
  readonly name: string;
  readonly apiUrl: string;
  /** The environment variable holding the API key (the key itself never lives in files). */
  readonly apiKeyEnv: string;
  readonly image: string;
  readonly offers: readonly Offer[];
  readonly user: string;
  readonly keyPath: string;
  readonly workDir?: string;
  /** Most a job may cost (price per hour x its deadline), and most all jobs may cost per UTC day. */
  readonly maxCostPerJob: number;
  readonly maxCostPerDay: number;
  readonly volume?: VolumeOptions;
  /** Spent today so far (from the log's InstanceTerminated events); the composition root binds it. */
  readonly spentToday?: () => Promise<number>;
  /** Spent so far on one job (its staging machine, an earlier try), from the same events: counts in the per-job cap. */
  readonly spentOnJob?: (jobId: string) => Promise<number>;
  readonly pollMs?: number;
  readonly readyTimeoutMs?: number;
  readonly ssh?: SshRemoteHostOptions;
}

/** A configuration error, as the CLI reports them (exit 2, "configuration: ..."). */
export class CloudConfigError extends Error {
  override readonly name = "ConfigError";
}

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === "string" && v.trim() !== "";
const positive: Check = (v) => typeof v === "number" && Number.isFinite(v) && v > 0;
const price: Check = (v) => typeof v === "number" && Number.isFinite(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const shown = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 60);

/** Checks an object's keys against rules; every problem names its key (`volume.sizeGiB`). */
const checkObject = (where: string, value: unknown, rules: Record<string, { what: string; ok: Check; optional?: boolean }>, issues: string[]): void => {
  if (!isObject(value)) return void issues.push(`${where || "the file"} must be an object, got ${shown(value)}`);
  const at = (k: string) => (where ? `${where}.${k}` : k);
  for (const k of Object.keys(value)) if (!rules[k]) issues.push(`"${at(k)}" is not a known key (known: ${Object.keys(rules).join(", ")})`);
  for (const [k, rule] of Object.entries(rules)) {
    if (value[k] === undefined) { if (!rule.optional) issues.push(`"${at(k)}" is missing: it must be ${rule.what}`); continue; }
    if (!rule.ok(value[k])) issues.push(`"${at(k)}" must be ${rule.what}, got ${shown(value[k])}`);
  }
};

const list = (where: string, value: unknown, each: (w: string, v: unknown) => void, issues: string[], nonEmpty = true): void => {
  if (!Array.isArray(value) || (nonEmpty && value.length === 0)) return void issues.push(`"${where}" must be a non-empty list, got ${shown(value)}`);
  value.forEach((v, i) => each(`${where}[${i}]`, v));
};

/** cloud.json as options, or a CloudConfigError listing every key that is wrong. */
export const cloudOptionsFrom = (raw: unknown, file: string): CloudOptions => {
  const issues: string[] = [];
  checkObject("", raw, {
    name: { what: "a non-empty string (the provider's name in events)", ok: str },
    apiUrl: { what: "an http(s) URL", ok: (v) => typeof v === "string" && /^https?:\/\/\S+$/.test(v) },
    apiKeyEnv: { what: "the name of an environment variable (the key itself never goes in a file)", ok: (v) => typeof v === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v) },
    image: { what: "a non-empty string", ok: str },
    offers: { what: "a non-empty list of { gpuType, region, pricePerHour }", ok: Array.isArray },
    user: { what: "a non-empty string", ok: str },
    keyPath: { what: "a non-empty string (a private key whose .pub sits beside it)", ok: str },
    workDir: { what: "a non-empty string", ok: str, optional: true },
    maxCostPerJob: { what: "a positive number", ok: positive },
    maxCostPerDay: { what: "a positive number", ok: positive },
    volume: { what: "an object { name, sizeGiB, pricePerGiBMonth, policy, staging, region?, mountPath?, uploadMBps? }", ok: isObject, optional: true },
    pollMs: { what: "a positive number", ok: positive, optional: true },
    readyTimeoutMs: { what: "a positive number", ok: positive, optional: true },
  }, issues);
  const o = isObject(raw) ? raw : {};
  if (Array.isArray(o.offers)) list("offers", o.offers, (w, v) => checkObject(w, v, {
    gpuType: { what: "a non-empty string", ok: str }, region: { what: "a non-empty string", ok: str }, pricePerHour: { what: "a number >= 0", ok: price },
    gpuMemoryGiB: { what: "a positive number (GiB)", ok: positive, optional: true },
  }, issues), issues);
  if (isObject(o.volume)) {
    checkObject("volume", o.volume, {
      name: { what: "a non-empty string", ok: str },
      sizeGiB: { what: "a positive number (GiB; the base and what else is cached must fit)", ok: positive },
      pricePerGiBMonth: { what: "a number >= 0 (the provider's storage price per GiB and month)", ok: price },
      policy: { what: "\"keep\" or \"delete\"", ok: (v) => v === "keep" || v === "delete" },
      staging: { what: "a non-empty list of { machineType, pricePerHour, region? } (machines without a GPU that stage the base)", ok: Array.isArray },
      region: { what: "a non-empty string", ok: str, optional: true },
      mountPath: { what: "an absolute path", ok: (v) => typeof v === "string" && v.startsWith("/"), optional: true },
      uploadMBps: { what: "a positive number (your upload speed to the provider, MB/s: the plan's staging estimate)", ok: positive, optional: true },
    }, issues);
    if (Array.isArray(o.volume.staging)) list("volume.staging", o.volume.staging, (w, v) => checkObject(w, v, {
      machineType: { what: "a non-empty string", ok: str }, pricePerHour: { what: "a number >= 0", ok: price }, region: { what: "a non-empty string", ok: str, optional: true },
    }, issues), issues);
  }
  if (issues.length > 0) throw new CloudConfigError(`${file}: ${issues.join("; ")}`);
  return o as unknown as CloudOptions;
};

/** `<home>/cloud.json`, checked key by key; undefined when there is none. */
export const readCloudFile = (home: string): CloudOptions | undefined => {
  const file = path.join(home, "cloud.json");
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new CloudConfigError(`${file} is not valid JSON (${(e as Error).message})`);
  }
  return cloudOptionsFrom(raw, file);
};

/** The device a cloud job is planned on: the offer with the least GPU memory declared (any offer may be the one rented). */
export const cloudDevice = (o: CloudOptions): Device | undefined => {
  const offer = o.offers.filter((x) => x.gpuMemoryGiB !== undefined).sort((a, b) => a.gpuMemoryGiB! - b.gpuMemoryGiB!)[0];
  return offer ? { kind: "cuda", name: `${offer.gpuType} of ${o.name} (${offer.region}; the smallest offer)`, memoryBytes: offer.gpuMemoryGiB! * 2 ** 30, flops: ASSUMED_FLOPS.cuda } : undefined;
};
