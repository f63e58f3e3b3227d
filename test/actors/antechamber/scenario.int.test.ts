import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultClusteringParams } from "../../../actors/antechamber/clustering.ts";
import { adjustedRandIndex } from "../../../actors/antechamber/hdbscan/index.ts";
import { reclusterAll } from "../../../actors/antechamber/worker.ts";
import { defaultMitosisThresholds } from "../../../actors/mitosis/mitosis.rules.ts";
import { uncalibratedPolicy } from "../../../actors/salience/salience.policy.ts";
import { ingestFiles } from "../../../adapters/ingest/ingest.ts";
import { parseQuestions, seedPreoccupation } from "../../../adapters/ingest/preoccupation.ts";
import { JetStreamEventStore } from "../../../adapters/nats/event-store.ts";
import { LanceRejectedVectors } from "../../../adapters/vectors/antechamber-table.ts";
import { main } from "../../../adapters/cli/main.ts";
import type { EventData } from "../../../events/catalogue.ts";
import { antechamberView } from "../../../projections/antechamber.projection.ts";
import { centroids } from "../../../projections/centroids.projection.ts";
import { projectAt } from "../../../projections/runner.ts";
import { corpusLines } from "../../adapters/llm/support.ts";
import { collect } from "../../support/events.ts";
import { openTinySalience } from "../../support/models.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";
import { startNightActors } from "../../support/night-actors.ts";

// Eight nights: scattered off-topic questions every night (one line from each of five topics), the
// domain, and from night 3 on, beekeeping: ten new lines a night.
const NIGHTS = 8;
const BEES_FROM = 3;
const SCATTERED = ["cooking", "gardening", "medicine", "sailing", "software-operations"];
const THRESHOLDS = { ...defaultMitosisThresholds, minNights: 3, approval: "auto" as const };
const DOMAIN = ["How do planets move in their orbits around a star?", "What can a telescope show us about distant galaxies and nebulae?", "Why does a comet's brightness change near the sun?", "How do astronomers measure the luminosity of a star?"];

// The tiny LM never saw beekeeping's words (the corpus keeps them out of both models), so it finds
// them as unpredictable as noise: 120-134% of a uniform guess, with a surprise up to 9. A real model
// reads them as English; here the coherence fallback is widened so they reach the Antechamber as
// off-topic. The policy is recorded in every decision, so the log says so.
const POLICY = { ...uncalibratedPolicy, version: "salience-1-novel-topic", uniformFraction: 1.5, incoherentSurprise: 12 };

const dayOf = (k: number) => `2026-11-${String(k).padStart(2, "0")}`;

let nats: TestNats;
let store: JetStreamEventStore;
let vectorsDir: string;
let models: Awaited<ReturnType<typeof openTinySalience>>;
/** Where each input came from: "bees", "scattered" or "domain". */
const kindOf = new Map<string, string>();
let actors: Awaited<ReturnType<typeof startNightActors>>;

const ofType = async <T extends "InputReceived" | "AntechamberClustered" | "MitosisProposed" | "SatelliteBorn" | "InputScored" | "DriftDetected">(type: T) =>
  (await collect(store.read({ types: new Set([type]) }))) as unknown as Array<{ seq: number; data: EventData<T> }>;

const ingestNight = async (k: number) => {
  const content = actors.content;
  const files = [
    { path: `domain-${k}.log`, kind: "domain", lines: corpusLines("heldout", "astronomy").slice(2 * k, 2 * k + 2) },
    { path: `scattered-${k}.log`, kind: "scattered", lines: SCATTERED.map((t) => corpusLines("heldout", t)[k]!) },
    ...(k >= BEES_FROM ? [{ path: `bees-${k}.log`, kind: "bees", lines: corpusLines("novel", "beekeeping").slice(10 * (k - BEES_FROM), 10 * (k - BEES_FROM + 1)) }] : []),
  ];
  await ingestFiles({ store, content }, files.map((f) => ({ path: f.path, bytes: Buffer.from(f.lines.join("\n")) })), { day: dayOf(k), maxBytes: 10_000, correlationId: `day-${k}` });
  for (const e of await ofType("InputReceived")) kindOf.set(e.data.inputId, kindOf.get(e.data.inputId) ?? files.find((f) => e.data.source.path === f.path)?.kind ?? "?");
};

beforeAll(async () => {
  nats = await startTestNats();
  models = await openTinySalience();
  actors = await startNightActors(nats, { model: models.model, policy: POLICY, mitosis: THRESHOLDS });
  store = actors.store;
  vectorsDir = actors.vectorsDir;
  await seedPreoccupation(store, models.model, parseQuestions(DOMAIN.join("\n")).questions, "seed");
  for (let k = 1; k <= NIGHTS; k++) {
    await ingestNight(k);
    await actors.night(dayOf(k), 60_000);
  }
}, 110_000);

afterAll(async () => {
  await actors?.stop();
  await models?.close();
  await nats?.stop();
});

describe("the Antechamber and Mitosis over eight nights on the shipped corpus", () => {
  it("keeps scattered off-topic questions as noise and clusters beekeeping as it keeps arriving", async () => {
    const clusterings = await ofType("AntechamberClustered");
    expect(clusterings.map((c) => c.data.nightId)).toEqual(Array.from({ length: NIGHTS }, (_, i) => dayOf(i + 1)));
    const rejected = (await collect(store.read({ types: new Set(["InputRejected"]) }))).flatMap((e) => (e.type === "InputRejected" && e.data.cause === "off-topic" ? [e.data] : []));
    for (const { data } of clusterings) {
      const window = new Set(rejected.filter((r) => data.params.windowNights > 0 && Number(data.nightId.slice(-2)) - Number(r.nightId.slice(-2)) < data.params.windowNights && r.nightId <= data.nightId).map((r) => r.inputId));
      expect(window.size).toBe(data.points);
      const clustered = data.clusters.flatMap((c) => c.members);
      const scattered = [...window].filter((id) => kindOf.get(id) === "scattered");
      const scatteredClustered = clustered.filter((id) => kindOf.get(id) === "scattered").length;
      console.log(`${data.nightId}: ${data.points} questions (${scattered.length} scattered), ${data.noise} noise, clusters ${data.clusters.map((c) => `${c.clusterId} size ${c.size} age ${c.age} stability ${c.stability.toFixed(1)} density ${c.density.toFixed(2)}`).join("; ") || "none"}; scattered in a cluster: ${scatteredClustered}`);
      // Scattered questions stay noise: at most one in ten is swept into a cluster.
      expect(scatteredClustered).toBeLessThanOrEqual(Math.floor(scattered.length / 10));
      for (const c of data.clusters) expect(c.members.filter((id) => kindOf.get(id) === "bees").length / c.size).toBeGreaterThanOrEqual(0.8);
    }
    // Before beekeeping arrives, nothing clusters; the beekeeping cluster keeps one identity.
    for (const c of clusterings.filter((c) => c.data.nightId < dayOf(BEES_FROM))) expect(c.data.clusters).toEqual([]);
    expect(new Set(clusterings.flatMap((c) => c.data.clusters.map((x) => x.clusterId))).size).toBe(1);
  });

  it("proposes exactly one mitosis, for the beekeeping cluster, after the configured nights, and a satellite is born", async () => {
    const proposals = await ofType("MitosisProposed");
    const born = await ofType("SatelliteBorn");
    expect(proposals).toHaveLength(1);
    expect(born).toHaveLength(1);
    const p = proposals[0]!.data;
    const clusterings = await ofType("AntechamberClustered");
    const first = clusterings.find((c) => c.data.clusters.some((x) => x.clusterId === p.clusterId))!.data.nightId;
    console.log(`mitosis proposed after night ${p.nightId} (cluster ${p.clusterId} first seen ${first}, age ${p.age}, ${p.size} members, stability ${p.stability.toFixed(1)}, nearest ${p.nearest.centroidId} at ${p.nearest.similarity.toFixed(3)})`);
    expect(p.age).toBe(THRESHOLDS.minNights);
    expect(Number(p.nightId.slice(-2)) - Number(first.slice(-2)) + 1).toBe(THRESHOLDS.minNights);
    expect(p.thresholds).toEqual(THRESHOLDS);
    expect(born[0]!.data.proposalId).toBe(p.proposalId);
    // ARI of the proposal night's clustering against the truth (beekeeping vs everything else as noise).
    const night = clusterings.find((c) => c.data.nightId === p.nightId)!.data;
    const label = new Map(night.clusters.flatMap((c, i) => c.members.map((m) => [m, i] as const)));
    const days = new Set(Array.from({ length: defaultClusteringParams.windowNights }, (_, i) => dayOf(Number(p.nightId.slice(-2)) - i)));
    const ids = (await collect(store.read({ types: new Set(["InputRejected"]) })))
      .flatMap((e) => (e.type === "InputRejected" && e.data.cause === "off-topic" && days.has(e.data.nightId) ? [e.data.inputId] : []));
    expect(ids).toHaveLength(night.points);
    // Noise is no group: each noise point (and each non-beekeeping question) is its own label.
    const ari = adjustedRandIndex(ids.map((id, i) => (kindOf.get(id) === "bees" ? 0 : -1 - i)), ids.map((id, i) => label.get(id) ?? -1 - i));
    console.log(`ARI on the proposal night's window (${ids.length} questions, ${label.size} clustered): ${ari.toFixed(3)}`);
    expect(ari).toBeGreaterThanOrEqual(0.6);
  });

  it("scores beekeeping against the satellite after its birth", async () => {
    const born = (await ofType("SatelliteBorn"))[0]!;
    const after = (await ofType("InputScored")).filter((e) => e.seq > born.seq && kindOf.get(e.data.inputId) === "bees");
    expect(after.length).toBeGreaterThanOrEqual(8);
    const nearSatellite = after.filter((e) => e.data.similarity.nearest === born.data.satelliteId).length;
    console.log(`after the birth: ${nearSatellite}/${after.length} beekeeping inputs nearest the satellite`);
    expect(nearSatellite / after.length).toBeGreaterThanOrEqual(0.9);
    for (const e of after) expect(e.data.similarity.satellites.map((s) => s.satelliteId)).toContain(born.data.satelliteId);
    const others = (await collect(store.read({ types: new Set(["InputAccepted"]) }))).flatMap((e) => (e.type === "InputAccepted" && e.seq > born.seq && kindOf.get(e.data.inputId) !== "bees" ? [`${kindOf.get(e.data.inputId)}->${e.data.nearest}@${e.data.similarity.toFixed(2)}`] : []));
    console.log(`other inputs accepted after the birth: ${others.join(", ")}`);
  });

  it("travels in time: the satellite is absent before its birth and present after", async () => {
    const born = (await ofType("SatelliteBorn"))[0]!;
    const before = await projectAt(store, centroids, { seq: born.seq - 1 });
    const at = await projectAt(store, centroids, { seq: born.seq });
    expect(Object.keys(before)).toEqual(["preoccupation"]);
    expect(Object.keys(at).sort()).toEqual(["preoccupation", born.data.satelliteId].sort());
    const viewBefore = await projectAt(store, antechamberView, { seq: born.seq - 1 });
    const viewNow = await projectAt(store, antechamberView, "now");
    expect(viewBefore.clusters[born.data.clusterId]?.satelliteId ?? null).toBeNull();
    expect(viewNow.clusters[born.data.clusterId]).toMatchObject({ status: "approved", satelliteId: born.data.satelliteId });
  });

  it("shows the same through the CLI: centroids and the Antechamber --at a sequence, drift with an SVG", async () => {
    const born = (await ofType("SatelliteBorn"))[0]!;
    process.env.SOPHONT_NATS_PASSWORD = nats.secrets.soul;
    const cli = async (...argv: string[]) => {
      const out: string[] = [];
      const code = await main([...argv, "--home", vectorsDir, "--nats-url", nats.url], { out: (l) => out.push(l), err: (l) => out.push(l) });
      expect(code, out.join("\n")).toBe(0);
      return out.join("\n");
    };
    expect(await cli("centroids", "--at", String(born.seq - 1))).not.toContain(born.data.satelliteId);
    expect(await cli("centroids", "--at", String(born.seq))).toContain(born.data.satelliteId);
    const proposed = (await ofType("MitosisProposed"))[0]!;
    expect(await cli("antechamber", "--at", String(proposed.seq - 1))).toMatch(new RegExp(`${born.data.clusterId} .* watching +-`));
    expect(await cli("antechamber", "--at", String(proposed.seq))).toMatch(new RegExp(`${born.data.clusterId} .* proposed +-`));
    expect(await cli("antechamber")).toMatch(new RegExp(`${born.data.clusterId} .* approved +${born.data.satelliteId}`));
    const svg = join(vectorsDir, "drift.svg");
    const drift = await cli("drift", "--svg", svg);
    console.log(drift);
    expect(drift).toMatch(/preoccupation +\d+ +[▁▂▃▄▅▆▇█]+/);
    expect(drift).toContain(born.data.satelliteId);
    expect(readFileSync(svg, "utf8")).toMatch(/^<svg[\s\S]*<polyline[\s\S]*satellite-[\s\S]*<\/svg>$/);
    expect(await cli("drift", "--centroid", born.data.satelliteId, "--from", String(born.seq))).not.toContain("preoccupation");
  });

  it("gives the same clusters after the LanceDB table is dropped and rebuilt from the log", async () => {
    const vectors = await LanceRejectedVectors.open(vectorsDir, store);
    const before = await vectors.count();
    // A new process resumes the table it finds: nothing is added twice.
    expect(await vectors.upTo(await store.lastSeq())).toHaveLength(before);
    expect(await vectors.count()).toBe(before);
    await vectors.drop();
    expect(await vectors.count()).toBe(0);
    const again = await reclusterAll(store, vectors);
    expect(await vectors.count()).toBe(before);
    expect(again).toEqual((await ofType("AntechamberClustered")).map((e) => e.data));
  });
});
