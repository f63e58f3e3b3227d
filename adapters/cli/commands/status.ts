import { jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { defineCommand } from "../command.ts";
import { table } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { replicationNote } from "../../nats/server-config.ts";
import { EVENT_STREAM, QUARANTINE_STREAM } from "../../../events/subjects.ts";
import { ProjectionRunner } from "../../../projections/runner.ts";
import { allProjections } from "../../../projections/index.ts";
import { readUp } from "../running.ts";
import { projectAt } from "../../../projections/runner.ts";
import { lineage } from "../../../projections/lineage.projection.ts";
import type { StaleCopy } from "../../../projections/stale-copies.projection.ts";
import { pendingCopies } from "../heal-copies.ts";
import { runningJobs, runningJobsLine } from "../training-narration.ts";

export const status = defineCommand({
  path: ["status"],
  summary: "the event stream, the server's version and durability, consumers, the quarantine and how far each projection lags",
  usage: "sophont status [--json]",
  options: { json: { type: "boolean" } },
  run: async (ctx, v) => {
    const rt = await openRuntime(ctx.config);
    try {
      const jsm = await jetstreamManager(rt.nc);
      const s = await jsm.streams.info(EVENT_STREAM);
      // A reader's account (replica, mcp) has only its mirror of the events: no quarantine stream.
      const q = await jsm.streams.info(QUARANTINE_STREAM).catch(() => ({ state: { messages: 0 } }));
      const consumers = [];
      for await (const c of jsm.consumers.list(EVENT_STREAM)) {
        if (!c.config.durable_name) continue;
        consumers.push({ name: c.name, pending: c.num_pending, ackPending: c.num_ack_pending, ackFloor: c.ack_floor.stream_seq });
      }
      const projections = await new ProjectionRunner(rt.store, rt.checkpoints, allProjections).positions();
      const cluster = clusterView(rt.nc, s);
      const up = readUp(ctx.config.home);
      const training = runningJobs((await projectAt(rt.store, lineage, "now")).jobs.values());
      const stale = await pendingCopies(rt.store);
      const report = {
        server: rt.server,
        /** The `sophont up` on this home (it keeps the projections caught up), or null. */
        running: up ? { up: { pid: up.pid, since: up.since, ...(up.dashboard ? { dashboard: up.dashboard } : {}) } } : null,
        stream: { name: EVENT_STREAM, events: s.state.messages, bytes: s.state.bytes, firstSeq: s.state.first_seq, lastSeq: s.state.last_seq, lastTime: s.state.last_ts, replicas: s.config.num_replicas },
        quarantine: { messages: q.state.messages },
        ...(cluster ? { cluster } : {}),
        durability: rt.server.durability
          ? [rt.server.durability.summary, replicationNote(s.config.num_replicas, rt.server.durability)].filter(Boolean).join(". ")
          : undefined,
        consumers,
        projections,
        /** Training jobs not over yet: step, of, loss, etaSeconds as the trainer last reported them. */
        training,
        /** Cluster nodes whose copy of the content store missed a forget and is not rebuilt yet. */
        staleCopies: stale,
      };
      if (v.json) return void ctx.out(JSON.stringify(report, null, 2));
      ctx.out(`server      ${report.server.url} (${report.server.embedded ? "embedded" : "external"}, nats-server ${report.server.durability?.serverVersion ?? "unknown"})`);
      ctx.out(`running     ${up ? `sophont up (pid ${up.pid}, since ${up.since})${up.dashboard ? `, dashboard ${up.dashboard}` : ""}` : "nothing: `sophont up` is not running on this home (projections catch up when it runs, or with `sophont replay --rebuild`)"}`);
      ctx.out(`durability  ${report.durability ?? "unknown"}`);
      ctx.out(`stream      ${EVENT_STREAM}: ${s.state.messages} events, ${(s.state.bytes / 1e6).toFixed(1)} MB, seq ${s.state.first_seq}..${s.state.last_seq}, R${s.config.num_replicas}`);
      if (cluster) {
        const peers = cluster.replicas.map((r) => `${r.name} ${r.current ? "current" : `behind by ${r.lag}`}${r.offline ? " (offline)" : ""}`);
        ctx.out(`cluster     ${cluster.name}: ${cluster.nodes.length} node(s) ${cluster.nodes.join(" ")}; connected to ${cluster.connectedTo}`);
        ctx.out(`            ${EVENT_STREAM} leader ${cluster.leader ?? "none (an election is running)"}; replicas ${peers.join(", ") || "none"}`);
      }
      if (cluster || stale.length > 0) ctx.out(`copies      ${staleLine(stale)}`);
      ctx.out(`quarantine  ${q.state.messages} message(s)${q.state.messages > 0 ? " (sophont events tail cannot show them; inspect the SOPHONT_QUARANTINE stream)" : ""}`);
      ctx.out(`training    ${runningJobsLine(training)}`);
      ctx.out("\nconsumers");
      ctx.out(table([["name", "pending", "ack pending", "ack floor"], ...consumers.map((c) => [c.name, c.pending, c.ackPending, c.ackFloor])]));
      // Without `up` nothing folds the log into the checkpoints: a lag then is not a fault, so it is not shown as one.
      ctx.out(up ? "\nprojections" : "\nprojections (checkpoints as last saved; nothing is folding the log now)");
      ctx.out(up
        ? table([["name", "version", "last seq", "lag"], ...projections.map((p) => [p.name, p.version, p.lastSeq, p.lag])])
        : table([["name", "version", "checkpoint at seq"], ...projections.map((p) => [p.name, p.version, p.lastSeq])]));
    } finally {
      await rt.close();
    }
  },
});

/** The copies of the content store still to rebuild, for a person. */
const staleLine = (stale: ReadonlyArray<StaleCopy>): string =>
  stale.length === 0
    ? "no copy of the content store missed a forget"
    : `${stale.map((c) => `${c.node} stale since ${c.since} (missed the forget of ${c.inputIds.length} input(s)${c.failures > 0 ? `; ${c.failures} rebuild(s) failed, last: ${c.lastFailure?.reason}` : ""})`).join(", ")}: rebuilt by \`sophont up\` once back, or now with \`sophont cluster heal\``;

/**
 * The cluster the event stream lives on, as the server reports it: the nodes clients may use (the
 * one this process is connected to and the ones it announced), the stream's leader and how current
 * each other replica is. Undefined on a single server.
 */
const clusterView = (nc: NatsConnection, s: StreamInfo) => {
  if (!s.cluster?.name) return undefined;
  const info = nc.info;
  const here = info ? `${info.host}:${info.port}` : "";
  const nodes = [...new Set([here, ...(info?.connect_urls ?? [])].filter(Boolean))].sort();
  return {
    name: s.cluster.name,
    nodes,
    connectedTo: `${info?.server_name ?? "?"} (${here})`,
    leader: s.cluster.leader,
    replicas: (s.cluster.replicas ?? []).map((r) => ({ name: r.name, current: r.current, lag: r.lag ?? 0, offline: r.offline === true })),
  };
};
