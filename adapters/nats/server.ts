import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AgentIdentity } from "./agents.ts";
import { embeddedDurability, natsServerVersion, writeServerConfig, type Durability } from "./server-config.ts";

/** The repository's nats.conf: every embedded server starts from it. */
export const defaultNatsConf = fileURLToPath(new URL("../../nats.conf", import.meta.url));

/**
 * Passwords of nats.conf's fixed users, kept in the Sophont home (mode 0600), never in the repo.
 * Outside agents have one identity each (adapters/nats/agents.ts), not a shared password.
 */
export interface NatsSecrets {
  readonly soul: string;
  readonly replica: string;
  readonly mcp: string;
}

export class NatsServerMissingError extends Error {
  override readonly name = "NatsServerMissingError";
  constructor() {
    super(
      "nats-server was not found on PATH. Install it:\n" +
        "  Debian/Ubuntu: sudo apt-get install nats-server\n" +
        "  macOS:         brew install nats-server\n" +
        "or point Sophont at a running server with SOPHONT_NATS_URL=nats://host:4222",
    );
  }
}

export class NatsServerStartError extends Error {
  override readonly name = "NatsServerStartError";
}

/**
 * Reads the secrets file, creating it with fresh random passwords on first use. A file from before
 * per-agent identities (with the shared `agent` password) loses that password and gains `mcp`.
 */
export const loadOrCreateSecrets = (home: string): NatsSecrets => {
  const dir = join(home, "secrets");
  const file = join(dir, "nats.json");
  // nats-server parses an environment value as a config token: letters and hex digits only, and a
  // leading letter, so it is always read as a string.
  const pw = () => `pw${randomBytes(20).toString("hex")}`;
  const old = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Partial<NatsSecrets> & { agent?: string }) : undefined;
  if (old?.soul && old.replica && old.mcp && old.agent === undefined) return { soul: old.soul, replica: old.replica, mcp: old.mcp };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secrets: NatsSecrets = { soul: old?.soul ?? pw(), replica: old?.replica ?? pw(), mcp: old?.mcp ?? pw() };
  writeFileSync(file, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
};

/** A free TCP port on loopback (the kernel picks it; a tiny race is acceptable for a local server). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });

export interface EmbeddedServerOptions {
  /** Where the JetStream store and the server log live. */
  readonly storeDir: string;
  readonly secrets: NatsSecrets;
  /** The outside agents to give accounts (default none). */
  readonly agents?: ReadonlyArray<AgentIdentity>;
  /** Where the server's nats.conf and its includes are written (default: beside the store). */
  readonly configDir?: string;
  readonly port?: number;
  readonly host?: string;
  readonly confPath?: string;
  readonly binary?: string;
}

export interface EmbeddedServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The nats.conf it runs from (its includes beside it); rewrite them and reload to change accounts. */
  readonly confPath: string;
  readonly durability: Durability;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and waits for it to exit. */
  stop(): Promise<void>;
  /** kill -9, as a crash would, and waits for the process to be gone. */
  kill(): Promise<void>;
  /** Resolves when the process exits, however it ends. */
  readonly exited: Promise<void>;
}

const hasBinary = (bin: string): boolean => spawnSync(bin, ["--version"], { stdio: "ignore" }).status === 0;

const waitReady = (child: ChildProcess, logTail: () => string, timeoutMs: number): Promise<void> =>
  new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => done(new NatsServerStartError(`nats-server not ready after ${timeoutMs} ms:\n${logTail()}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      if (buf.includes("Server is ready")) done();
    };
    const onExit = (code: number | null) =>
      done(new NatsServerStartError(`nats-server exited with ${code} before it was ready:\n${logTail()}`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
      err ? reject(err) : resolve();
    };
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
  });

/**
 * Starts nats-server with Sophont's nats.conf on loopback, waits until it accepts clients.
 * Secrets and paths reach the config through the server's environment, never through files in the repo.
 */
export const startEmbeddedServer = async (opts: EmbeddedServerOptions): Promise<EmbeddedServer> => {
  const binary = opts.binary ?? "nats-server";
  if (!hasBinary(binary)) throw new NatsServerMissingError();
  mkdirSync(opts.storeDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const host = opts.host ?? "127.0.0.1";
  const version = natsServerVersion(binary) ?? "0.0.0";
  const confPath = writeServerConfig(opts.configDir ?? dirname(opts.storeDir), opts.confPath ?? defaultNatsConf, opts.agents ?? [], version);
  const child = spawn(binary, ["-c", confPath], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      SOPHONT_NATS_HOST: host,
      SOPHONT_NATS_PORT: String(port),
      SOPHONT_NATS_STORE: opts.storeDir,
      SOPHONT_SOUL_PASSWORD: opts.secrets.soul,
      SOPHONT_REPLICA_PASSWORD: opts.secrets.replica,
      SOPHONT_MCP_PASSWORD: opts.secrets.mcp,
    },
  });
  const lines: string[] = [];
  child.stderr!.on("data", (c: Buffer) => {
    lines.push(...c.toString().split("\n").filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  });
  await waitReady(child, () => lines.join("\n"), 15_000);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    url: `nats://${host}:${port}`,
    port,
    pid: child.pid!,
    confPath,
    durability: embeddedDurability(version),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    exited,
  };
};
