// HDBSCAN on seeded unit vectors (topic centres plus noise, L2-normalised), each size in its own
// child process so its peak RSS is its own. Peer: scikit-learn 1.9.1 HDBSCAN(algorithm="brute"),
// measured on the machine (no scikit-learn here), so the ratio compares a figure from this
// run with one from the issue.
//   npm run bench -- hdbscan               all sizes
//   HDBSCAN_BENCH_SIZES=10000x384,2000x64t1  chosen sizes (tN: N threads; default: automatic)
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { adjustedRandIndex, hdbscan } from "../../actors/antechamber/hdbscan/index.ts";
import { peakRssMiB, writeBenchResult } from "./support/result.ts";

const MIN_CLUSTER_SIZE = 15;
const CHILD_LIMIT_S = 900;
/** scikit-learn 1.9.1 on the machine (dim 384), seconds and peak MB; not measured here. */
const PEER = {
  brute: { 2000: 0.26, 5000: 1.06, 10000: 3.88, peakMB10k: 1700 },
  default: { 2000: 2.0, 5000: 20.9, 10000: 84.9 },
  source: "issue figures for scikit-learn 1.9.1 (brute / default algorithm), not measured in this run",
};

interface Run {
  n: number;
  dim: number;
  threads: string;
  seconds: number;
  cpuSeconds: number;
  inputMiB: number;
  rssBeforeMiB: number;
  peakRssMiB: number;
  clusters: number;
  noise: number;
}

/** Seeded unit vectors: 12 topic centres with different spreads, 5% scattered points. */
const unitVectors = (n: number, dim: number, seed: number): Float32Array => {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const centres = Array.from({ length: 12 }, () => Float64Array.from({ length: dim }, gauss));
  const out = new Float32Array(n * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const scattered = uniform() < 0.05;
    const topic = Math.floor(uniform() * centres.length);
    const spread = 0.35 + 0.1 * (topic % 4);
    let sq = 0;
    for (let d = 0; d < dim; d++) {
      row[d] = scattered ? gauss() : centres[topic]![d]! + spread * gauss();
      sq += row[d]! ** 2;
    }
    for (let d = 0; d < dim; d++) out[i * dim + d] = row[d]! / Math.sqrt(sq);
  }
  return out;
};

const child = (n: number, dim: number, threads: number | undefined): void => {
  const points = unitVectors(n, dim, 7);
  globalThis.gc?.();
  const rssBeforeMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = hdbscan(points, n, dim, { minClusterSize: MIN_CLUSTER_SIZE, threads });
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const run: Run = {
    n,
    dim,
    threads: threads === undefined ? "auto" : String(threads),
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    inputMiB: Math.round(points.byteLength / 2 ** 20),
    rssBeforeMiB,
    peakRssMiB: peakRssMiB(),
    clusters: result.clusters.length,
    noise: result.labels.filter((l) => l < 0).length,
  };
  console.log(JSON.stringify(run));
};

const measure = (spec: string): Run | { spec: string; failed: string } => {
  const [, n, dim, threads] = /^(\d+)x(\d+)(?:t(\d))?$/.exec(spec) ?? [];
  const self = fileURLToPath(import.meta.url);
  const out = spawnSync(process.execPath, ["--import", "tsx", "--expose-gc", self, "--child", n!, dim!, threads ?? "auto"], {
    encoding: "utf8",
    timeout: CHILD_LIMIT_S * 1000,
  });
  const line = out.stdout.trim().split("\n").pop() ?? "";
  if (out.status !== 0 || !line.startsWith("{")) return { spec, failed: out.error?.message ?? out.stderr.slice(-500) };
  const run = JSON.parse(line) as Run;
  console.log(`  ${spec}: ${run.seconds.toFixed(2)} s (cpu ${run.cpuSeconds.toFixed(2)} s), peak ${run.peakRssMiB} MiB, ${run.clusters} clusters, ${run.noise} noise`);
  return run;
};

/** Agreement with scikit-learn where it can be checked here: the reference 384-d fixture, and the float64 path. */
const agreement = () => {
  const fixtures = new URL("../fixtures/hdbscan/", import.meta.url);
  const ref = JSON.parse(readFileSync(new URL("unit384.json", fixtures), "utf8")) as { n: number; dim: number; labels: number[] };
  const raw = readFileSync(new URL("unit384.f32", fixtures));
  const points = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const ours = hdbscan(points, ref.n, ref.dim, { minClusterSize: 15, minSamples: 5 });
  const bench = unitVectors(2000, 384, 7);
  const simd = hdbscan(bench, 2000, 384, { minClusterSize: MIN_CLUSTER_SIZE, kernel: "simd" });
  const scalar = hdbscan(bench, 2000, 384, { minClusterSize: MIN_CLUSTER_SIZE, kernel: "scalar" });
  return {
    ariVsScikitLearnUnit384: adjustedRandIndex(ours.labels, ref.labels),
    ariSimdVsFloat64At2000x384: adjustedRandIndex(simd.labels, scalar.labels),
  };
};

const parent = (): void => {
  const specs = (process.env.HDBSCAN_BENCH_SIZES ?? "10000x384,10000x384t1,50000x384,100000x384,10000x64,50000x64,100000x64").split(",");
  const runs = specs.map(measure);
  const ok = runs.filter((r): r is Run => "seconds" in r);
  const at10k = ok.find((r) => r.n === 10000 && r.dim === 384 && r.threads === "auto");
  const ratio = at10k ? at10k.seconds / PEER.brute[10000] : Number.NaN;
  const perPoint = ok.map((r) => ({
    size: `${r.n}x${r.dim}`,
    peakMiB: r.peakRssMiB,
    growthMiB: r.peakRssMiB - r.rssBeforeMiB,
    kiBPerPointPeak: +(((r.peakRssMiB * 1024) / r.n).toFixed(2)),
  }));
  const checks = agreement();
  writeBenchResult({
    name: "hdbscan",
    ratio,
    target: 2,
    better: "lower",
    figures: { runs, memory: perPoint, peer: PEER, checks, minClusterSize: MIN_CLUSTER_SIZE, memoryShareOfPeerAt10k: at10k ? at10k.peakRssMiB / PEER.brute.peakMB10k : null },
    summary: at10k
      ? `HDBSCAN 10k x 384 unit vectors: ${at10k.seconds.toFixed(2)} s, peak ${at10k.peakRssMiB} MiB vs scikit-learn brute 3.88 s / 1.7 GB (issue's figures); ARI vs sklearn fixture ${checks.ariVsScikitLearnUnit384.toFixed(3)}`
      : "HDBSCAN 10k x 384 did not finish",
  });
};

if (process.argv[2] === "--child") child(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] === "auto" ? undefined : Number(process.argv[5]));
else parent();
