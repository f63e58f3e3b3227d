import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AgentIdentity } from "./agents.ts";
import { newPassword } from "./agents.ts";
import type { NatsSecrets } from "./server.ts";
import { writeServerConfig } from "./server-config.ts";

/**
 * A JetStream cluster of Sophont nats-servers (nats-server 2.9+): every node runs the home's own
 * nats.conf (the same accounts, exports and agents as the embedded server) through a node file that
 * includes it and adds the node's name, its authenticated routes and a monitoring port on loopback.
 * What differs per node and is not secret comes from an environment file beside it (the variables
 * nats.conf reads), with the fixed users' passwords; both are mode 0600.
 */

export const CLUSTER_NAME = "sophont";
export const ROUTE_USER = "route";

export interface ClusterNode {
  readonly name: string;
  readonly host: string;
  /** Client port: what SOPHONT_NATS_URL lists. */
  readonly port: number;
  /** Route port: where the other nodes connect. */
  readonly clusterPort: number;
  /** HTTP monitoring (`/jsz`, `/varz`), always on 127.0.0.1 of the node's machine. */
  readonly monitorPort: number;
  /** The node's JetStream store. */
  readonly store: string;
}

export interface ClusterPlanOptions {
  /** One host per node; a host that repeats (all on one machine) gets the next ports. */
  readonly hosts: ReadonlyArray<string>;
  readonly port: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  /** Each node's store is `<storeRoot>/<name>`. */
  readonly storeRoot: string;
}

/** The nodes n1..nN: on one machine ports count up from the given ones, on several they repeat. */
export const planCluster = (o: ClusterPlanOptions): ClusterNode[] => {
  const seen = new Map<string, number>();
  return o.hosts.map((host, i) => {
    const k = seen.get(host) ?? 0;
    seen.set(host, k + 1);
    const name = `n${i + 1}`;
    return { name, host, port: o.port + k, clusterPort: o.clusterPort + k, monitorPort: o.monitorPort + k, store: join(o.storeRoot, name) };
  });
};

/** The URL clients list for a cluster: every node, comma-separated (SOPHONT_NATS_URL, config.json natsUrl). */
export const clusterUrl = (nodes: ReadonlyArray<ClusterNode>): string => nodes.map((n) => `nats://${n.host}:${n.port}`).join(",");

const q = (s: string): string => JSON.stringify(s);

/** A node's file: nats.conf, the node's name, routes to every node (its own is skipped by the server) with the route password. */
export const renderNodeConf = (node: ClusterNode, nodes: ReadonlyArray<ClusterNode>, routePassword: string): string =>
  [
    "# Written by `sophont cluster conf` (adapters/nats/cluster.ts); do not edit. Mode 0600: it holds the route password.",
    "# Start: env $(cat " + `${node.name}.env) nats-server -c ${node.name}.conf (or systemd's EnvironmentFile=).`,
    'include "nats.conf"',
    `server_name: ${node.name}`,
    `http: ${q(`127.0.0.1:${node.monitorPort}`)}`,
    "cluster {",
    `  name: ${CLUSTER_NAME}`,
    `  host: ${q(node.host)}`,
    `  port: ${node.clusterPort}`,
    // 2.9.10 sends no credentials on a route whose URL has none: the password is in each URL.
    `  authorization { user: ${ROUTE_USER}, password: ${q(routePassword)} }`,
    `  routes: [ ${nodes.map((n) => q(`nats-route://${ROUTE_USER}:${routePassword}@${n.host}:${n.clusterPort}`)).join(", ")} ]`,
    "}",
    "",
  ].join("\n");

/** The variables nats.conf reads, for one node (KEY=VALUE lines: `env $(cat F)` and systemd both read them). */
export const nodeEnv = (node: ClusterNode, secrets: NatsSecrets): Record<string, string> => ({
  SOPHONT_NATS_HOST: node.host,
  SOPHONT_NATS_PORT: String(node.port),
  SOPHONT_NATS_STORE: node.store,
  SOPHONT_SOUL_PASSWORD: secrets.soul,
  SOPHONT_REPLICA_PASSWORD: secrets.replica,
  SOPHONT_MCP_PASSWORD: secrets.mcp,
});

/** Reads a node's environment file back (what `env $(cat F)` does). */
export const readEnvFile = (file: string): Record<string, string> =>
  Object.fromEntries(
    readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

/** The routes' password, made once per home ($SOPHONT_HOME/secrets/cluster.json, mode 0600). */
export const loadOrCreateRoutePassword = (home: string): string => {
  const file = join(home, "secrets", "cluster.json");
  if (existsSync(file)) {
    const v = (JSON.parse(readFileSync(file, "utf8")) as { routePassword?: unknown }).routePassword;
    if (typeof v === "string" && v.length > 0) return v;
  }
  mkdirSync(join(home, "secrets"), { recursive: true, mode: 0o700 });
  const routePassword = newPassword();
  writeFileSync(file, JSON.stringify({ routePassword }, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return routePassword;
};

export interface WrittenNode extends ClusterNode {
  readonly url: string;
  readonly conf: string;
  readonly envFile: string;
}

export interface ClusterFiles {
  readonly template: string;
  readonly agents: ReadonlyArray<AgentIdentity>;
  readonly version: string;
  readonly secrets: NatsSecrets;
  readonly routePassword: string;
}

/**
 * Writes nats.conf and its includes (as for the embedded server) into `dir`, and beside them each
 * node's `<name>.conf` and `<name>.env`. Returns where each node's files are.
 */
export const writeClusterConfig = (dir: string, nodes: ReadonlyArray<ClusterNode>, f: ClusterFiles): WrittenNode[] => {
  writeServerConfig(dir, f.template, f.agents, f.version);
  const write = (file: string, text: string) => {
    writeFileSync(file, text, { mode: 0o600 });
    chmodSync(file, 0o600);
  };
  return nodes.map((node) => {
    const conf = join(dir, `${node.name}.conf`);
    const envFile = join(dir, `${node.name}.env`);
    write(conf, renderNodeConf(node, nodes, f.routePassword));
    write(envFile, Object.entries(nodeEnv(node, f.secrets)).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
    return { ...node, url: `nats://${node.host}:${node.port}`, conf, envFile };
  });
};
