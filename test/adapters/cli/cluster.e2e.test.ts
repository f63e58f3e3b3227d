import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "../../../adapters/nats/connection.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import type { WrittenNode } from "../../../adapters/nats/cluster.ts";
import { CHECKPOINT_BUCKET, CONTENT_BUCKET, EVENT_STREAM } from "../../../events/subjects.ts";
import { freeClusterPorts, startCluster, type TestCluster } from "../../support/cluster.ts";
import { collect } from "../../support/events.ts";
import { corpusLines, tinyModels, TOPICS } from "../llm/support.ts";

// The README's "A cluster" recipe, followed step by step with the real binary: `sophont cluster conf`,
// each node started from the files it wrote (`env $(cat nN.env) nats-server -c nN.conf`), config.json
// as printed; then nights while a stream leader and the meta leader are killed with SIGKILL.

const bin = fileURLToPath(new URL("../../../adapters/cli/bin.mjs", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "sophont-cluster-home-"));
// Salience decides in batches of 16: the kill comes after the first, and 24 inputs are left to decide
// with the node down (fresh reads of the log and of the content store, appends on a new leader).
const INPUTS = 40;
const t0 = Date.now();
const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

interface Run { code: number | null; signal: string | null; out: string; err: string }
const start = (env: Record<string, string>, ...args: string[]) => {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, SOPHONT_HOME: home, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  return new Promise<Run>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, out, err })));
};
const sophont = async (...args: string[]) => {
  const r = await start({}, ...args);
  console.log(`[cluster] sophont ${args.slice(0, 2).join(" ")}: rc ${r.code} at ${at()}`);
  return r;
};

let cluster: TestCluster;
let nodes: WrittenNode[];
let nc: NatsConnection;
let store: JetStreamEventStore;

beforeAll(async () => {
  // The tiny models other test files build once, where this home's `sophont` looks for them.
  const tiny = tinyModels();
  cpSync(tiny.dir, join(home, "models", "tiny", basename(tiny.dir)), { recursive: true });
  const p = await freeClusterPorts();
  const conf = await sophont("cluster", "conf", "--json", "--port", String(p.port), "--cluster-port", String(p.clusterPort), "--monitor-port", String(p.monitorPort));
  expect(conf.code, conf.err).toBe(0);
  const written = JSON.parse(conf.out) as { nodes: Array<WrittenNode & { start: string }>; config: { natsUrl: string; replicas: number } };
  nodes = written.nodes;
  expect(written.nodes.map((n) => n.start)).toEqual(nodes.map((n) => `env $(cat ${n.envFile}) nats-server -c ${n.conf}`));
  cluster = await startCluster(nodes);
  writeFileSync(join(home, "config.json"), JSON.stringify(written.config));
  const soul = (JSON.parse(readFileSync(join(home, "secrets", "nats.json"), "utf8")) as { soul: string }).soul;
  nc = await connectNats({ url: written.config.natsUrl, user: "soul", pass: soul, name: "cluster-test" });
  store = new JetStreamEventStore(nc, { quarantine: false });
  console.log(`[cluster] three nodes up, meta leader ${await cluster.metaLeader()}: ${at()}`);
});

afterAll(async () => {
  store?.close();
  await nc?.close().catch(() => undefined);
  await cluster?.stop();
  rmSync(home, { recursive: true, force: true });
});

const DECISIONS = new Set(["InputAccepted", "InputRejected", "ShadowRecorded", "InputDropped"]);
/** Every decision in the log, read through the cluster (a failed read during an election counts as "not yet"). */
const decisions = async (night: string): Promise<string[] | undefined> =>
  collect(store.read({ types: DECISIONS }))
    .then((es) => es.filter((e) => (e.data as { nightId: string }).nightId === night).map((e) => (e.data as { inputId: string }).inputId))
    .catch(() => undefined);
const waitDecisions = async (night: string, atLeast: number, timeoutMs = 240_000): Promise<number> => {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const n = (await decisions(night))?.length ?? 0;
    if (n >= atLeast) return n;
  }
  throw new Error(`fewer than ${atLeast} decisions in night ${night} after ${timeoutMs} ms`);
};

/** Inputs from the held-out corpus (about a thousand tokens each), so a night lasts through a failover. */
const ingestDay = async (day: string, salt: number) => {
  const lines = TOPICS.flatMap((t) => corpusLines("heldout", t)).filter((l) => l.length > 40);
  const inputs = Array.from({ length: INPUTS }, (_, i) => Array.from({ length: 24 }, (_, k) => lines[(i * 7 + k * 13 + salt) % lines.length]).join(" ") + ` (${day} #${i})`);
  const file = join(home, `${day}.log`);
  writeFileSync(file, inputs.join("\n"));
  const r = await sophont("ingest", file, "--day", day, "--max-bytes", "1000000");
  expect(r.code, r.err).toBe(0);
};

/** Each node's own copy of the event stream, once it has caught up with the leader's last sequence. */
const everyCopyHas = async (lastSeq: number) => {
  for (const end = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
    const seqs = await Promise.all(nodes.map(async (n) => (await cluster.jsz(n.name))?.account_details?.find((a) => a.name === "SOPHONT")?.stream_detail?.find((s) => s.name === EVENT_STREAM)?.state.last_seq));
    if (seqs.every((s) => s === lastSeq) || Date.now() > end) return seqs;
  }
};

interface Summary { night: string; completed: boolean; counts: { accepted: number; rejected: number; shadow: number; dropped: number } }

/** A night on the real binary while `victim()` is killed after a few decisions and started again a few later. */
const nightThroughKill = async (day: string, env: Record<string, string>, victim: () => Promise<string>) => {
  const night = start(env, "night", "--day", day, "--json");
  await waitDecisions(day, 3);
  const killed = await victim();
  const before = (await decisions(day))?.length ?? 0;
  await cluster.kill(killed);
  const tKill = Date.now();
  console.log(`[cluster] ${day}: killed ${killed} after ${before} decisions: ${at()}`);
  try {
    expect(before, "the night ended before the kill: make the inputs longer").toBeLessThan(INPUTS);
    // The night goes on on the two nodes left, then the third comes back and catches up.
    const during = await waitDecisions(day, Math.min(INPUTS, before + 2));
    console.log(`[cluster] ${day}: ${during} decisions ${((Date.now() - tKill) / 1000).toFixed(1)} s after the kill, restarting ${killed}: ${at()}`);
  } finally {
    await cluster.restart(killed);
    console.log(`[cluster] ${day}: ${killed} is back: ${at()}`);
  }
  const r = await night;
  console.log(`[cluster] ${day}: night done (rc ${r.code}): ${at()}`);
  expect(r.code, r.err).toBe(0);
  const summary = JSON.parse(r.out) as Summary;
  expect(summary).toMatchObject({ night: day, completed: true });
  const ids = (await decisions(day))!;
  expect(ids).toHaveLength(INPUTS);
  expect(new Set(ids).size).toBe(INPUTS);
  const c = summary.counts;
  expect(c.accepted + c.rejected + c.shadow + c.dropped).toBe(INPUTS);
  const completed = (await collect(store.read({ types: new Set(["NightCompleted"]) }))).filter((e) => (e.data as { nightId: string }).nightId === day);
  expect(completed).toHaveLength(1);
  expect(completed[0]!.data).toMatchObject({ counts: { accepted: c.accepted, rejected: c.rejected, shadow: c.shadow } });
  // No event twice in the log (an append retried across the failover is deduplicated by its id).
  const all = await collect(store.read());
  expect(new Set(all.map((e) => e.metadata.id)).size).toBe(all.length);
  // The restarted node rejoined: its own copy of the stream reaches the leader's last sequence.
  const last = await store.lastSeq();
  expect(await everyCopyHas(last)).toEqual(nodes.map(() => last));
  return killed;
};


describe("Sophont on a three-node JetStream cluster (nats-server 2.9.10), nodes killed with SIGKILL", () => {
  it("creates the streams and buckets at R3 when the config asks for it", async () => {
    const q = join(home, "questions.txt");
    writeFileSync(q, ["How do planets move in their orbits around a star?", "What can a telescope show of distant galaxies?", "Why does a comet brighten near the sun?"].join("\n"));
    const seeded = await sophont("preoccupation", "seed", q);
    expect(seeded.code, seeded.err).toBe(0);
    const jsm = await jetstreamManager(nc);
    for (const s of [EVENT_STREAM, `KV_${CHECKPOINT_BUCKET}`, `OBJ_${CONTENT_BUCKET}`]) expect((await jsm.streams.info(s)).config.num_replicas, s).toBe(3);
  }, 300_000);

  it("a night rides out a kill -9 of the event stream's leader and its restart: every input decided once, counts match", async () => {
    await ingestDay("2026-11-28", 0);
    await nightThroughKill("2026-11-28", {}, () => cluster.streamLeader(nc, EVENT_STREAM));
  }, 300_000);

  // Both cases once failed by chance (no decision in 240 s after the kill): while a node is down, 2.9.10
  // places about a third of new R1 consumers on it and never answers their creation; the adapters now
  // ask again and move reads to R3 consumers (test/adapters/nats/cluster-failover.int.test.ts).
  it("and of the meta leader, with the Soul's process connected to one other node only", async () => {
    await ingestDay("2026-11-29", 5);
    const meta = await cluster.metaLeader();
    const other = nodes.find((n) => n.name !== meta)!;
    await nightThroughKill("2026-11-29", { SOPHONT_NATS_URL: other.url }, async () => meta);
  }, 300_000);

  it("a replica on another node rebuilds every projection equal to the primary's, and status shows the cluster", async () => {
    const [a, b] = nodes;
    const primary = await start({ SOPHONT_NATS_URL: a!.url }, "replay", "--json");
    const replica = await start({ SOPHONT_NATS_URL: b!.url, SOPHONT_NATS_USER: "replica" }, "replay", "--json");
    expect(primary.code, primary.err).toBe(0);
    expect(replica.code, replica.err).toBe(0);
    const states = JSON.parse(primary.out) as Record<string, unknown>;
    expect(Object.keys(states).length).toBeGreaterThan(3);
    expect(JSON.parse(replica.out)).toEqual(states);
    const status = await start({}, "status", "--json");
    expect(status.code, status.err).toBe(0);
    const s = JSON.parse(status.out) as { stream: { replicas: number }; cluster: { name: string; nodes: string[]; leader: string; replicas: Array<{ name: string }> }; durability: string };
    expect(s.stream.replicas).toBe(3);
    expect(s.cluster.name).toBe("sophont");
    expect(s.cluster.nodes).toHaveLength(3);
    expect([s.cluster.leader, ...s.cluster.replicas.map((r) => r.name)].sort()).toEqual(nodes.map((n) => n.name).sort());
    expect(s.durability).toMatch(/R3: .*one node's OS crash or power cut loses nothing/);
  }, 120_000);
});
