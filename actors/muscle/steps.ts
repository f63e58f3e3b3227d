// The effects of each lifecycle step, for one job at a time. Every step may run again (after a
// dropped link or a restart) and must then do nothing twice: uploads are skipped once the trainer
// was launched, the launch itself is idempotent on the host, and event ids derive from the job.
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { DomainEvent } from "../../events/catalogue.ts";
import { buildDatasets, trainerRecipe, type Datasets, type TrainingMaterials } from "./datasets.ts";
import type { Ended, Failure } from "./muscle.machine.ts";
import { adapterTrainedOf, lastLines, parseLines, progressToRecord, type JobState, type TrainerLine, type TrainingRequest } from "./muscle.decider.ts";
import type { HostProvider, ProvisionedHost, TransferReceipt } from "./ports.ts";
import type { Airlock } from "../ports.ts";
import { gib, type MemoryPlan } from "./plan.ts";
import { instanceCreated, VolumeSteps } from "./volume.ts";

/** The serving adapter's name in the job directory. */
const SERVING_FILE = "serving.gguf";

export interface StepOptions {
  /** Providers by kind: `local` for requests without a host, `ssh` for named hosts. */
  /** Providers by kind: `local` for requests without a host, `ssh` for named hosts, `cloud` for a host named `cloud` (rented per job). */
  readonly providers: { readonly local?: HostProvider; readonly ssh?: HostProvider; readonly cloud?: HostProvider };
  /** When no GPU can be rented, run on this machine where its plan allows (default false: the job fails and waits for the next request). */
  readonly fallbackLocal?: boolean;
  readonly materials: TrainingMaterials;
  /**
   * The privacy airlock for hosts off this machine (a named SSH host): texts are admitted before they
   * are tokenized, and the upload is recorded as EgressRecorded. The local provider (the Soul itself)
   * gets every text as it is.
   */
  readonly airlock?: Airlock;
  /** Scratch directory on this machine for datasets and downloaded artifacts. */
  readonly scratchDir: string;
  /** The Python that runs the trainer on the host (default /usr/bin/python3). */
  readonly python?: string;
  /** How often the log is polled while following (default 500 ms). */
  readonly pollMs?: number;
  /** At most one progress event per this interval (default 2 s). */
  readonly progressEveryMs?: number;
  /** Remove the job directory on the host once the artifacts are home (default true). */
  readonly cleanRemote?: boolean;
  /**
   * The memory plan of a job where it would run (undefined: nothing is known of that device). A
   * plan that does not fit ends the job before any host is provisioned or any money spent.
   */
  readonly planner?: (request: TrainingRequest) => Promise<MemoryPlan | undefined>;
  /** Whether the log says a provider's volume holds a file (BaseStaged since the volume was made); the worker binds it. */
  readonly volumeHolds?: (volumeId: string, sha256: string) => Promise<boolean>;
  /** Told of launches and re-attaches (tests, logs). */
  readonly onLaunch?: (info: { jobId: string; outcome: "started" | "attached"; pid: number }) => void;
}

/** Appends one event of the job with an id derived from (job, key): repeating a step repeats nothing. */
export type Record_ = (key: string, event: DomainEvent) => Promise<void>;

/** DatasetUploaded's record of the general-English replay: the set's sha256, its rows, the ratio (nothing when none is replayed). */
const replayed = (data: Datasets): { generalReplay?: NonNullable<Datasets["generalReplay"]> } => (data.generalReplay ? { generalReplay: data.generalReplay } : {});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const hashed = new Map<string, Promise<TransferReceipt>>();

/** sha256 and size of a local file, hashed once per (path, size, mtime) in this process: a 60 GB base is read once. */
export const receiptOf = async (file: string, digest: (file: string) => Promise<TransferReceipt>): Promise<TransferReceipt> => {
  const s = await stat(file);
  const key = `${file}\0${s.size}\0${s.mtimeMs}`;
  if (!hashed.has(key)) hashed.set(key, digest(file));
  return hashed.get(key)!;
};

/** The running state of one job on this Muscle: the lease, the log position, the tail of the log. */
export class JobSteps {
  private lease: ProvisionedHost | undefined;
  private chosen: HostProvider | undefined;
  /** The cloud provider's persistent volume, once known (found by name, or made). */
  private volume: VolumeSteps | undefined;
  private failure: Failure | undefined;
  private offset: number;
  private tail: string[] = [];
  private lastProgress: JobState["progress"];
  private readonly local: string;
  private aborted = false;
  /** Cancelled, past its deadline or being released: nothing more is rented for the job. */
  private closing = false;

  constructor(private readonly request: TrainingRequest, private state: JobState, private readonly options: StepOptions, private readonly record: Record_, private readonly clock: () => number) {
    this.offset = state.progress?.logOffset ?? 0;
    this.lastProgress = state.progress;
    this.local = path.join(options.scratchDir, "jobs", request.jobId);
  }

  private get remote() {
    if (!this.lease) throw new Error("no host provisioned");
    return this.lease.remote;
  }

  private get jobId() {
    return this.request.jobId;
  }

  /** This Muscle stops: the trainer keeps running on its host for the next Muscle to re-attach. */
  abort(): void {
    this.aborted = true;
    void this.lease?.remote.close().catch(() => undefined);
  }

  /** Records the job's memory plan; a plan that does not fit is a fatal failure, before anything is rented. */
  async plan(): Promise<void> {
    const plan = await this.options.planner?.(this.request);
    if (!plan) return;
    const { device, settings } = plan;
    await this.record("planned", {
      type: "TrainingPlanned",
      data: {
        jobId: this.jobId, device: { kind: device.kind, name: device.name, memoryBytes: device.memoryBytes, flops: device.flops },
        settings: { ...settings, targets: [...settings.targets] }, baseBytes: plan.model.baseBytes, loraParameters: plan.lora.parameters,
        items: plan.items.map((i) => ({ ...i })), totalBytes: plan.totalBytes, headroomBytes: plan.headroomBytes, estimatedSeconds: plan.estimatedSeconds,
        fits: plan.fits, reasons: [...plan.reasons],
      },
    });
    if (!plan.fits) throw Object.assign(new Error(`the memory plan refuses the job (${gib(plan.totalBytes)} on ${device.name} with ${gib(device.memoryBytes)}): ${plan.reasons.join("; ")}`), { _tag: "PlanRefusedError" });
  }

  /** The provider of this job: the one that provisioned it before (a restart), else by the request's host. */
  private providerOf(): HostProvider | undefined {
    const p = this.options.providers;
    if (this.chosen) return this.chosen;
    const kind = this.state.provisioned?.provider;
    if (kind) return [p.local, p.ssh, p.cloud].find((x) => x?.kind === kind);
    const host = this.request.host;
    return host === null ? p.local : host === "cloud" ? p.cloud : p.ssh;
  }

  async provision(): Promise<void> {
    if (!this.state.provisioned) await this.plan();
    const provider = this.providerOf();
    if (!provider) throw Object.assign(new Error(`no ${this.request.host === null ? "local" : this.request.host === "cloud" ? "cloud" : "ssh"} provider is configured`), { _tag: "HostsFileError" });
    const ask = { jobId: this.jobId, deadlineMs: this.request.deadlineMs, ...(this.request.host && this.request.host !== "cloud" ? { hostName: this.request.host } : {}) };
    try {
      const volume = await this.volumeOf(provider);
      this.lease ??= volume ? await volume.provision(ask) : await provider.provision(ask);
      this.chosen = provider;
      // On a volume, the instances (stager and GPU) were recorded as they came.
      if (!volume && this.lease.instance) {
        const data = instanceCreated(this.jobId, this.lease.instance);
        await this.record("instance-created", { type: "InstanceCreated", data });
        this.state = { ...this.state, instance: { ...data, attempts: [], at: this.lease.instance.createdAt } };
        // Cancelled or past its deadline while the instance was being created: its release may have run already.
        if (this.closing) return void (await this.release(false));
      }
    } catch (error) {
      const tag = (error as { _tag?: string })._tag;
      if (provider !== this.options.providers.cloud || (tag !== "CapacityError" && tag !== "CostCapError")) throw error;
      await this.fallBack(error as Error);
    }
    const { name, leaseId, workDir } = this.lease!;
    await this.record("provisioned", { type: "HostProvisioned", data: { jobId: this.jobId, host: name, provider: this.chosen!.kind, leaseId, workDir, gpus: [...(await this.remote.gpus())] } });
  }

  /** The cloud provider's volume steps, where it has a volume (found by name or made, the same on every try). */
  private async volumeOf(provider: HostProvider): Promise<VolumeSteps | undefined> {
    if (this.volume || provider !== this.options.providers.cloud || !provider.volume) return this.volume;
    const info = await provider.volume();
    if (!info) return undefined;
    const m = this.options.materials;
    this.volume = new VolumeSteps({
      jobId: this.jobId, deadlineMs: this.request.deadlineMs, provider, materials: m, record: this.record, clock: this.clock,
      closing: () => this.closing, stopped: () => this.aborted, state: () => this.state, update: (patch) => void (this.state = { ...this.state, ...patch }), receipt: (file) => receiptOf(file, m.digest),
      ...(this.options.volumeHolds ? { holds: this.options.volumeHolds } : {}),
    }, info);
    return this.volume;
  }

  /** No GPU to be had: this machine takes the job where the policy and its plan allow, else the job fails (to be asked again). */
  private async fallBack(error: Error): Promise<void> {
    const local = this.options.providers.local;
    const passedOver = [{ provider: this.options.providers.cloud!.kind, reason: error.message }];
    const refuse = (why: string) => Object.assign(new Error(`${error.message}; ${why}`), { _tag: (error as { _tag?: string })._tag });
    if (!this.options.fallbackLocal || !local) throw refuse("running on this machine instead is not allowed (fallbackLocal off): the job waits for the next request");
    const plan = await this.options.planner?.({ ...this.request, host: null });
    if (plan && !plan.fits) throw refuse(`this machine's plan refuses it too: ${plan.reasons.join("; ")}`);
    this.lease = await local.provision({ jobId: this.jobId });
    this.chosen = local;
    const device = plan ? `${plan.device.kind} ${plan.device.name}` : "this machine";
    await this.record("provider-chosen", { type: "ProviderChosen", data: { jobId: this.jobId, provider: local.kind, device, reason: `no GPU could be rented; ${device} fits the plan`, passedOver } });
  }

  async upload(): Promise<void> {
    // Files are never replaced under a trainer that was already launched (a re-attach after a drop).
    if (this.state.started || (await this.remote.jobStatus(this.jobId)).state !== "unknown") return;
    const m = this.options.materials;
    const airlock = this.request.host !== null ? this.options.airlock : undefined;
    const data = await buildDatasets(this.request, m, airlock && ((text, inputId) => airlock.admit("gpu-host", text, inputId)));
    const merge = await Promise.all(this.request.mergeWith.map(async (sha, i) => ({ name: `merge-${i}.gguf`, bytes: await m.artifact(sha) })));
    // The serving adapter travels like the merge inputs: the new micro-adapter trains on top of it.
    const serving = this.request.servingSha256 ? [{ name: SERVING_FILE, bytes: await m.artifact(this.request.servingSha256) }] : [];
    const adapters = [...merge, ...serving];
    await mkdir(this.local, { recursive: true });
    for (const f of adapters) await writeFile(path.join(this.local, f.name), f.bytes);
    const dir = this.remote.jobDir(this.jobId);
    const cache = this.remote.cache;
    if (!cache) {
      const files: Array<{ name: string; bytes: string | Uint8Array }> = [
        ...Object.entries(data.files).map(([name, bytes]) => ({ name, bytes })),
        { name: "recipe.json", bytes: JSON.stringify(trainerRecipe(this.request, data.rows, merge.map((f) => f.name), serving[0]?.name, data.generalReplay), null, 2) },
      ];
      for (const f of files) await writeFile(path.join(this.local, f.name), f.bytes);
      const payload = await this.remote.uploadDir(path.join(m.trainerDir, "sophont_trainer"), `${dir}/payload/sophont_trainer`);
      const receipts = [{ name: "base.gguf", ...(await this.remote.upload(m.baseModelPath, `${dir}/base.gguf`)) }];
      for (const f of [...adapters, ...files]) receipts.push({ name: f.name, ...(await this.remote.upload(path.join(this.local, f.name), `${dir}/${f.name}`)) });
      await this.recordEgress(airlock, data);
      await this.record("uploaded", { type: "DatasetUploaded", data: { jobId: this.jobId, files: receipts, rows: data.rows, payloadFiles: payload.length, ...replayed(data) } });
      return;
    }
    // The base, the payload and the serving adapters go to the host's cache (sent once, shared by
    // jobs); only the datasets and the recipe are the job's own.
    const began = Date.now();
    const payload = await cache.tree(path.join(m.trainerDir, "sophont_trainer"));
    const base = await this.cachedBase(cache);
    const merged = [];
    for (const f of adapters) merged.push({ name: f.name, ...(await cache.file(path.join(this.local, f.name), await receiptOf(path.join(this.local, f.name), m.digest))) });
    const recipe = trainerRecipe(this.request, data.rows, merged.filter((f) => f.name !== SERVING_FILE).map((f) => f.path), merged.find((f) => f.name === SERVING_FILE)?.path, data.generalReplay);
    const files: Array<{ name: string; bytes: string }> = [
      ...Object.entries(data.files).map(([name, bytes]) => ({ name, bytes })),
      { name: "recipe.json", bytes: JSON.stringify({ ...recipe, base_model: base.path }, null, 2) },
    ];
    const receipts = [{ name: "base.gguf", sha256: base.sha256, bytes: base.bytes }, ...merged.map((f) => ({ name: f.name, sha256: f.sha256, bytes: f.bytes }))];
    let sentBytes = payload.sentBytes + base.sentBytes + merged.reduce((n, f) => n + f.sentBytes, 0);
    let totalBytes = payload.bytes + base.bytes + merged.reduce((n, f) => n + f.bytes, 0);
    for (const f of files) {
      await writeFile(path.join(this.local, f.name), f.bytes);
      const receipt = await this.remote.upload(path.join(this.local, f.name), `${dir}/${f.name}`);
      receipts.push({ name: f.name, ...receipt });
      sentBytes += receipt.bytes;
      totalBytes += receipt.bytes;
    }
    const cached = [{ ...payload, name: "sophont_trainer" }, base, ...merged].map((c) => ({
      name: c.name, sha256: c.sha256, bytes: c.bytes, path: c.path, sentBytes: c.sentBytes, source: c.source, seconds: c.seconds, ...(c.note ? { note: c.note } : {}),
    }));
    const payloadDir = path.posix.dirname(payload.path);
    this.state = { ...this.state, payloadDir };
    await this.recordEgress(airlock, data);
    await this.record("uploaded", {
      type: "DatasetUploaded",
      data: { jobId: this.jobId, files: receipts, rows: data.rows, payloadFiles: payload.files, transfer: { sentBytes, totalBytes, seconds: (Date.now() - began) / 1000, cached, payloadDir }, ...replayed(data) },
    });
  }

  /** What left for the GPU host, through the airlock: one EgressRecorded per job's datasets. */
  private async recordEgress(airlock: Airlock | undefined, data: Awaited<ReturnType<typeof buildDatasets>>): Promise<void> {
    if (!airlock) return;
    const sent = Object.values(data.files).join("");
    await airlock.record(`job:${this.jobId}:datasets`, { destination: "gpu-host", target: this.lease!.name, purpose: `training datasets of job ${this.jobId} (sft.jsonl, anchor.jsonl, general.jsonl, dpo.jsonl as token ids)`, sent, ...data.airlock });
  }

  /** The base model from the host's own copy (the hosts file's `bases`) when it verifies, else from the cache. */
  private async cachedBase(cache: NonNullable<ProvisionedHost["remote"]["cache"]>) {
    const m = this.options.materials;
    const local = await receiptOf(m.baseModelPath, m.digest);
    let note: string | undefined;
    for (const declared of this.lease?.bases ?? []) {
      if (declared.sha256 !== local.sha256) continue;
      const adopted = await cache.adopt(declared.path, declared.sha256);
      if ("refused" in adopted) note = `the hosts file's base was not used: ${adopted.refused}`;
      else return { ...adopted, name: "base.gguf" };
    }
    return { ...(await cache.file(m.baseModelPath, local)), name: "base.gguf", ...(note ? { note } : {}) };
  }

  async start(): Promise<void> {
    const python = this.options.python ?? "/usr/bin/python3";
    const dir = this.remote.jobDir(this.jobId);
    const payloadDir = this.state.payloadDir ?? `${dir}/payload`;
    const started = await this.remote.startDetached(this.jobId, `exec '${python.replace(/'/g, "")}' -u -m sophont_trainer train .`, { env: { PYTHONPATH: payloadDir } });
    this.options.onLaunch?.({ jobId: this.jobId, ...started });
    this.state = { ...this.state, started: true };
    await this.record("started", { type: "TrainingStarted", data: { jobId: this.jobId, pid: started.pid } });
  }

  /** Follows the log from the last offset until the trainer ends; progress becomes throttled events. */
  async follow(heartbeat: (progressed: boolean) => void): Promise<Ended> {
    for (;;) {
      if (this.aborted) throw new Error("the Muscle stopped");
      const status = await this.remote.jobStatus(this.jobId);
      const ended = status.state !== "running";
      const chunk = await this.remote.readLog(this.jobId, this.offset, { includePartialLine: ended });
      await this.consume(chunk.text + (ended && chunk.text && !chunk.text.endsWith("\n") ? "\n" : ""), chunk.nextOffset);
      heartbeat(chunk.text !== "");
      if (status.state !== "running" && chunk.text === "") return status;
      if (!ended) await sleep(this.options.pollMs ?? 500);
    }
  }

  private async consume(text: string, nextOffset: number): Promise<void> {
    const lines = parseLines(text);
    this.tail = [...this.tail, ...lines.map((l) => l.line)].slice(-40);
    const { events, last } = progressToRecord(this.jobId, lines, this.offset, this.lastProgress, this.clock(), { minIntervalMs: this.options.progressEveryMs ?? 2_000 });
    for (const e of events) await this.record(`progress:${e.phase}:${e.step}`, { type: "TrainingProgressed", data: e });
    this.lastProgress = last;
    this.offset = nextOffset;
  }

  async download(): Promise<void> {
    const out = `${this.remote.jobDir(this.jobId)}/out`;
    await mkdir(this.local, { recursive: true });
    await this.remote.download(`${out}/result.json`, path.join(this.local, "result.json"));
    const result = JSON.parse(await readFile(path.join(this.local, "result.json"), "utf8")) as TrainerLine;
    const artifacts = (result.artifacts ?? []) as Array<{ kind: string; sha256: string }>;
    const fetch = async (kind: string, name: string) => {
      const receipt = await this.remote.download(`${out}/${name}`, path.join(this.local, name));
      const claimed = artifacts.find((a) => a.kind === kind)?.sha256;
      if (receipt.sha256 !== claimed) throw Object.assign(new Error(`${name}: sha256 ${receipt.sha256} differs from the trainer's ${claimed}`), { _tag: "TransferVerificationError" });
      return { receipt, stored: await this.options.materials.keep(await readFile(path.join(this.local, name))) };
    };
    const micro = await fetch("micro", "micro-adapter.gguf");
    const merged = await fetch("merged", "adapter.gguf");
    // Every candidate comes home verified; the Soul's evaluation chooses among them.
    for (const c of artifacts.filter((a) => a.kind === "candidate")) {
      const name = path.basename((c as { path?: string }).path ?? "");
      if (name === "adapter.gguf" || !/^[\w.-]+\.gguf$/.test(name)) continue;
      const receipt = await this.remote.download(`${out}/${name}`, path.join(this.local, name));
      if (receipt.sha256 !== c.sha256) throw Object.assign(new Error(`${name}: sha256 ${receipt.sha256} differs from the trainer's ${c.sha256}`), { _tag: "TransferVerificationError" });
      await this.options.materials.keep(await readFile(path.join(this.local, name)));
    }
    await this.record("trained", { type: "AdapterTrained", data: adapterTrainedOf(this.jobId, result, micro.stored, merged.receipt.bytes) });
  }

  async clean(): Promise<void> {
    if (this.options.cleanRemote !== false) await this.remote.cleanup(this.remote.jobDir(this.jobId));
    await rm(this.local, { recursive: true, force: true });
  }

  async cancel(): Promise<void> {
    // After a restart there is no lease yet; a host the job never reached has nothing to kill.
    if (!this.lease && this.state.provisioned) await this.provision().catch(() => undefined);
    // A provisioning still in flight (staging the base can take minutes) must rent nothing more.
    this.closing = true;
    if (this.lease) await this.remote.cancel(this.jobId);
  }

  async fail(failure: Failure): Promise<void> {
    this.failure = failure;
    // The log may hold lines not yet read (a trainer's last words before it failed).
    if (this.lease) await this.remote.readLog(this.jobId, this.offset, { includePartialLine: true }).then((c) => this.consume(c.text + "\n", c.nextOffset)).catch(() => undefined);
    await this.record("failed", { type: "TrainingFailed", data: { jobId: this.jobId, ...failure, lastLines: lastLines(this.tail.join("\n")) } });
  }

  /** GPU instances the cloud lists for the job besides the one released (one whose creation a cancel overtook): terminated and reported. */
  private async sweep(released: string | undefined, reason: string): Promise<void> {
    const cloud = this.options.providers.cloud;
    if (this.request.host !== "cloud" || !cloud?.leasesOf || !cloud.releaseById) return;
    for (const l of await cloud.leasesOf(this.jobId)) {
      if (l.purpose !== "training" || l.leaseId === released) continue;
      const { failedTries } = await cloud.releaseById(l.leaseId);
      const seconds = l.createdAt === null ? 0 : Math.max(0, (this.clock() - l.createdAt) / 1000);
      await this.record(`instance-terminated:${l.leaseId}`, {
        type: "InstanceTerminated",
        data: { jobId: this.jobId, provider: cloud.kind, instanceId: l.leaseId, seconds, cost: (seconds / 3600) * (l.pricePerHour ?? 0), reason: `${reason}; its creation was never recorded`, failedTries, purpose: "training" },
      });
    }
  }

  async release(cleaned: boolean): Promise<void> {
    this.closing = true;
    const reason = this.failure?.kind ?? this.state.failed?.kind ?? (cleaned ? "done" : "failed");
    const provider = this.providerOf();
    const lease = this.lease ?? (this.state.provisioned || this.state.instance ? undefined : null);
    if (lease !== null) {
      const leaseId = lease?.leaseId ?? this.state.provisioned?.leaseId ?? this.state.instance!.instanceId;
      const released = lease ? await provider?.release(lease) : await provider?.releaseById?.(leaseId);
      const instance = this.state.instance;
      if (instance) {
        const seconds = Math.max(0, (this.clock() - instance.at) / 1000);
        await this.record("instance-terminated", {
          type: "InstanceTerminated",
          data: {
            jobId: this.jobId, provider: instance.provider, instanceId: instance.instanceId, seconds, cost: (seconds / 3600) * instance.pricePerHour, reason, failedTries: released?.failedTries ?? 0,
            ...(instance.purpose ? { purpose: instance.purpose } : {}), ...(instance.volume ? { volume: { ...instance.volume } } : {}),
          },
        });
      }
    }
    await this.sweep(lease?.leaseId ?? this.state.instance?.instanceId, reason);
    // The volume is settled once the GPU is gone (a volume still attached cannot be deleted).
    const cloud = this.options.providers.cloud;
    if (cloud && (this.state.staging || this.state.staged || this.state.instance?.volume) && !this.volume) await this.volumeOf(cloud);
    await this.volume?.settle(reason);
    if (lease === null) return; // no GPU was provisioned: nothing else to release
    const leaseId = lease?.leaseId ?? this.state.provisioned?.leaseId ?? this.state.instance!.instanceId;
    const host = lease?.name ?? this.state.provisioned?.host ?? this.state.instance!.provider;
    await this.record("released", { type: "HostReleased", data: { jobId: this.jobId, host, leaseId, cleaned } });
  }
}
