import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll } from "vitest";
import { ObjectContentStore } from "../../adapters/nats/content-store.ts";
import { JetStreamEventStore } from "../../adapters/nats/event-store.ts";
import { connectNats, ensureInfrastructure } from "../../adapters/nats/connection.ts";
import { defaultNatsConf, startEmbeddedServer, type EmbeddedServer, type NatsSecrets } from "../../adapters/nats/server.ts";
import { ensureAgentConsumers } from "../../adapters/nats/accounts.ts";
import type { AgentIdentity } from "../../adapters/nats/agents.ts";

/** A user a test connects as: nats.conf's fixed ones, or the test's outside agent. */
export type TestUser = keyof NatsSecrets | "agent";

export interface TestNats {
  readonly url: string;
  readonly dir: string;
  readonly server: EmbeddedServer;
  readonly secrets: NatsSecrets;
  /** The outside agent every test server has (account AGENT_tester, consumer agent-tester). */
  readonly agent: AgentIdentity;
  /** Connects as one of nats.conf's users or as the agent (the soul by default); closed by stop(). */
  connect(user?: TestUser): Promise<NatsConnection>;
  /** Restarts the server on the same port and store, as after a crash of the machine. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real nats-server for one test file: a copy of the repo's nats.conf, a free port on loopback and a
 * temporary JetStream store, with Sophont's streams created. Never a mock.
 */
export const startTestNats = async (): Promise<TestNats> => {
  const dir = mkdtempSync(join(tmpdir(), "sophont-nats-"));
  const conf = join(dir, "nats.conf");
  copyFileSync(defaultNatsConf, conf);
  const secrets: NatsSecrets = { soul: "soul-test-pw", replica: "replica-test-pw", mcp: "mcp-test-pw" };
  const agent: AgentIdentity = { name: "tester", user: "agent-tester", password: "agent-test-pw", account: "AGENT_tester", created: "2026-01-01T00:00:00.000Z" };
  const storeDir = join(dir, "store");
  let server = await startEmbeddedServer({ storeDir, secrets, confPath: conf, agents: [agent] });
  const conns: NatsConnection[] = [];
  let admin: NatsConnection | undefined;
  const connect = async (user: TestUser = "soul") => {
    // The agent's consumer is made (by the soul, as Sophont does) when a test first connects as the agent.
    if (user === "agent") await ensureAgentConsumers(await jetstreamManager(admin!), [agent]);
    const nc = user === "agent"
      ? await connectNats({ url: server.url, user: agent.user, pass: agent.password, name: "test-agent" })
      : await connectNats({ url: server.url, user, pass: secrets[user], name: `test-${user}` });
    conns.push(nc);
    return nc;
  };
  admin = await connect("soul");
  await ensureInfrastructure(admin);
  return {
    get url() {
      return server.url;
    },
    dir,
    get server() {
      return server;
    },
    secrets,
    agent,
    connect,
    restart: async () => {
      const port = server.port;
      await server.stop();
      server = await startEmbeddedServer({ storeDir, secrets, confPath: conf, port, agents: [agent] });
    },
    stop: async () => {
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** The log a test file works on: a real server, the event store and the content store. */
export interface TestLog {
  readonly nats: TestNats;
  readonly store: JetStreamEventStore;
  readonly content: ObjectContentStore;
}

/**
 * Starts a TestNats with an event store and a content store before the file's tests and stops it
 * after them. Read the fields inside tests (they are set in beforeAll).
 */
export const useTestLog = (): TestLog => {
  const log = {} as { nats: TestNats; store: JetStreamEventStore; content: ObjectContentStore };
  beforeAll(async () => {
    log.nats = await startTestNats();
    const nc = await log.nats.connect();
    log.store = new JetStreamEventStore(nc);
    log.content = new ObjectContentStore(nc);
  });
  afterAll(async () => {
    log.store?.close();
    await log.nats?.stop();
  });
  return log;
};
