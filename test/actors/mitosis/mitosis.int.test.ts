import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startActors, type RunningActors } from "../../../adapters/cli/actors.ts";
import { antechamberSettings } from "../../../adapters/cli/commands/antechamber-settings.ts";
import { loadConfig } from "../../../adapters/cli/config.ts";
import { main } from "../../../adapters/cli/main.ts";
import { KvCheckpointStore } from "../../../adapters/nats/checkpoints.ts";
import { sendCommand } from "../../../adapters/nats/commands.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import type { AntechamberCluster } from "../../../events/antechamber.ts";
import { ApproveMitosis, DeclineMitosis } from "../../../events/commands.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import { collect, pending } from "../../support/events.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";

let nats: TestNats;
let store: JetStreamEventStore;
let home: string;
let actors: RunningActors;

const cluster = (clusterId: string, centroid: number[]): AntechamberCluster => ({
  clusterId, members: Array.from({ length: 12 }, (_, i) => `${clusterId}-m${i}`), centroid, size: 12, stability: 50, density: 0.7, age: 3, bornNight: "2026-11-04", matchedBy: "overlap",
});
const clustered: DomainEvent = {
  type: "AntechamberClustered",
  data: {
    nightId: "2026-11-06", points: 40, noise: 16,
    params: { minClusterSize: 5, minSamples: 4, metric: "cosine", epsilon: 0.5, windowNights: 3, matchOverlap: 0.3, matchSimilarity: 0.9 },
    clusters: [cluster("ac-a", [0, 1, 0]), cluster("ac-b", [0, 0, 1])],
  },
};

const waitFor = async (type: string, n: number) => {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const found = await collect(store.read({ types: new Set([type]) }));
    if (found.length >= n) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${n} ${type}`);
};

beforeAll(async () => {
  nats = await startTestNats();
  const nc = await nats.connect();
  store = new JetStreamEventStore(nc);
  home = mkdtempSync(join(tmpdir(), "sophont-home-"));
  // Approval waits for a command: set the way a user sets it.
  const config = loadConfig({ home }, {});
  const rt = { nc, store, checkpoints: new KvCheckpointStore(nc), server: { url: nats.url, embedded: false, ownedByThisProcess: false }, close: async () => undefined };
  actors = await startActors(rt, { antechamber: antechamberSettings(config, { SOPHONT_MITOSIS_APPROVAL: "command" }) });
  await store.append([pending({ type: "PreoccupationSeeded", data: { questionId: "q", question: "stars?", vector: [1, 0, 0], embedder: "e" } }), pending(clustered)]);
});

afterAll(async () => {
  await actors?.stop();
  store?.close();
  await nats?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe("Mitosis approval by command", () => {
  it("proposes both distant clusters and waits for a decision", async () => {
    const proposals = await waitFor("MitosisProposed", 2);
    expect(proposals.map((p) => (p.data as { thresholds: { approval: string } }).thresholds.approval)).toEqual(["command", "command"]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await collect(store.read({ types: new Set(["MitosisApproved", "SatelliteBorn"]) }))).toEqual([]);
  });

  it("lets an outside agent approve over NATS with its own user, once", async () => {
    const agent = await nats.connect("agent");
    const reply = await sendCommand(agent, ApproveMitosis, { id: "agent-approve-1", command: { type: "ApproveMitosis", proposalId: "mitosis-ac-a" } });
    expect(reply).toMatchObject({ ok: true, events: [{ subject: "sophont.evt.mitosis.mitosis-ac-a" }, { subject: "sophont.evt.satellite.satellite-ac-a" }] });
    const born = await waitFor("SatelliteBorn", 1);
    expect(born[0]!.data).toMatchObject({ satelliteId: "satellite-ac-a", vector: [0, 1, 0], members: 12 });
    // Who approved is who the server authenticated: the agent's account, named in the subject.
    expect((await waitFor("MitosisApproved", 1))[0]!.data).toMatchObject({ by: "agent:tester", automatic: false });
    const again = await sendCommand(agent, DeclineMitosis, { id: "agent-decline-1", command: { type: "DeclineMitosis", proposalId: "mitosis-ac-a", reason: "changed my mind" } });
    expect(again).toEqual({ ok: false, refusal: "mitosis proposal mitosis-ac-a was already approved" });
  });

  it("declines from the command line, and refuses an unknown proposal", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
    process.env.SOPHONT_NATS_PASSWORD = nats.secrets.soul;
    const args = ["--home", home, "--nats-url", nats.url];
    expect(await main(["mitosis", "decline", "mitosis-ac-b", "--reason", "a hobby, not a field", ...args], io)).toBe(0);
    expect(out.join("\n")).toMatch(/declined mitosis-ac-b/);
    expect(await main(["mitosis", "approve", "mitosis-zz", ...args], io)).toBe(1);
    expect(err.join("\n")).toMatch(/no mitosis proposal mitosis-zz/);
    const declined = await waitFor("MitosisDeclined", 1);
    expect(declined[0]!.data).toMatchObject({ proposalId: "mitosis-ac-b", reason: "a hobby, not a field", by: expect.stringMatching(/^cli:./) });
    expect(await collect(store.read({ types: new Set(["SatelliteBorn"]) }))).toHaveLength(1);
  });
});
