import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderAgentAccounts, renderExports } from "./accounts.ts";
import type { AgentIdentity } from "./agents.ts";

/**
 * The files a Sophont nats-server starts from: a copy of the repository's nats.conf and the three
 * files it includes, written into one directory (includes are relative to the config file).
 */
export const INCLUDED_FILES = { exports: "sophont-exports.conf", agents: "sophont-agents.conf", durability: "sophont-durability.conf" } as const;

/** What a server promises about an acknowledged event, in words a user can act on. */
export interface Durability {
  readonly serverVersion: string;
  /** true: every write is fsynced before its ack (`sync_interval: always`, nats-server 2.10+). */
  readonly syncEveryWrite: boolean | "unknown";
  readonly summary: string;
}

/** `nats-server --version` prints `nats-server: v2.9.10`; undefined when it cannot be run. */
export const natsServerVersion = (binary = "nats-server"): string | undefined => {
  const r = spawnSync(binary, ["--version"], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  return /v?(\d+\.\d+\.\d+\S*)/.exec(r.stdout + r.stderr)?.[1];
};

/** `sync_interval` (and `always`) exist from nats-server 2.10 on; 2.9 refuses the key at start. */
export const supportsSyncAlways = (version: string): boolean => {
  const [major = 0, minor = 0] = version.split(".").map((n) => Number.parseInt(n, 10));
  return major > 2 || (major === 2 && minor >= 10);
};

const LOSS_WINDOW =
  "JetStream acknowledges before it writes to disk and fsyncs every 2 minutes: an OS crash or power cut can lose events acknowledged in the last ~2 minutes; a crash of nats-server or of Sophont loses nothing";

/** The durability a server Sophont configured itself gives (the embedded one). */
export const embeddedDurability = (version: string): Durability =>
  supportsSyncAlways(version)
    ? { serverVersion: version, syncEveryWrite: true, summary: "sync_interval: always: every event is fsynced to disk before it is acknowledged" }
    : { serverVersion: version, syncEveryWrite: false, summary: `nats-server ${version} has no per-write fsync (sync_interval came in 2.10). ${LOSS_WINDOW}` };

/** An external server's settings are not visible to clients: say what depends on them. */
export const externalDurability = (version: string): Durability => ({
  serverVersion: version,
  syncEveryWrite: "unknown",
  summary: supportsSyncAlways(version)
    ? `set by the external server (not visible to clients): with \`sync_interval: always\` in its jetstream block every event is fsynced before its ack; without it, ${LOSS_WINDOW}`
    : `nats-server ${version} has no per-write fsync. ${LOSS_WINDOW}`,
});

/** What replication adds to a server's durability, and what it does not. */
export const replicationNote = (replicas: number, d: Durability): string | undefined =>
  replicas < 2
    ? undefined
    : `R${replicas}: an acknowledged event is on a majority of nodes, so one node's OS crash or power cut loses nothing` +
      (d.syncEveryWrite === true ? "" : "; a power failure of every node at once can still lose the last ~2 minutes (no per-write fsync)");

/**
 * Writes nats.conf (a copy of `template`) and its includes into `dir`: the SOPHONT account's exports
 * and the agents' accounts from `agents`, and `sync_interval: always` where the server has it. The
 * files hold agents' passwords: mode 0600 in a 0700 directory.
 */
export const writeServerConfig = (dir: string, template: string, agents: ReadonlyArray<AgentIdentity>, version: string): string => {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const conf = join(dir, "nats.conf");
  const write = (file: string, text: string) => {
    writeFileSync(file, text, { mode: 0o600 });
    chmodSync(file, 0o600);
  };
  if (template !== conf) {
    if (existsSync(conf)) chmodSync(conf, 0o600);
    copyFileSync(template, conf);
    chmodSync(conf, 0o600);
  }
  write(join(dir, INCLUDED_FILES.exports), renderExports(agents));
  write(join(dir, INCLUDED_FILES.agents), renderAgentAccounts(agents));
  write(
    join(dir, INCLUDED_FILES.durability),
    supportsSyncAlways(version)
      ? `# nats-server ${version}: fsync every write before its ack.\nsync_interval: always\n`
      : `# nats-server ${version} has no sync_interval (2.10+): the store is fsynced every 2 minutes.\n`,
  );
  return conf;
};

/** Makes a running server re-read its config (accounts, users): removed users are disconnected. */
export const reloadServer = (pid: number): void => {
  process.kill(pid, "SIGHUP");
};
