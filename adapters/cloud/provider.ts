// A rented GPU per job over a RunPod/Lambda-style REST API: create an instance with a GPU type and an
// image, poll until SSH answers, pin its host key on first contact (such APIs return no host key, so
// the first key seen is trusted and recorded), terminate when the job is over. The API key is read
// from the environment at each call and never written to events, logs or errors. With a persistent
// volume (`volume` in cloud.json), every instance is created with it mounted and keeps its cache
// there, and the Muscle stages the base on it from a machine without a GPU before renting one.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { HostProvider, ProvisionedHost, ProvisionRequest, RentedInstance, VolumeInfo } from "../../actors/muscle/ports.ts";
import { SshRemoteHost, type SshRemoteHostOptions } from "../ssh/client.ts";
import { scanHostKey } from "../ssh/hosts.ts";
import { CloudApi, tagged, type ApiInstance } from "./api.ts";
import type { CloudOptions } from "./config.ts";

export type { CloudOptions, Offer, VolumeOptions } from "./config.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Names of this provider's instances: `sophont-<jobId>` for the GPU, `sophont-staging.<jobId>` for the stager. */
const PREFIX = "sophont-";
const STAGING = "sophont-staging.";
const jobOf = (name: string): { jobId: string; purpose: "staging" | "training" } =>
  name.startsWith(STAGING) ? { jobId: name.slice(STAGING.length), purpose: "staging" } : { jobId: name.slice(PREFIX.length), purpose: "training" };

/** One machine to try: what the API is asked for, and how the event names it. */
interface Candidate {
  readonly ask: Record<string, string>;
  readonly gpuType: string;
  readonly machineType?: string;
  readonly region: string;
  readonly pricePerHour: number;
}

/** HostProvider renting one instance per job, named for the job so a restarted Muscle finds it again. */
export class CloudGpuProvider implements HostProvider {
  readonly kind: string;
  private readonly api: CloudApi;
  /** Instances this process created: when, and at what price (for a release that finds one the log never recorded). */
  private readonly made = new Map<string, { createdAt: number; pricePerHour: number }>();

  constructor(private readonly o: CloudOptions) {
    this.kind = `cloud:${o.name}`;
    this.api = new CloudApi(o.name, o.apiUrl, o.apiKeyEnv);
  }

  /** The instances this provider made (by name), as the API lists them. */
  async instances(): Promise<ApiInstance[]> {
    return (await this.api.instances()).filter((i) => i.name.startsWith(PREFIX));
  }

  async provision(request: ProvisionRequest): Promise<ProvisionedHost & { readonly instance: RentedInstance }> {
    const offers = this.o.offers.map((o): Candidate => ({ ask: { gpuType: o.gpuType }, gpuType: o.gpuType, region: o.region, pricePerHour: o.pricePerHour }));
    return this.rent(`${PREFIX}${request.jobId}`, offers, request, "training", "GPU");
  }

  /** The cheapest machine without a GPU in the volume's region, with the volume mounted: it stages the base while no GPU bills. */
  async provisionStaging(request: ProvisionRequest & { readonly volume: VolumeInfo }): Promise<ProvisionedHost & { readonly instance: RentedInstance }> {
    const staging = [...(this.o.volume?.staging ?? [])]
      .map((s): Candidate => ({ ask: { cpuType: s.machineType }, gpuType: "none", machineType: s.machineType, region: s.region ?? request.volume.region, pricePerHour: s.pricePerHour }))
      .sort((a, b) => a.pricePerHour - b.pricePerHour);
    return this.rent(`${STAGING}${request.jobId}`, staging, request, "staging", "staging machine");
  }

  /** Creates (or finds again, after a restart) the named instance from the first candidate that has capacity, then waits for SSH. */
  private async rent(name: string, candidates: readonly Candidate[], request: ProvisionRequest, purpose: "staging" | "training", what: string): Promise<ProvisionedHost & { readonly instance: RentedInstance }> {
    const volume = request.volume;
    const attempts: { gpuType: string; region: string; error: string }[] = [];
    // A restarted Muscle finds the instance it created before it died, instead of renting a second.
    let found = (await this.instances()).find((i) => i.name === name && i.status !== "terminated");
    let chosen: Candidate | undefined = found ? candidates.find((c) => c.region === found!.region) ?? candidates[0] : undefined;
    const hours = (request.deadlineMs ?? 3_600_000) / 3_600_000;
    const spent = (await this.o.spentToday?.()) ?? 0;
    const spentOnJob = (await this.o.spentOnJob?.(request.jobId)) ?? 0;
    for (const candidate of found ? [] : candidates) {
      const label = { gpuType: candidate.machineType ?? candidate.gpuType, region: candidate.region };
      const worst = candidate.pricePerHour * hours;
      // A network volume lives in one region (a data centre): an instance elsewhere cannot mount it.
      if (volume && candidate.region !== volume.region) { attempts.push({ ...label, error: `the volume ${volume.name} is in ${volume.region}: an instance in ${candidate.region} cannot mount it` }); continue; }
      if (spentOnJob + worst > this.o.maxCostPerJob) {
        const already = spentOnJob > 0 ? `${spentOnJob.toFixed(2)} already spent on the job + ` : "";
        attempts.push({ ...label, error: `${already}up to ${worst.toFixed(2)} for the job exceeds the cap of ${this.o.maxCostPerJob} per job` });
        continue;
      }
      if (spent + worst > this.o.maxCostPerDay) { attempts.push({ ...label, error: `${spent.toFixed(2)} spent today + up to ${worst.toFixed(2)} exceeds the cap of ${this.o.maxCostPerDay} per day` }); continue; }
      const r = await this.api.call("POST", "/instances", {
        name, ...candidate.ask, region: candidate.region, image: this.o.image, sshPublicKey: readFileSync(`${this.o.keyPath}.pub`, "utf8").trim(), ...(volume ? { volumeId: volume.id } : {}),
      });
      if (r.status === 200 || r.status === 201) {
        found = r.json as ApiInstance;
        chosen = candidate;
        this.made.set(found.id, { createdAt: Date.now(), pricePerHour: candidate.pricePerHour });
        break;
      }
      attempts.push({ ...label, error: `${r.status}: ${String((r.json as { error?: unknown }).error ?? "")}` });
    }
    if (!found || !chosen) {
      const why = attempts.map((a) => `${a.gpuType} in ${a.region}: ${a.error}`).join("; ") || `no ${what} is configured`;
      throw tagged(`no ${what} could be rented from ${this.o.name}: ${why}`, attempts.length > 0 && attempts.every((a) => /cap of/.test(a.error)) ? "CostCapError" : "CapacityError");
    }
    const createdAt = Date.now();
    let remote: SshRemoteHost, fingerprint: string, up: ApiInstance;
    try {
      up = await this.untilSsh(found.id);
      // First contact: the key presented now is pinned for every later connection of this lease.
      fingerprint = await scanHostKey(up.ip!, up.port!);
      const cacheDir = volume ? path.posix.join(up.volumeMountPath ?? this.o.volume?.mountPath ?? "/workspace", "sophont", "cache") : undefined;
      remote = new SshRemoteHost({
        name, host: up.ip!, port: up.port!, user: this.o.user, keyPath: this.o.keyPath, hostKeyFingerprint: fingerprint, workDir: this.o.workDir ?? "sophont", gpu: { kind: "none" }, ...(cacheDir ? { cacheDir } : {}),
      }, this.o.ssh);
      await remote.connect();
    } catch (error) {
      // An instance that never became usable is not left billing.
      await this.terminate(found.id).catch(() => undefined);
      throw error;
    }
    return {
      leaseId: found.id, name, workDir: remote.workDirectory, gpu: { kind: purpose === "training" ? "cuda" : "none" }, remote, ...(volume ? { volume } : {}),
      instance: {
        provider: this.o.name, instanceId: found.id, gpuType: chosen.gpuType, region: chosen.region, pricePerHour: chosen.pricePerHour, hostKeyFingerprint: fingerprint, createdAt, attempts, purpose,
        ...(chosen.machineType ? { machineType: chosen.machineType } : {}), ...(volume ? { volume: { id: volume.id, name: volume.name } } : {}),
      },
    };
  }

  private async untilSsh(id: string): Promise<ApiInstance> {
    const end = Date.now() + (this.o.readyTimeoutMs ?? 600_000);
    for (;;) {
      const r = await this.api.call("GET", `/instances/${encodeURIComponent(id)}`);
      const i = r.json as ApiInstance;
      if (r.status === 200 && i.status === "running" && i.ip && i.port) {
        const answers = await scanHostKey(i.ip, i.port, 5_000).then(() => true, () => false);
        if (answers) return i;
      }
      if (r.status === 404 || i.status === "terminated") throw tagged(`${this.o.name} instance ${id} was terminated before SSH answered`, "ConnectionError");
      if (Date.now() > end) throw tagged(`${this.o.name} instance ${id} did not answer on SSH in time`, "ConnectionError");
      await sleep(this.o.pollMs ?? 2_000);
    }
  }

  /** Terminates (never stops: a stopped instance still bills its disk); retried, and an instance already gone counts as terminated. */
  terminate(instanceId: string): Promise<{ failedTries: number }> {
    return this.api.retried("DELETE", `/instances/${encodeURIComponent(instanceId)}`, `terminating ${instanceId}`, "terminate it by hand");
  }

  async release(host: ProvisionedHost): Promise<{ failedTries: number }> {
    await host.remote.close().catch(() => undefined);
    return this.terminate(host.leaseId);
  }

  releaseById(leaseId: string): Promise<{ failedTries: number }> {
    return this.terminate(leaseId);
  }

  /** Instances this provider made whose job is not live (GPUs and stagers alike); the Muscle terminates them on start. */
  async strays(live: ReadonlySet<string>): Promise<{ leaseId: string; jobId: string; purpose: "staging" | "training" }[]> {
    return (await this.instances())
      .filter((i) => i.status !== "terminated" && !live.has(jobOf(i.name).jobId))
      .map((i) => ({ leaseId: i.id, ...jobOf(i.name) }));
  }

  async leasesOf(jobId: string): Promise<{ leaseId: string; purpose: "staging" | "training"; pricePerHour: number | null; createdAt: number | null }[]> {
    return (await this.instances())
      .filter((i) => i.status !== "terminated" && jobOf(i.name).jobId === jobId)
      .map((i) => ({ leaseId: i.id, purpose: jobOf(i.name).purpose, pricePerHour: this.made.get(i.id)?.pricePerHour ?? null, createdAt: this.made.get(i.id)?.createdAt ?? null }));
  }

  /** The volume cloud.json names, found by name or created in its region (default: the first offer's); undefined without one. */
  async volume(): Promise<VolumeInfo | undefined> {
    const v = this.o.volume;
    if (!v) return undefined;
    const region = v.region ?? this.o.offers[0]?.region ?? "";
    const info = (id: string, r: string, created: boolean): VolumeInfo => ({ provider: this.o.name, id, name: v.name, region: r, sizeGiB: v.sizeGiB, pricePerGiBMonth: v.pricePerGiBMonth, policy: v.policy, created });
    const existing = (await this.api.volumes()).find((x) => x.name === v.name);
    if (existing) return info(existing.id, existing.region, false);
    const r = await this.api.call("POST", "/volumes", { name: v.name, region, sizeGiB: v.sizeGiB });
    if (r.status !== 200 && r.status !== 201) throw tagged(`${this.o.name}: creating the volume ${v.name} (${v.sizeGiB} GiB in ${region}) answered ${r.status}: ${String((r.json as { error?: unknown }).error ?? "")}`, "CapacityError");
    return info((r.json as { id: string }).id, region, true);
  }

  /** Deletes the volume, retried while an instance still holds it; one already gone counts as deleted. */
  deleteVolume(volumeId: string): Promise<{ failedTries: number }> {
    return this.api.retried("DELETE", `/volumes/${encodeURIComponent(volumeId)}`, `deleting the volume ${volumeId}`, "delete it by hand (it bills while it exists)");
  }
}
