// The hosts file, `$SOPHONT_HOME/hosts.json`: the machines the Muscle may use, each with its host
// key pinned. Secrets never live here: a key's passphrase is read from the variable `passphraseEnv`.
import { readFile, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Client } from "ssh2";
import type { GpuExpectation } from "../../actors/muscle/ports.ts";
import { fingerprintOfKey, type SshTarget } from "./connection.ts";
import { ConnectionError, HostKeyMismatchError, HostsFileError } from "./errors.ts";

/** One host as the file describes it, defaults applied and `keyPath` made absolute. */
export interface HostEntry extends SshTarget {
  /** Where jobs live on the host; relative paths are taken from the user's home. */
  readonly workDir: string;
  readonly gpu: GpuExpectation;
  /** Where cached files (base models, the trainer payload) live; default `<workDir>/cache`. A persistent volume's mount belongs here. */
  readonly cacheDir?: string;
  /** Base models already on the host, verified by sha256 before a job uses one instead of uploading. */
  readonly bases?: readonly { readonly path: string; readonly sha256: string }[];
  /** Memory of the host's GPU in GiB, for the memory plan (`sophont train --plan`). */
  readonly gpuMemoryGiB?: number;
}

/** `<home>/hosts.json`; the home itself comes from the CLI's configuration (SOPHONT_HOME). */
export const hostsFilePath = (sophontHome: string): string => path.join(sophontHome, "hosts.json");

const FIELDS = new Set(["name", "host", "port", "user", "keyPath", "passphraseEnv", "hostKeyFingerprint", "workDir", "gpu", "cacheDir", "bases", "gpuMemoryGiB"]);
const SECRET_FIELDS = /pass(word|phrase)$|^privateKey$|^secret/i;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

type Issues = string[];

const invalid = (file: string, issues: readonly string[]) => new HostsFileError({ file, issues });

const text = (issues: Issues, where: string, value: unknown, optional = false): string | undefined => {
  if (value === undefined && optional) return undefined;
  if (typeof value === "string" && value.trim() !== "") return value;
  issues.push(`${where}: expected a non-empty string, got ${JSON.stringify(value)}`);
  return undefined;
};

const parseGpu = (issues: Issues, where: string, value: unknown): GpuExpectation => {
  if (value === undefined) return { kind: "none" };
  if (typeof value !== "object" || value === null) {
    issues.push(`${where}: expected an object like {"kind": "cuda", "minMemoryGiB": 40}, got ${JSON.stringify(value)}`);
    return { kind: "none" };
  }
  const { kind, model, minMemoryGiB, ...rest } = value as Record<string, unknown>;
  for (const key of Object.keys(rest)) issues.push(`${where}.${key}: unknown field (known: kind, model, minMemoryGiB)`);
  if (kind !== "cuda" && kind !== "none") issues.push(`${where}.kind: expected "cuda" or "none", got ${JSON.stringify(kind)}`);
  if (minMemoryGiB !== undefined && !(typeof minMemoryGiB === "number" && minMemoryGiB > 0)) {
    issues.push(`${where}.minMemoryGiB: expected a positive number, got ${JSON.stringify(minMemoryGiB)}`);
  }
  const gpuModel = text(issues, `${where}.model`, model, true);
  return { kind: kind === "cuda" ? "cuda" : "none", ...(gpuModel ? { model: gpuModel } : {}), ...(typeof minMemoryGiB === "number" ? { minMemoryGiB } : {}) };
};

const parseBases = (issues: Issues, where: string, value: unknown): { path: string; sha256: string }[] => {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return (issues.push(`${where}: expected a list like [{"path": "/models/base.gguf", "sha256": "..."}]`), []);
  return value.flatMap((b, i) => {
    const { path: file, sha256, ...rest } = (typeof b === "object" && b !== null ? b : {}) as Record<string, unknown>;
    for (const key of Object.keys(rest)) issues.push(`${where}[${i}].${key}: unknown field (known: path, sha256)`);
    const p = text(issues, `${where}[${i}].path`, file);
    if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) return (issues.push(`${where}[${i}].sha256: expected 64 lowercase hex digits (sha256sum prints them), got ${JSON.stringify(sha256)}`), []);
    return p ? [{ path: p, sha256 }] : [];
  });
};

const resolveKeyPath = (keyPath: string, baseDir: string): string =>
  keyPath.startsWith("~/") ? path.join(os.homedir(), keyPath.slice(2)) : path.resolve(baseDir, keyPath);

const parseHost = (issues: Issues, where: string, raw: unknown, baseDir: string): HostEntry | undefined => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    issues.push(`${where}: expected an object, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  const entry = raw as Record<string, unknown>;
  const before = issues.length;
  for (const key of Object.keys(entry)) {
    if (SECRET_FIELDS.test(key)) issues.push(`${where}.${key}: secrets do not belong in the hosts file; name an environment variable in passphraseEnv`);
    else if (!FIELDS.has(key)) issues.push(`${where}.${key}: unknown field (known: ${[...FIELDS].join(", ")})`);
  }
  const name = text(issues, `${where}.name`, entry.name);
  if (name && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) issues.push(`${where}.name: use letters, digits, '.', '_', '-', got ${JSON.stringify(name)}`);
  const host = text(issues, `${where}.host`, entry.host);
  const port = entry.port ?? 22;
  if (!(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535)) {
    issues.push(`${where}.port: expected an integer from 1 to 65535, got ${JSON.stringify(port)}`);
  }
  const user = text(issues, `${where}.user`, entry.user);
  const keyPath = text(issues, `${where}.keyPath`, entry.keyPath);
  const passphraseEnv = text(issues, `${where}.passphraseEnv`, entry.passphraseEnv, true);
  if (passphraseEnv && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(passphraseEnv)) issues.push(`${where}.passphraseEnv: expected a variable name`);
  const pin = text(issues, `${where}.hostKeyFingerprint`, entry.hostKeyFingerprint, true);
  if (pin && !FINGERPRINT.test(pin)) issues.push(`${where}.hostKeyFingerprint: expected "SHA256:" and 43 base64 characters (as ssh-keygen -l prints), got ${JSON.stringify(pin)}`);
  const workDir = text(issues, `${where}.workDir`, entry.workDir ?? "sophont") ?? "sophont";
  const gpu = parseGpu(issues, `${where}.gpu`, entry.gpu);
  const cacheDir = text(issues, `${where}.cacheDir`, entry.cacheDir, true);
  const bases = parseBases(issues, `${where}.bases`, entry.bases);
  const gpuMemoryGiB = entry.gpuMemoryGiB;
  if (gpuMemoryGiB !== undefined && !(typeof gpuMemoryGiB === "number" && gpuMemoryGiB > 0)) issues.push(`${where}.gpuMemoryGiB: expected a positive number of GiB, got ${JSON.stringify(gpuMemoryGiB)}`);
  if (issues.length > before || !name || !host || !user || !keyPath) return undefined;
  return {
    name, host, port: port as number, user, keyPath: resolveKeyPath(keyPath, baseDir), workDir, gpu,
    ...(cacheDir ? { cacheDir } : {}),
    ...(bases.length ? { bases } : {}),
    ...(typeof gpuMemoryGiB === "number" ? { gpuMemoryGiB } : {}),
    ...(passphraseEnv ? { passphraseEnv } : {}),
    ...(pin ? { hostKeyFingerprint: pin } : {}),
  };
};

const readRaw = async (file: string): Promise<{ hosts: unknown[] } & Record<string, unknown>> => {
  const content = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw invalid(file, [error.code === "ENOENT" ? "no hosts file; create it with a \"hosts\" list" : `cannot read: ${error.code}`]);
  });
  let raw: unknown;
  try {
    raw = JSON.parse(content);
  } catch (error) {
    throw invalid(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  if (typeof raw !== "object" || raw === null || !Array.isArray((raw as { hosts?: unknown }).hosts)) {
    throw invalid(file, [`expected {"hosts": [ ... ]} at the top level`]);
  }
  return raw as { hosts: unknown[] };
};

/** Loads and validates the hosts file; every problem is reported at once, each with its JSON path. */
export const loadHosts = async (file: string): Promise<readonly HostEntry[]> => {
  const raw = await readRaw(file);
  const issues: Issues = [];
  const hosts = raw.hosts.flatMap((entry, i) => parseHost(issues, `hosts[${i}]`, entry, path.dirname(file)) ?? []);
  const seen = new Set<string>();
  for (const host of hosts) {
    if (seen.has(host.name)) issues.push(`hosts: the name ${JSON.stringify(host.name)} is used twice`);
    seen.add(host.name);
  }
  if (issues.length > 0) throw invalid(file, issues);
  return hosts;
};

/** The named host, or a HostsFileError listing the names there are. */
export const findHost = async (file: string, name: string): Promise<HostEntry> => {
  const hosts = await loadHosts(file);
  const host = hosts.find((h) => h.name === name);
  if (!host) throw invalid(file, [`no host named ${JSON.stringify(name)} (known: ${hosts.map((h) => h.name).join(", ") || "none"})`]);
  return host;
};

/** The fingerprint of the key a server presents, read in the handshake; no credential is ever sent. */
export const scanHostKey = (host: string, port: number, timeoutMs = 10_000): Promise<string> =>
  new Promise((resolve, reject) => {
    const client = new Client();
    let presented: string | undefined;
    const finish = (): void => {
      client.destroy();
      if (presented) resolve(presented);
      else reject(new ConnectionError({ host: `${host}:${port}`, attempts: 1, reason: "no host key was presented" }));
    };
    client.once("error", finish);
    client.once("close", finish);
    client.connect({
      host, port, username: "sophont-host-scan", readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        presented = fingerprintOfKey(key);
        return false;
      },
    });
  });

/**
 * `sophont host trust NAME`: reads the host's current key and pins its fingerprint in the file.
 * With `expected` (e.g. read off the host's console), a different key is refused instead of pinned.
 */
export const trustHost = async (file: string, name: string, expected?: string): Promise<{ fingerprint: string; previous?: string }> => {
  const entry = await findHost(file, name);
  const fingerprint = await scanHostKey(entry.host, entry.port);
  if (expected !== undefined && expected !== fingerprint) throw new HostKeyMismatchError({ host: name, expected, presented: fingerprint });
  const raw = await readRaw(file);
  const target = raw.hosts.find((h) => (h as { name?: unknown }).name === name) as Record<string, unknown>;
  target.hostKeyFingerprint = fingerprint;
  // Write then rename, so a crash never leaves a half-written hosts file.
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(raw, null, 2) + "\n", { mode: 0o600 });
  await rename(temp, file);
  return { fingerprint, ...(entry.hostKeyFingerprint ? { previous: entry.hostKeyFingerprint } : {}) };
};
