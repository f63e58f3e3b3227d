import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { clusterUrl, planCluster, readEnvFile, writeClusterConfig, type WrittenNode } from "../../adapters/nats/cluster.ts";
import { defaultNatsConf, type NatsSecrets } from "../../adapters/nats/server.ts";
import { natsServerVersion } from "../../adapters/nats/server-config.ts";

/** A node of a test cluster as `sophont cluster conf` wrote it, and its process. */
export interface TestNode extends WrittenNode {
  readonly alive: boolean;
  readonly pid: number | undefined;
}

/** Three real nats-servers clustered on loopback, started from the files `sophont cluster conf` writes. */
export interface TestCluster {
  readonly nodes: ReadonlyArray<TestNode>;
  /** Every node's client URL, comma-separated (what config.json's natsUrl holds). */
  readonly url: string;
  node(name: string): TestNode;
  /** The JetStream meta leader, from a live node's `/jsz`; waits through an election. */
  metaLeader(timeoutMs?: number): Promise<string>;
  /** A stream's leader, from `$JS.API.STREAM.INFO`; waits through an election. */
  streamLeader(nc: NatsConnection, stream: string, timeoutMs?: number): Promise<string>;
  /** A node's own view from `/jsz?accounts=true&streams=true`, undefined when it does not answer. */
  jsz(name: string): Promise<Jsz | undefined>;
  /** kill -9 of one node; resolves when the process is gone. */
  kill(name: string): Promise<void>;
  /** Starts a killed node again on its store and ports; resolves when it is healthy (JetStream current). */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface Jsz {
  readonly meta_cluster?: { readonly leader?: string; readonly cluster_size?: number };
  readonly account_details?: ReadonlyArray<{ readonly name: string; readonly stream_detail?: ReadonlyArray<{ readonly name: string; readonly state: { readonly messages: number; readonly last_seq: number } }> }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });

/** A first port of `count` consecutive free ones on loopback (client, route and monitoring ports come in runs). */
export const freeRun = async (count: number): Promise<number> => {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all(Array.from({ length: count }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
};

/** Ports for `sophont cluster conf --port P --cluster-port C --monitor-port M` (three nodes each). */
export const freeClusterPorts = async () => ({ port: await freeRun(3), clusterPort: await freeRun(3), monitorPort: await freeRun(3) });

const untilTrue = async <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> => {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`cluster: ${what} not within ${timeoutMs} ms`);
    await sleep(100);
  }
};

const getJson = async <T>(url: string): Promise<T | undefined> => {
  const r = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
  return r?.ok ? ((await r.json()) as T) : undefined;
};

/**
 * Starts every written node with its environment file (as `env $(cat nN.env) nats-server -c nN.conf`
 * does) and waits until the cluster has a meta leader and every node is healthy.
 */
export const startCluster = async (written: ReadonlyArray<WrittenNode>, onStop?: () => void): Promise<TestCluster> => {
  const procs = new Map<string, { child: ChildProcess; exited: Promise<void> }>();
  const byName = (name: string) => {
    const n = written.find((w) => w.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };
  const launch = (n: WrittenNode) => {
    const child = spawn("nats-server", ["-c", n.conf], { env: { ...process.env, ...readEnvFile(n.envFile) }, stdio: "ignore" });
    procs.set(n.name, { child, exited: new Promise<void>((r) => child.once("exit", () => r())) });
  };
  const alive = (name: string) => {
    const p = procs.get(name)?.child;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  };
  const healthy = (n: WrittenNode) => untilTrue(`${n.name} healthy`, 60_000, () => getJson<{ status: string }>(`http://127.0.0.1:${n.monitorPort}/healthz`).then((h) => (h?.status === "ok" ? true : undefined)));
  const jsz = (name: string) => (alive(name) ? getJson<Jsz>(`http://127.0.0.1:${byName(name).monitorPort}/jsz?accounts=true&streams=true`) : Promise.resolve(undefined));
  const metaLeader = (timeoutMs = 30_000) =>
    untilTrue("a meta leader", timeoutMs, async () => {
      for (const n of written) {
        const leader = (await jsz(n.name))?.meta_cluster?.leader;
        if (leader && alive(leader)) return leader;
      }
      return undefined;
    });
  for (const n of written) launch(n);
  await Promise.all(written.map(healthy));
  await metaLeader(60_000);
  return {
    get nodes() {
      return written.map((n) => ({ ...n, alive: alive(n.name), pid: procs.get(n.name)?.child.pid }));
    },
    url: clusterUrl(written),
    node: (name) => ({ ...byName(name), alive: alive(name), pid: procs.get(name)?.child.pid }),
    metaLeader,
    streamLeader: async (nc, stream, timeoutMs = 30_000) => {
      const jsm = await jetstreamManager(nc, { timeout: 10_000, checkAPI: false });
      return untilTrue(`a leader of ${stream}`, timeoutMs, async () => {
        const leader = (await jsm.streams.info(stream)).cluster?.leader;
        return leader && alive(leader) ? leader : undefined;
      });
    },
    jsz,
    kill: async (name) => {
      const p = procs.get(name);
      if (!p || !alive(name)) return;
      p.child.kill("SIGKILL");
      await p.exited;
    },
    restart: async (name) => {
      if (alive(name)) return;
      launch(byName(name));
      await healthy(byName(name));
    },
    stop: async () => {
      for (const p of procs.values()) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
      await Promise.all([...procs.values()].map((p) => p.exited));
      onStop?.();
    },
  };
};

/** Test passwords for a cluster made without a home (benchmarks): the accounts are nats.conf's. */
export const clusterSecrets: NatsSecrets = { soul: "pwsoul", replica: "pwreplica", mcp: "pwmcp" };

/**
 * A cluster of three in a temporary folder, written by the same code as `sophont cluster conf`
 * (writeClusterConfig) with clusterSecrets; the folder goes with stop().
 */
export const startTempCluster = async (): Promise<TestCluster> => {
  const dir = mkdtempSync(join(tmpdir(), "sophont-cluster-"));
  const nodes = planCluster({ hosts: ["127.0.0.1", "127.0.0.1", "127.0.0.1"], ...(await freeClusterPorts()), storeRoot: join(dir, "store") });
  const written = writeClusterConfig(join(dir, "nats"), nodes, {
    template: defaultNatsConf,
    agents: [],
    version: natsServerVersion() ?? "2.9.10",
    secrets: clusterSecrets,
    routePassword: "pwroute",
  });
  return startCluster(written, () => rmSync(dir, { recursive: true, force: true }));
};
