import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats, ensureInfrastructure } from "../nats/connection.ts";
import { JetStreamEventStore } from "../nats/event-store.ts";
import { KvCheckpointStore, MemoryCheckpointStore } from "../nats/checkpoints.ts";
import type { CheckpointStore } from "../../projections/projection.ts";
import { loadOrCreateSecrets, startEmbeddedServer, type EmbeddedServer } from "../nats/server.ts";
import { ensureAgentConsumers, MCP_ACCOUNT, REPLICA_ACCOUNT } from "../nats/accounts.ts";
import { listAgents, upgradeSharedAgentRole } from "../nats/agents.ts";
import { embeddedDurability, externalDurability, type Durability } from "../nats/server-config.ts";
import { ensureEventMirror } from "../nats/mirror.ts";
import type { Config } from "./config.ts";

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
  close(): Promise<void>;
}

interface ServerFile {
  readonly pid: number;
  readonly url: string;
  readonly confPath?: string;
  readonly version?: string;
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

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

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
  const serverFile = join(config.home, "nats", "server.json");
  let embedded: EmbeddedServer | undefined;
  let url = config.natsUrl;
  let running: ServerFile | undefined;
  if (!url && existsSync(serverFile)) {
    const found = JSON.parse(readFileSync(serverFile, "utf8")) as ServerFile;
    if (isAlive(found.pid)) {
      url = found.url;
      running = found;
    }
  }
  const isEmbedded = !config.natsUrl;
  if (!url) {
    log(`starting the embedded nats-server (store: ${join(config.home, "nats", "store")})`);
    const preferred = embeddedPort(config.home);
    const port = (await portFree(preferred)) ? preferred : undefined;
    if (port === undefined) log(`port ${preferred} is taken: the embedded server takes a free one (set SOPHONT_NATS_PORT to choose)`);
    embedded = await startEmbeddedServer({ storeDir: join(config.home, "nats", "store"), secrets, agents: listAgents(config.home), ...(port ? { port } : {}) });
    url = embedded.url;
    log(`durability: ${embedded.durability.summary}`);
    writeFileSync(serverFile, JSON.stringify({ pid: embedded.pid, url, confPath: embedded.confPath, version: embedded.durability.serverVersion } satisfies ServerFile) + "\n");
    running = { pid: embedded.pid, url, confPath: embedded.confPath, version: embedded.durability.serverVersion };
  }
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
  return {
    nc,
    store,
    checkpoints,
    server: {
      url,
      embedded: isEmbedded,
      ownedByThisProcess: embedded !== undefined,
      durability,
      ...(isEmbedded && running?.confPath ? { confPath: running.confPath, pid: running.pid } : {}),
    },
    close: async () => {
      store.close();
      await nc.drain().catch(() => undefined);
      if (embedded) {
        await embedded.stop();
        rmSync(serverFile, { force: true });
      }
    },
  };
};
