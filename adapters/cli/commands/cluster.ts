import { join } from "node:path";
import { clusterUrl, loadOrCreateRoutePassword, planCluster, writeClusterConfig } from "../../nats/cluster.ts";
import { listAgents } from "../../nats/agents.ts";
import { defaultNatsConf } from "../../nats/server.ts";
import { natsServerVersion } from "../../nats/server-config.ts";
import { defineCommand } from "../command.ts";
import { printResult, table, UsageError } from "../format.ts";
import { openRuntime, upgradeHome } from "../runtime.ts";
import { describeHeal, healCopies, pendingCopies, type HealOutcome, type HealTarget } from "../heal-copies.ts";

const port = (v: unknown, flag: string, fallback: number): number => {
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65_000) throw new UsageError(`${flag} takes a port number (1 to 65000)`);
  return n;
};

export const clusterConf = defineCommand({
  path: ["cluster", "conf"],
  summary: "write the config of a three-node JetStream cluster that runs this home's accounts, and say how to start it",
  usage: "sophont cluster conf [--hosts H1,H2,H3] [--port 4222] [--cluster-port 6222] [--monitor-port 8222] [--store DIR] [--json]",
  details: [
    "Writes into $SOPHONT_HOME/nats/: nats.conf with its includes (the accounts, the agents, the durability",
    "the installed nats-server supports) and, per node n1..nN, nN.conf (nats.conf, the node's name, routes",
    "authenticated with a password kept in $SOPHONT_HOME/secrets/cluster.json, monitoring on 127.0.0.1) and",
    "nN.env (its host, port, store and the fixed users' passwords), all mode 0600. --hosts defaults to three",
    "nodes on 127.0.0.1; nodes on one host take the next ports. --store defaults to $SOPHONT_HOME/cluster",
    "(each node's store is STORE/nN). Copy the folder to each machine, start each node with",
    "`env $(cat nN.env) nats-server -c nN.conf`, then put the printed natsUrl and replicas in config.json:",
    "streams and buckets are made at R3. After `sophont agent add|revoke`, run this again and reload every node.",
  ].join("\n"),
  options: {
    hosts: { type: "string" },
    port: { type: "string" },
    "cluster-port": { type: "string" },
    "monitor-port": { type: "string" },
    store: { type: "string" },
    json: { type: "boolean" },
  },
  run: async (ctx, v) => {
    const hosts = ((v.hosts as string | undefined) ?? "127.0.0.1,127.0.0.1,127.0.0.1").split(",").map((h) => h.trim());
    if (hosts.length < 3 || hosts.some((h) => !/^[A-Za-z0-9.-]+$/.test(h))) throw new UsageError("--hosts takes three or more host names or addresses, comma-separated");
    const home = ctx.config.home;
    const secrets = upgradeHome(home, ctx.err);
    const version = natsServerVersion();
    if (!version) ctx.err("warning: nats-server is not on PATH here; the durability include assumes 2.9 (no sync_interval)");
    const dir = join(home, "nats");
    const nodes = writeClusterConfig(
      dir,
      planCluster({
        hosts,
        port: port(v.port, "--port", 4222),
        clusterPort: port(v["cluster-port"], "--cluster-port", 6222),
        monitorPort: port(v["monitor-port"], "--monitor-port", 8222),
        storeRoot: (v.store as string | undefined) ?? join(home, "cluster"),
      }),
      { template: defaultNatsConf, agents: listAgents(home), version: version ?? "2.9.0", secrets, routePassword: loadOrCreateRoutePassword(home) },
    );
    const config = { natsUrl: clusterUrl(nodes), replicas: 3 };
    const start = (n: (typeof nodes)[number]) => `env $(cat ${n.envFile}) nats-server -c ${n.conf}`;
    if (v.json) return void ctx.out(JSON.stringify({ dir, nodes: nodes.map((n) => ({ ...n, start: start(n) })), config }, null, 2));
    ctx.out(`wrote ${dir}/nats.conf and, per node, N.conf and N.env (mode 0600)`);
    ctx.out(table([["node", "clients", "routes", "monitor", "store"], ...nodes.map((n) => [n.name, n.url, `${n.host}:${n.clusterPort}`, `127.0.0.1:${n.monitorPort}`, n.store])]));
    ctx.out("\nstart each node (on its machine):");
    for (const n of nodes) ctx.out(`  ${start(n)}`);
    ctx.out(`\nthen in ${join(home, "config.json")}:\n  ${JSON.stringify(config)}`);
  },
});

export const clusterHeal = defineCommand({
  path: ["cluster", "heal"],
  summary: "rebuild the copies of the content store that missed a forget (a node down or behind), once their node is back",
  usage: "sophont cluster heal [--node NAME] [--wait SECONDS] [--json]",
  details: [
    "A cluster node that was down or behind during a forget missed the erase: once it catches up the text",
    "leaves its index but stays in its block file (nats-server 2.9.10). `sophont forget` records such a copy",
    "(ContentCopyStale) and `sophont up` rebuilds it once its node is back; this does it now, for every",
    "pending copy whose node is online and current: the node's copy is removed (its files with it) and made",
    "again from the live messages only (ContentCopyRebuilt with each step's time, or ContentCopyRebuildFailed",
    "with what to do next). --node rebuilds that node's copy even when none is pending. --wait waits up to",
    "SECONDS for nodes that are not back yet (default 0). Exit 0 when no copy is left to rebuild.",
  ].join("\n"),
  options: { node: { type: "string" }, wait: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v) => {
    const waitS = v.wait === undefined ? 0 : Number(v.wait);
    if (!Number.isFinite(waitS) || waitS < 0 || waitS > 3600) throw new UsageError("--wait takes seconds, 0 to 3600");
    const rt = await openRuntime(ctx.config, ctx.err);
    try {
      const pending = await pendingCopies(rt.store);
      const named = v.node as string | undefined;
      let targets: HealTarget[] = named ? [pending.find((p) => p.node === named) ?? { node: named, staleSeq: 0, staleEventId: null }] : pending;
      const done: HealOutcome[] = [];
      let left: HealOutcome[] = [];
      for (const end = Date.now() + waitS * 1000; targets.length > 0; await new Promise((r) => setTimeout(r, 2_000))) {
        const outcomes = await healCopies(rt.nc, rt.store, targets, { by: "cli", actor: "cli" });
        done.push(...outcomes.filter((o) => o.outcome !== "waiting"));
        left = outcomes.filter((o) => o.outcome === "waiting");
        targets = targets.filter((t) => left.some((o) => o.node === t.node));
        if (left.length === 0 || Date.now() > end || ctx.signal.aborted) break;
      }
      const outcomes = [...done, ...left];
      printResult(ctx, v.json, { outcomes }, () => (outcomes.length === 0 ? "no copy of the content store to rebuild" : outcomes.map(describeHeal)));
      return outcomes.every((o) => o.outcome === "rebuilt") ? 0 : 1;
    } finally {
      await rt.close();
    }
  },
});
