// The base goes to the provider's persistent volume before any GPU is rented: a machine without a
// GPU stages it (resumable, verified by sha256 on the volume), is terminated, and only then is the
// GPU rented with the volume mounted. The log says what each volume holds (BaseStaged); the GPU
// checks it on arrival, and a volume found lacking the base is staged again with the GPU given
// back first, so a GPU never waits on the base's upload. After the job the volume's policy applies.
import path from "node:path";
import type { DomainEvent, EventData } from "../../events/catalogue.ts";
import type { Recorded } from "../../events/envelope.ts";
import type { TrainingMaterials } from "./datasets.ts";
import type { JobState } from "./muscle.decider.ts";
import { gib } from "./plan.ts";
import type { HostProvider, ProvisionedHost, ProvisionRequest, RentedInstance, TransferReceipt, VolumeInfo } from "./ports.ts";

type Record_ = (key: string, event: DomainEvent) => Promise<void>;

/** What a volume costs a month while it exists: size x price per GiB-month. */
export const storageCostPerMonth = (v: { readonly sizeGiB: number; readonly pricePerGiBMonth: number }): number => v.sizeGiB * v.pricePerGiBMonth;

/** Whether the log says the volume holds the file: staged there by a job, the volume not deleted since (ids are never reused). */
export const volumeHolds = (events: Iterable<Recorded<DomainEvent>>, volumeId: string, sha256: string): boolean => {
  let holds = false;
  for (const e of events) {
    if (e.type === "BaseStaged" && e.data.volume.id === volumeId && e.data.files.some((f) => f.sha256 === sha256)) holds = true;
    if (e.type === "VolumeDeleted" && e.data.volumeId === volumeId) holds = false;
  }
  return holds;
};

/** InstanceCreated's data for a rented instance. */
export const instanceCreated = (jobId: string, i: RentedInstance): EventData<"InstanceCreated"> => ({
  jobId, provider: i.provider, instanceId: i.instanceId, gpuType: i.gpuType, region: i.region, pricePerHour: i.pricePerHour, hostKeyFingerprint: i.hostKeyFingerprint,
  attempts: i.attempts.map((a) => ({ ...a })), purpose: i.purpose, ...(i.machineType ? { machineType: i.machineType } : {}), ...(i.volume ? { volume: { ...i.volume } } : {}),
});

export interface VolumeContext {
  readonly jobId: string;
  readonly deadlineMs: number;
  readonly provider: HostProvider;
  readonly materials: TrainingMaterials;
  readonly record: Record_;
  readonly clock: () => number;
  /** The job is being cancelled or released: nothing more may be rented for it, and what was being rented goes back. */
  readonly closing: () => boolean;
  /** This Muscle stopped: it rents nothing more; what it rented stays for the next Muscle, which finds it by name. */
  readonly stopped: () => boolean;
  readonly state: () => JobState;
  readonly update: (patch: Partial<JobState>) => void;
  /** sha256 and size of a local file, hashed once per process. */
  readonly receipt: (file: string) => Promise<TransferReceipt>;
  /** Whether the log says the volume holds this file (default: never, so every job stages). */
  readonly holds?: (volumeId: string, sha256: string) => Promise<boolean>;
}

/** The volume side of a job on a provider with a persistent volume. */
export class VolumeSteps {
  constructor(private readonly c: VolumeContext, readonly volume: VolumeInfo) {}

  private get payloadDir() {
    return path.join(this.c.materials.trainerDir, "sophont_trainer");
  }

  /**
   * Rents the GPU with the volume mounted, once the base is on it: staged first unless the log says
   * it is there, and staged again (the GPU given back first) when the GPU finds it is not.
   */
  async provision(ask: ProvisionRequest): Promise<ProvisionedHost> {
    const c = this.c;
    const base = await c.receipt(c.materials.baseModelPath);
    if (base.bytes > this.volume.sizeGiB * 2 ** 30) {
      throw Object.assign(new Error(`the volume ${this.volume.name} (${this.volume.sizeGiB} GiB) cannot hold the base (${gib(base.bytes)}): raise volume.sizeGiB in cloud.json`), { _tag: "PlanRefusedError" });
    }
    const resuming = c.state().provisioned !== null;
    if (!resuming && !c.state().staged && !(await c.holds?.(this.volume.id, base.sha256))) await this.stage();
    let lease = await this.rent(() => c.provider.provision({ ...ask, volume: this.volume }), "instance-created");
    if (c.state().staged || resuming) return lease;
    const began = Date.now();
    if (await lease.remote.cache!.has(base)) {
      await this.staged(null, [{ name: "base.gguf", ...base, sentBytes: 0, source: "cached", seconds: (Date.now() - began) / 1000 }], began);
      return lease;
    }
    // The log said the volume held the base and it does not: the GPU goes back before anything is uploaded.
    await this.terminated(lease, "the volume lacked the base the log said it held: staged again before a GPU is rented again", "instance-terminated-unstaged");
    await this.stage();
    lease = await this.rent(() => c.provider.provision({ ...ask, volume: this.volume }), "instance-created-restaged");
    return lease;
  }

  /** A machine without a GPU puts the base and the trainer payload on the volume, then goes. */
  private async stage(): Promise<void> {
    const c = this.c;
    const lease = await this.rent(() => c.provider.provisionStaging!({ jobId: c.jobId, deadlineMs: c.deadlineMs, volume: this.volume }), "staging-created");
    try {
      const cache = lease.remote.cache!;
      const began = Date.now();
      const payload = await cache.tree(this.payloadDir);
      const base = await cache.file(c.materials.baseModelPath, await c.receipt(c.materials.baseModelPath));
      const files = [{ ...base, name: "base.gguf" }, { ...payload, name: "sophont_trainer" }].map((f) => ({ name: f.name, sha256: f.sha256, bytes: f.bytes, sentBytes: f.sentBytes, source: f.source === "host" ? "cached" as const : f.source, seconds: f.seconds }));
      await this.staged(lease.leaseId, files, began);
    } catch (error) {
      // The stager stays up for the retry, which resumes the partial upload on the volume.
      await lease.remote.close().catch(() => undefined);
      throw error;
    }
    await this.terminated(lease, "staged", "staging-terminated");
  }

  /**
   * Rents (or finds again) an instance and records it; a job that began closing meanwhile (cancel,
   * deadline: its release may already have run) gives it back at once instead of leaving it billing.
   */
  private async rent(create: () => Promise<ProvisionedHost>, key: string): Promise<ProvisionedHost> {
    if (this.c.closing() || this.c.stopped()) throw new Error(`job ${this.c.jobId} is ${this.c.closing() ? "closing" : "in no Muscle's hands"}: nothing more is rented for it`);
    const lease = await create();
    await this.created(lease, key);
    if (this.c.closing()) {
      await this.terminated(lease, "the job closed while the instance was being rented", `${key}:closed`);
      throw new Error(`job ${this.c.jobId} closed while ${lease.name} was being rented: terminated`);
    }
    if (this.c.stopped()) throw new Error(`this Muscle stopped while ${lease.name} was being rented: left for the next one`);
    return lease;
  }

  private async staged(stagingInstanceId: string | null, files: EventData<"BaseStaged">["files"], began: number): Promise<void> {
    const v = this.volume;
    const data: EventData<"BaseStaged"> = {
      jobId: this.c.jobId, provider: v.provider, stagingInstanceId, files,
      volume: { id: v.id, name: v.name, region: v.region, sizeGiB: v.sizeGiB, pricePerGiBMonth: v.pricePerGiBMonth, storageCostPerMonth: storageCostPerMonth(v), policy: v.policy, created: v.created },
      sentBytes: files.reduce((n, f) => n + f.sentBytes, 0), seconds: (Date.now() - began) / 1000,
    };
    await this.c.record("base-staged", { type: "BaseStaged", data });
    this.c.update({ staged: data });
  }

  private async created(lease: ProvisionedHost, key: string): Promise<void> {
    const i = lease.instance!;
    await this.c.record(key, { type: "InstanceCreated", data: instanceCreated(this.c.jobId, i) });
    const at = { ...instanceCreated(this.c.jobId, i), at: i.createdAt };
    this.c.update(i.purpose === "staging" ? { staging: at } : { instance: at });
  }

  private async terminated(lease: ProvisionedHost, reason: string, key: string): Promise<void> {
    const i = lease.instance!;
    const released = await this.c.provider.release(lease);
    const seconds = Math.max(0, (this.c.clock() - i.createdAt) / 1000);
    await this.c.record(key, {
      type: "InstanceTerminated",
      data: { jobId: this.c.jobId, provider: i.provider, instanceId: i.instanceId, seconds, cost: (seconds / 3600) * i.pricePerHour, reason, failedTries: released?.failedTries ?? 0, purpose: i.purpose, volume: { id: this.volume.id, name: this.volume.name } },
    });
    if (i.purpose === "staging") this.c.update({ staging: null });
  }

  /**
   * After the job: every stager still up is terminated (the log's, and any the provider lists for the
   * job, such as one whose creation a cancel overtook), then the policy applies to the volume.
   */
  async settle(reason: string): Promise<void> {
    const c = this.c;
    const known = c.state().staging;
    const listed = (await c.provider.leasesOf?.(c.jobId)) ?? [];
    const stagers = new Map(listed.filter((l) => l.purpose === "staging").map((l) => [l.leaseId, l]));
    if (known && !stagers.has(known.instanceId)) stagers.set(known.instanceId, { leaseId: known.instanceId, purpose: "staging", pricePerHour: known.pricePerHour, createdAt: known.at });
    for (const [id, l] of stagers) {
      const { failedTries } = await c.provider.releaseById!(id);
      const at = known?.instanceId === id ? known.at : l.createdAt;
      const seconds = at === null ? 0 : Math.max(0, (c.clock() - at) / 1000);
      const price = known?.instanceId === id ? known.pricePerHour : l.pricePerHour ?? 0;
      await c.record(`staging-terminated:${id}`, {
        type: "InstanceTerminated",
        data: { jobId: c.jobId, provider: this.volume.provider, instanceId: id, seconds, cost: (seconds / 3600) * price, reason, failedTries, purpose: "staging", volume: { id: this.volume.id, name: this.volume.name } },
      });
    }
    c.update({ staging: null });
    if (c.state().volumeSettled) return;
    const v = this.volume;
    if (v.policy === "delete") {
      const { failedTries } = await c.provider.deleteVolume!(v.id);
      await c.record("volume-deleted", { type: "VolumeDeleted", data: { jobId: c.jobId, provider: v.provider, volumeId: v.id, name: v.name, failedTries } });
    } else {
      await c.record("volume-kept", { type: "VolumeKept", data: { jobId: c.jobId, provider: v.provider, volumeId: v.id, name: v.name, sizeGiB: v.sizeGiB, storageCostPerMonth: storageCostPerMonth(v) } });
    }
    c.update({ volumeSettled: true });
  }
}
