import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inputIdOf, normalise } from "../../../adapters/ingest/parse.ts";
import { connectNats, ensureInfrastructure } from "../../../adapters/nats/connection.ts";
import { ObjectContentStore } from "../../../adapters/nats/content-store.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { pendingCopies } from "../../../adapters/cli/heal-copies.ts";
import { CONTENT_BUCKET, EVENT_STREAM, familySubjects } from "../../../events/subjects.ts";
import { runSophont, startSophont } from "../../support/cli.ts";
import { clusterSecrets, startTempCluster, type TestCluster } from "../../support/cluster.ts";
import { eventually, grepTree } from "../../support/disk.ts";
import { corpusLines } from "../llm/support.ts";

// `sophont forget` on a three-node cluster (R3 streams), read on every node's disk: the stream's
// block files (`jetstream/SOPHONT/streams/…`) and the Raft directories (`jetstream/$SYS/_js_/`: the
// meta group and each stream's and consumer's group with its `msgs/` log). An erase is a Raft entry
// every replica applies to its block files; the appends that brought the text stay in each node's
// Raft log until that node snapshots the stream (every 2-3 min on its own timer in nats-server
// 2.9.10): forget pushes the log to its compaction. The timer never fires within this file's run.

const home = mkdtempSync(join(tmpdir(), "sophont-cluster-forget-"));
const CONTENT_STREAM = `OBJ_${CONTENT_BUCKET}`;
let cluster: TestCluster;
let nc: NatsConnection;
let jsm: JetStreamManager;
let store: JetStreamEventStore;

beforeAll(async () => {
  cluster = await startTempCluster();
  nc = await connectNats({ url: cluster.url, user: "soul", pass: clusterSecrets.soul, name: "cluster-forget-test" });
  await ensureInfrastructure(nc, { replicas: 3 });
  jsm = await jetstreamManager(nc, { timeout: 10_000, checkAPI: false });
  store = new JetStreamEventStore(nc, { quarantine: false });
}, 120_000);

afterAll(async () => {
  await nc?.close().catch(() => undefined);
  await cluster?.stop();
  rmSync(home, { recursive: true, force: true });
});

const sophontEnv = () => ({ SOPHONT_HOME: home, SOPHONT_NATS_URL: cluster.url, SOPHONT_NATS_USER: "soul", SOPHONT_NATS_PASSWORD: clusterSecrets.soul, SOPHONT_REPLICAS: "3" });
const sophont = (...args: string[]) => runSophont(args, { env: sophontEnv(), timeoutMs: 120_000 });

/** A text of about 300 KB (three object-store chunks) with the canary at its start, in its middle and at its end. */
const textWith = (canary: string): string => {
  const lines = corpusLines("heldout", "medicine");
  const body = Array.from({ length: 2400 }, (_, i) => lines[i % lines.length]).join(" ");
  return `${canary} ${body.slice(0, body.length / 2)} ${canary} ${body.slice(body.length / 2)} ${canary}`;
};

interface NodeFiles { blocks: number; raft: number; elsewhere: string[] }
/** How many times the canary is in each node's stream block files and Raft directories (and any other file). */
const onDisk = (canary: string): Record<string, NodeFiles> =>
  Object.fromEntries(
    cluster.nodes.map((n) => {
      const found: NodeFiles = { blocks: 0, raft: 0, elsewhere: [] };
      for (const [file, count] of Object.entries(grepTree(n.store, canary).files)) {
        const rel = relative(n.store, file);
        if (rel.includes(`${sep}_js_${sep}`)) found.raft += count;
        else if (rel.includes(`${sep}streams${sep}`)) found.blocks += count;
        else found.elsewhere.push(rel);
      }
      return [n.name, found];
    }),
  );
const everyNode = (d: Record<string, NodeFiles>, ok: (f: NodeFiles) => boolean) => Object.keys(d).length === 3 && Object.values(d).every(ok);
const clean = (f: NodeFiles) => f.blocks === 0 && f.raft === 0 && f.elsewhere.length === 0;

describe("sophont forget on a three-node cluster, read on every node's disk", () => {
  const control = `erase-only-canary-${randomBytes(8).toString("hex")}`;

  it("an erase by sequence alone leaves the text in every node's Raft log (the reason forget compacts it)", async () => {
    const os = await new Objm(nc).open(CONTENT_BUCKET);
    const info = await os.putBlob({ name: "erase-only" }, Buffer.from(textWith(control)));
    const stored = await eventually(() => onDisk(control), (d) => everyNode(d, (f) => f.blocks >= 3 && f.raft >= 3));
    expect(everyNode(stored, (f) => f.blocks >= 3 && f.raft >= 3), JSON.stringify(stored)).toBe(true);
    for (let seq = 1; ; ) {
      const m = await jsm.direct.getMessage(CONTENT_STREAM, { seq, next_by_subj: `$O.${CONTENT_BUCKET}.C.${info.nuid}` });
      if (!m) break;
      await jsm.streams.deleteMessage(CONTENT_STREAM, m.seq, true);
      seq = m.seq + 1;
    }
    const erased = await eventually(() => onDisk(control), (d) => everyNode(d, (f) => f.blocks === 0), 5_000);
    console.log(`[cluster-forget] erase alone: ${JSON.stringify(erased)}`);
    expect(everyNode(erased, (f) => f.blocks === 0), "every replica applies the erase to its block files").toBe(true);
    expect(everyNode(erased, (f) => f.raft >= 3), "the appends stay in every node's Raft log").toBe(true);
  });

  it("removes the text from every node's block files and Raft log, and the compaction's filler is purged", async () => {
    const canary = `bank-PIN-canary-${randomBytes(8).toString("hex")}`;
    const text = textWith(canary);
    writeFileSync(join(home, "secret.md"), text);
    const ingested = await sophont("ingest", join(home, "secret.md"), "--max-bytes", "1000000", "--day", "2026-12-01");
    expect(ingested.code, ingested.err).toBe(0);
    const before = await eventually(() => onDisk(canary), (d) => everyNode(d, (f) => f.blocks >= 3 && f.raft >= 3));
    console.log(`[cluster-forget] ingested: ${JSON.stringify(before)}`);
    expect(everyNode(before, (f) => f.blocks >= 3 && f.raft >= 3), "on every node's disk twice over once ingested (else this test proves nothing)").toBe(true);

    const forgot = await sophont("forget", inputIdOf(normalise(text)), "--reason", "a secret");
    expect(forgot.code, forgot.err).toBe(0);
    expect(forgot.out).toMatch(/forgotten: .*1 text\(s\) deleted/);
    // The third node applies the compaction's last entries a moment after the two that acked them.
    const t = Date.now();
    const after = await eventually(() => onDisk(canary), (d) => everyNode(d, clean), 5_000);
    console.log(`[cluster-forget] forget took ${(forgot.ms / 1000).toFixed(1)} s, every node clean ${Date.now() - t} ms after it returned: ${JSON.stringify(after)}`);
    expect(after, "files that still hold the forgotten text, on any node").toEqual({ n1: { blocks: 0, raft: 0, elsewhere: [] }, n2: { blocks: 0, raft: 0, elsewhere: [] }, n3: { blocks: 0, raft: 0, elsewhere: [] } });
    // The compaction drops every node's log up to the forget: the control's appends went with it.
    expect(everyNode(onDisk(control), clean), "the earlier erase's appends are compacted too").toBe(true);
    expect(await jsm.streams.getMessage(CONTENT_STREAM, { last_by_subj: `$O.${CONTENT_BUCKET}.C.raft-compaction` }).catch(() => null)).toBeNull();
  });

  // Last: it kills a node. A follower down during `sophont forget` missed the erase; once it rejoins,
  // the leader's snapshot drops the text from its Raft log and index but not from its block file
  // (nats-server 2.9.10): the forget records the copy as stale, and the heal `up` runs rebuilds it.
  it("a follower down during the forget is recorded stale, keeps the text in its block file when it rejoins, and is rebuilt by the heal: then no node's files hold it", async () => {
    const canary = `down-node-canary-${randomBytes(8).toString("hex")}`;
    const text = textWith(canary);
    writeFileSync(join(home, "down.md"), text);
    const ingested = await sophont("ingest", join(home, "down.md"), "--max-bytes", "1000000", "--day", "2026-12-02");
    expect(ingested.code, ingested.err).toBe(0);
    await eventually(() => onDisk(canary), (d) => everyNode(d, (f) => f.blocks >= 3 && f.raft >= 3));
    // A follower of the content stream, neither the meta leader nor (where the placement allows)
    // the event stream's leader: killing a leader adds an election to the forget, not to what is tested.
    const placement = (await jsm.streams.info(CONTENT_STREAM)).cluster!;
    const leaders = [await cluster.metaLeader(), (await jsm.streams.info(EVENT_STREAM)).cluster!.leader];
    const followers = placement.replicas!.map((r) => r.name).filter((n) => n !== leaders[0]);
    const victim = followers.find((n) => n !== leaders[1]) ?? followers[0]!;
    await cluster.kill(victim);

    const forgot = await sophont("forget", inputIdOf(normalise(text)), "--reason", "a secret", "--json");
    expect(forgot.code, forgot.err).toBe(0);
    const result = JSON.parse(forgot.out) as { deleted: number; behind: string[]; stale: string[]; heal: Array<{ node: string; outcome: string }> };
    const down = onDisk(canary);
    console.log(`[cluster-forget] ${victim} down (content leader ${placement.leader}, meta ${leaders[0]}, events ${leaders[1]}): forget took ${(forgot.ms / 1000).toFixed(1)} s, ${JSON.stringify(result)}, ${JSON.stringify(down)}`);
    expect(result).toMatchObject({ deleted: 1, behind: [victim], stale: [victim], heal: [{ node: victim, outcome: "waiting" }] });
    for (const n of cluster.nodes) expect(down[n.name], n.name).toEqual(n.name === victim ? { blocks: 3, raft: 3, elsewhere: [] } : { blocks: 0, raft: 0, elsewhere: [] });
    const stale = await pendingCopies(store);
    expect(stale.map((c) => [c.node, c.inputIds])).toEqual([[victim, [inputIdOf(normalise(text))]]]);

    const tRestart = Date.now();
    await cluster.restart(victim);
    const content = new ObjectContentStore(nc, 3);
    expect(await eventually(() => content.replicasBehind(0).catch(() => [victim]), (b) => b.length === 0, 30_000)).toEqual([]);
    const rejoined = await eventually(() => onDisk(canary)[victim]!, (f) => f.raft === 0, 5_000);
    console.log(`[cluster-forget] ${victim} rejoined, its copy current ${Date.now() - tRestart} ms after the restart (ingest took ${ingested.ms} ms): ${JSON.stringify(rejoined)}`);
    expect(rejoined, "the leader's snapshot drops the chunks from its Raft log and index, without overwriting them").toEqual({ blocks: 3, raft: 0, elsewhere: [] });

    // Back, and still pending until its copy is rebuilt: `sophont up` does it by itself, at its start
    // and every minute after, for every pending copy whose node is back.
    const status = await sophont("status", "--json");
    expect(status.code, status.err).toBe(0);
    expect((JSON.parse(status.out) as { staleCopies: Array<{ node: string }> }).staleCopies.map((c) => c.node)).toEqual([victim]);
    const up = startSophont(["up"], { env: { ...sophontEnv(), OTEL_SDK_DISABLED: "true" } });
    const rebuiltLine = new RegExp(`content store: ${victim}: its copy of the content store rebuilt in ([\\d.]+) s`);
    const said = await eventually(() => rebuiltLine.exec(up.stdout()), (m) => m !== null, 120_000);
    up.child.kill("SIGINT");
    const upDone = await up.done;
    console.log(`[cluster-forget] up rebuilt ${victim}'s copy in ${said?.[1]} s; up ran ${upDone.ms} ms (status took ${status.ms} ms)`);
    expect(said, upDone.out + upDone.err).not.toBeNull();
    expect(upDone.code, upDone.err).toBe(0);
    const after = await eventually(() => onDisk(canary), (d) => everyNode(d, clean), 10_000);
    expect(after, "files that still hold the forgotten text, on any node").toEqual({ n1: { blocks: 0, raft: 0, elsewhere: [] }, n2: { blocks: 0, raft: 0, elsewhere: [] }, n3: { blocks: 0, raft: 0, elsewhere: [] } });
    const info = await jsm.streams.info(CONTENT_STREAM);
    expect([info.cluster!.leader, ...(info.cluster!.replicas ?? []).filter((r) => r.current).map((r) => r.name)].sort(), "three current copies again").toEqual(["n1", "n2", "n3"]);
    expect(info.config.num_replicas).toBe(3);

    // Read by subject with the leader's message get: a consumer made this soon after a node rejoined
    // can be placed where it never answers (nats-server 2.9.10).
    const rebuilt: Array<{ node: string; staleUpToSeq: number; by: string }> = [];
    for (let e = await store.nextOnSubject(familySubjects("content")); e; e = await store.nextOnSubject(familySubjects("content"), e.seq + 1)) if (e.type === "ContentCopyRebuilt") rebuilt.push(e.data);
    expect(rebuilt).toMatchObject([{ node: victim, by: "up", staleUpToSeq: stale[0]!.staleSeq }]);
    expect(await pendingCopies(store)).toEqual([]);
    const again = await sophont("cluster", "heal");
    expect([again.code, again.out.trim()]).toEqual([0, "no copy of the content store to rebuild"]);
    console.log(`[cluster-forget] cluster heal with nothing pending took ${again.ms} ms`);
    // A person may rebuild any node's copy (`sophont cluster heal` runs the same code as up), the
    // leader's too: it steps down first, and the stream is whole again with the same messages.
    const leader = info.cluster!.leader!;
    const messages = info.state.messages;
    const byHand = await sophont("cluster", "heal", "--node", leader, "--json");
    expect(byHand.code, byHand.err + byHand.out).toBe(0);
    console.log(`[cluster-forget] the leader ${leader}'s copy rebuilt by hand in ${byHand.ms} ms: ${byHand.out.replace(/\s+/g, " ")}`);
    const whole = await jsm.streams.info(CONTENT_STREAM);
    expect(whole.cluster!.leader).not.toBe(leader);
    expect([whole.cluster!.leader, ...(whole.cluster!.replicas ?? []).filter((r) => r.current).map((r) => r.name)].sort()).toEqual(["n1", "n2", "n3"]);
    expect(whole.state.messages).toBe(messages);
    // A forget with a node down takes 14-39 s here (elections, consumers placed on the dead node), and up starts its models.
  }, 240_000);
});
