import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats, ensureInfrastructure } from "../nats/connection.ts";
import { JetStreamEventStore } from "../nats/event-store.ts";
import { KvCheckpointStore, MemoryCheckpointStore } from "../nats/checkpoints.ts";
import type { CheckpointStore } from "../../projections/projection.ts";
import { loadOrCreateSecrets, startEmbeddedServer, type EmbeddedServer } from "../nats/server.ts";
import { ensureAgentConsumers, MCP_ACCOUNT, REPLICA_ACCOUNT } from "../nats/accounts.ts";
import { listAgents, repointAgents, upgradeSharedAgentRole } from "../nats/agents.ts";
import { embeddedDurability, externalDurability, type Durability } from "../nats/server-config.ts";
import { acquireServerLock, isAlive, watchOwner, type ServerState } from "../nats/server-lock.ts";
import { ensureEventMirror } from "../nats/mirror.ts";
import type { Config } from "./config.ts";
import { attachTelemetryEgress } from "../egress/otlp-log.ts";

/** What every command works with: a connection, the event store and the checkpoint store. */
export interface Runtime {
  readonly nc: NatsConnection;
  readonly store: JetStreamEventStore;
  /** In the Soul's KV bucket; in memory for readers (replica, mcp), whose accounts hold only their mirror. */
  readonly checkpoints: CheckpointStore;
  /** Where the server is, and whether this process started it. */
  readonly server: {
    readonly url: string;
    readonly embedded: boolean;
    readonly ownedByThisProcess: boolean;
    /** What an acknowledged event survives on this server (nats-server's version decides); set by openRuntime. */
    readonly durability?: Durability;
    /** The embedded server's config and pid, for `sophont agent add|revoke` to rewrite and reload. */
    readonly confPath?: string;
    readonly pid?: number;
  };
  /** Resolves when the home's embedded server (started here or joined) is gone; never for an external one. */
  serverDied?(): Promise<void>;
  /**
   * Starts the home's embedded server again on the same URL (or joins one another process started
   * meanwhile); the connection reconnects by itself. Throws when the URL cannot be the same.
   */
  restartServer?(): Promise<void>;
  close(): Promise<void>;
}


/**
 * The embedded server's port for a home: stable (so outside agents and `sophont mcp` find it again),
 * derived from the home's path, in 42000-42999; SOPHONT_NATS_PORT overrides it.
 */
export const embeddedPort = (home: string, env: NodeJS.ProcessEnv = process.env): number => {
  if (env.SOPHONT_NATS_PORT) return Number(env.SOPHONT_NATS_PORT);
  let h = 0;
  for (const ch of home) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return 42000 + (h % 1000);
};

const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });


/**
 * Moves a home made before per-agent accounts to its new credentials (telling `log` once, when it
 * happens) and returns the NATS secrets, creating them on first use.
 */
export const upgradeHome = (home: string, log: (s: string) => void) => {
  mkdirSync(home, { recursive: true });
  const upgraded = upgradeSharedAgentRole(home, (old) => (typeof old.url === "string" ? old.url : `nats://127.0.0.1:${embeddedPort(home)}`));
  if (upgraded) log(upgraded);
  return loadOrCreateSecrets(home);
};

/**
 * Connects to the configured server, or to the embedded one another `sophont` process already runs
 * on this home, or starts an embedded nats-server (stopped again by close()).
 */
export const openRuntime = async (config: Config, log: (s: string) => void = () => undefined): Promise<Runtime> => {
  const secrets = upgradeHome(config.home, log);
  const isEmbedded = !config.natsUrl;
  let server: EmbeddedServerHandle | undefined;
  let url = config.natsUrl;
  let running: ServerState | undefined;
  if (isEmbedded) {
    server = await embeddedServerFor(config, secrets, log);
    url = server.state.url!;
    running = server.state;
  }
  url = url!;
  // An external server (a cluster made by `sophont cluster conf`) that runs this home's nats.conf has
  // the home's passwords: they are the default when SOPHONT_NATS_PASSWORD is not set.
  const password = (config.natsUrl ? config.natsPassword : undefined) ?? secrets[config.natsUser as keyof typeof secrets];
  const auth = { url, user: config.natsUser, ...(password ? { pass: password } : {}), name: `sophont-cli-${process.pid}` };
  const nc = await connectNats(auth);
  const version = nc.info?.version ?? running?.version ?? "unknown";
  const durability = isEmbedded ? embeddedDurability(version) : externalDurability(version);
  if (config.natsUser === "soul") {
    const jsm = await ensureInfrastructure(nc, { replicas: config.replicas });
    await ensureAgentConsumers(jsm, listAgents(config.home));
  }
  if (isEmbedded && config.natsUser !== "soul") {
    // A reader on this home's own server: the home holds the soul's password too, so make sure the
    // origin stream and the agents' consumers exist before a mirror follows it (a fresh home has none).
    const admin = await connectNats({ url, user: "soul", pass: secrets.soul, name: `sophont-cli-${process.pid}-setup` });
    try {
      await ensureAgentConsumers(await ensureInfrastructure(admin, { replicas: config.replicas }), listAgents(config.home));
    } finally {
      await admin.close();
    }
  }
  if (config.natsUser === "replica") await ensureEventMirror(nc, REPLICA_ACCOUNT);
  if (config.natsUser === "mcp") await ensureEventMirror(nc, MCP_ACCOUNT);
  const store = new JetStreamEventStore(nc, { quarantine: config.natsUser === "soul" });
  const checkpoints = config.natsUser === "soul" ? new KvCheckpointStore(nc) : new MemoryCheckpointStore();
  // Telemetry's egress records go to the log while it is open (readers cannot append: theirs wait in the spool).
  const detachTelemetry = config.natsUser === "soul" ? await attachTelemetryEgress(config.home, store, config.airlock) : async () => undefined;
  return {
    nc,
    store,
    checkpoints,
    server: {
      url,
      embedded: isEmbedded,
      ownedByThisProcess: server?.owned === true,
      durability,
      ...(isEmbedded && running?.confPath ? { confPath: running.confPath, pid: running.pid! } : {}),
    },
    serverDied: () => server?.died ?? new Promise<void>(() => undefined),
    restartServer: async () => {
      if (!server) throw new Error("the server is not Sophont's embedded one: restart it yourself");
      const port = Number(new URL(url.replace(/^nats:/, "http:")).port);
      // The dead server's watchdog goes with it: left running, it would later kill whatever took its pid.
      await server.stop();
      const next = await embeddedServerFor(config, secrets, log, port);
      server = next;
      if (next.state.url !== url) throw new Error(`the embedded server came back on ${next.state.url}, not ${url}: restart \`sophont up\``);
    },
    close: async () => {
      await detachTelemetry().catch(() => undefined);
      store.close();
      await nc.drain().catch(() => undefined);
      await server?.stop();
    },
  };
};

/** The home's embedded server as this process holds it: started here (and stopped by close) or joined. */
interface EmbeddedServerHandle {
  readonly state: ServerState;
  readonly owned: boolean;
  /** Resolves when the server process is gone, however it ends. */
  readonly died: Promise<void>;
  stop(): Promise<void>;
}

/** Where the home's server state and lock live. */
export const serverStateFile = (home: string): string => join(home, "nats", "server.json");

/** Resolves when process `pid` is gone (polled twice a second). */
export const pollDeath = (pid: number): Promise<void> =>
  new Promise((resolve) => {
    const t = setInterval(() => (isAlive(pid) ? undefined : (clearInterval(t), resolve())), 500);
    t.unref();
  });

/**
 * Joins the home's running embedded server, or takes its lock and starts one (on the home's stable
 * port when free), watched so that it dies with this process even after a kill -9.
 */
export const embeddedServerFor = async (config: Config, secrets: ReturnType<typeof upgradeHome>, log: (s: string) => void, port?: number): Promise<EmbeddedServerHandle> => {
  mkdirSync(join(config.home, "nats"), { recursive: true });
  const lock = await acquireServerLock(serverStateFile(config.home), log);
  if (lock.kind === "running") return { state: lock.state, owned: false, died: pollDeath(lock.state.pid), stop: async () => undefined };
  let embedded: EmbeddedServer;
  try {
    log(`starting the embedded nats-server (store: ${join(config.home, "nats", "store")})`);
    const preferred = port ?? embeddedPort(config.home);
    const free = (await portFree(preferred)) ? preferred : undefined;
    if (free === undefined) log(`port ${preferred} is taken: the embedded server takes a free one (set SOPHONT_NATS_PORT to choose)`);
    embedded = await startEmbeddedServer({ storeDir: join(config.home, "nats", "store"), secrets, agents: listAgents(config.home), ...(free ? { port: free } : {}) });
  } catch (e) {
    lock.release();
    throw e;
  }
  log(`durability: ${embedded.durability.summary}`);
  const state = { pid: embedded.pid, url: embedded.url, confPath: embedded.confPath, version: embedded.durability.serverVersion };
  lock.record(state);
  const repointed = repointAgents(config.home, embedded.url);
  if (repointed.length) log(`agent file(s) of ${repointed.join(", ")} now name ${embedded.url}, where this home's server runs`);
  const watchdog = watchOwner(process.pid, embedded.pid);
  void embedded.exited.then(() => lock.release());
  return {
    state: { ownerPid: process.pid, ...state },
    owned: true,
    died: embedded.exited,
    stop: async () => {
      watchdog.stop();
      await embedded.stop();
      lock.release();
    },
  };
};
