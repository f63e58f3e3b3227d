import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats, ensureInfrastructure } from "../nats/connection.ts";
import { JetStreamEventStore } from "../nats/event-store.ts";
import { KvCheckpointStore } from "../nats/checkpoints.ts";
import { loadOrCreateSecrets, startEmbeddedServer, type EmbeddedServer } from "../nats/server.ts";
import type { Config } from "./config.ts";

/** What every command works with: a connection, the event store and the checkpoint store. */
export interface Runtime {
  readonly nc: NatsConnection;
  readonly store: JetStreamEventStore;
  readonly checkpoints: KvCheckpointStore;
  /** Where the server is, and whether this process started it. */
  readonly server: { readonly url: string; readonly embedded: boolean; readonly ownedByThisProcess: boolean };
  close(): Promise<void>;
}

interface ServerFile {
  readonly pid: number;
  readonly url: string;
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
 * Connects to the configured server, or to the embedded one another `sophont` process already runs
 * on this home, or starts an embedded nats-server (stopped again by close()).
 */
export const openRuntime = async (config: Config, log: (s: string) => void = () => undefined): Promise<Runtime> => {
  mkdirSync(config.home, { recursive: true });
  const secrets = loadOrCreateSecrets(config.home);
  const serverFile = join(config.home, "nats", "server.json");
  let embedded: EmbeddedServer | undefined;
  let url = config.natsUrl;
  if (!url && existsSync(serverFile)) {
    const running = JSON.parse(readFileSync(serverFile, "utf8")) as ServerFile;
    if (isAlive(running.pid)) url = running.url;
  }
  const isEmbedded = !config.natsUrl;
  if (!url) {
    log(`starting the embedded nats-server (store: ${join(config.home, "nats", "store")})`);
    const preferred = embeddedPort(config.home);
    const port = (await portFree(preferred)) ? preferred : undefined;
    if (port === undefined) log(`port ${preferred} is taken: the embedded server takes a free one (set SOPHONT_NATS_PORT to choose)`);
    embedded = await startEmbeddedServer({ storeDir: join(config.home, "nats", "store"), secrets, ...(port ? { port } : {}) });
    url = embedded.url;
    writeFileSync(serverFile, JSON.stringify({ pid: embedded.pid, url } satisfies ServerFile) + "\n");
  }
  const password = config.natsUrl ? config.natsPassword : secrets[config.natsUser as keyof typeof secrets];
  const auth = { url, user: config.natsUser, ...(password ? { pass: password } : {}), name: `sophont-cli-${process.pid}` };
  const nc = await connectNats(auth);
  if (config.natsUser === "soul") await ensureInfrastructure(nc, { replicas: config.replicas });
  const store = new JetStreamEventStore(nc, { quarantine: config.natsUser === "soul" });
  const checkpoints = new KvCheckpointStore(nc);
  return {
    nc,
    store,
    checkpoints,
    server: { url, embedded: isEmbedded, ownedByThisProcess: embedded !== undefined },
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
