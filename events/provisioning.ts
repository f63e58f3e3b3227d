import { Schema } from "effect";
import { defineEvent } from "./define.ts";

// Events of the Muscle's hosts and machines: the memory plan before anything is spent, the provider
// chosen (with why), rented instances created and terminated with their cost, the base staged on a
// provider's persistent volume and what became of the volume after the job. A job's events share
// its subject (`sophont.evt.training.<jobId>`); an instance found up with no live job is reported on
// the subject of the job that created it. The volume fields of InstanceCreated and
// InstanceTerminated are optional: events written before them decode as they are (no new version).
const job = { jobId: Schema.String };
const byJob = (d: { jobId: string }) => d.jobId;

const PlanItem = Schema.Struct({ what: Schema.String, bytes: Schema.Finite });

/** Why an instance was rented: `staging` (no GPU: it puts the base on the volume), or `training` (the job's GPU; absent in older events). */
const Purpose = Schema.optional(Schema.Literals(["staging", "training"]));
const VolumeRef = Schema.Struct({ id: Schema.String, name: Schema.String });

/** A persistent volume and what it costs while it exists (sizeGiB x pricePerGiBMonth). */
const Volume = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  region: Schema.String,
  sizeGiB: Schema.Finite,
  pricePerGiBMonth: Schema.Finite,
  storageCostPerMonth: Schema.Finite,
  policy: Schema.Literals(["keep", "delete"]),
  /** Created for this job (it did not exist). */
  created: Schema.Boolean,
});

export const TrainingPlanned = defineEvent({
  type: "TrainingPlanned",
  family: "training",
  description: "The memory plan of a job on its device, before any host is provisioned: each part's bytes, the total, the headroom, the estimated time; a plan that does not fit ends the job.",
  schema: Schema.Struct({
    ...job,
    device: Schema.Struct({ kind: Schema.String, name: Schema.String, memoryBytes: Schema.Finite, flops: Schema.Finite }),
    settings: Schema.Struct({ seqLen: Schema.Finite, batch: Schema.Finite, rank: Schema.Finite, targets: Schema.Array(Schema.String), checkpointing: Schema.Boolean, dequantize: Schema.String }),
    baseBytes: Schema.Finite,
    loraParameters: Schema.Finite,
    items: Schema.Array(PlanItem),
    totalBytes: Schema.Finite,
    headroomBytes: Schema.Finite,
    estimatedSeconds: Schema.Finite,
    fits: Schema.Boolean,
    reasons: Schema.Array(Schema.String),
  }),
  entity: byJob,
});

export const ProviderChosen = defineEvent({
  type: "ProviderChosen",
  family: "training",
  description: "Where the job runs and why: the provider and device, and each provider tried before it with the reason it was passed over (no capacity, over the cost cap, refused by the plan).",
  schema: Schema.Struct({
    ...job,
    provider: Schema.String,
    device: Schema.String,
    reason: Schema.String,
    passedOver: Schema.Array(Schema.Struct({ provider: Schema.String, reason: Schema.String })),
  }),
  entity: byJob,
});

export const InstanceCreated = defineEvent({
  type: "InstanceCreated",
  family: "training",
  description: "A GPU instance was rented for the job: the provider's instance id, GPU type, region, price per hour, and the host key pinned on first contact.",
  schema: Schema.Struct({
    ...job,
    provider: Schema.String,
    instanceId: Schema.String,
    gpuType: Schema.String,
    region: Schema.String,
    pricePerHour: Schema.Finite,
    /** Pinned when SSH first answered: such APIs return no host key, so the first contact is trusted. */
    hostKeyFingerprint: Schema.NullOr(Schema.String),
    /** Capacity refusals met before this one was had. */
    attempts: Schema.Array(Schema.Struct({ gpuType: Schema.String, region: Schema.String, error: Schema.String })),
    purpose: Purpose,
    /** The machine type of an instance without a GPU (gpuType is then "none"). */
    machineType: Schema.optional(Schema.String),
    /** The persistent volume it was created with (its cache lives there). */
    volume: Schema.optional(VolumeRef),
  }),
  entity: byJob,
});

export const InstanceTerminated = defineEvent({
  type: "InstanceTerminated",
  family: "training",
  description: "The rented instance is gone (terminated, not stopped: a stopped one still bills its disk): how long it ran, what it cost, why it went (done, failed, cancelled, deadline, reconciled after a crash).",
  schema: Schema.Struct({
    ...job,
    provider: Schema.String,
    instanceId: Schema.String,
    seconds: Schema.Finite,
    cost: Schema.Finite,
    reason: Schema.String,
    /** Terminate calls that failed before one succeeded. */
    failedTries: Schema.Finite,
    purpose: Purpose,
    volume: Schema.optional(VolumeRef),
  }),
  entity: byJob,
});

const StagedFile = Schema.Struct({
  name: Schema.String,
  sha256: Schema.String,
  bytes: Schema.Finite,
  sentBytes: Schema.Finite,
  /** `uploaded`, `resumed` (a partial upload completed), `cached` (found on the volume, verified). */
  source: Schema.Literals(["uploaded", "resumed", "cached"]),
  seconds: Schema.Finite,
});

export const BaseStaged = defineEvent({
  type: "BaseStaged",
  family: "training",
  description: "The base model and the trainer payload are on the provider's persistent volume before any GPU is rented: the volume (size, storage cost per month, policy), the staging instance that put them there (null: an earlier job had, and the GPU found them), the bytes sent and the upload time.",
  schema: Schema.Struct({
    ...job,
    provider: Schema.String,
    volume: Volume,
    /** The machine without a GPU that staged them; null when the volume held them already and the GPU instance verified them. */
    stagingInstanceId: Schema.NullOr(Schema.String),
    files: Schema.Array(StagedFile),
    sentBytes: Schema.Finite,
    /** Upload time (the staging instance's boot is in its InstanceCreated/InstanceTerminated). */
    seconds: Schema.Finite,
  }),
  entity: byJob,
});

export const VolumeKept = defineEvent({
  type: "VolumeKept",
  family: "training",
  description: "After the job the persistent volume is kept (policy keep): the next job finds the base there; it bills its storage cost per month while it exists.",
  schema: Schema.Struct({ ...job, provider: Schema.String, volumeId: Schema.String, name: Schema.String, sizeGiB: Schema.Finite, storageCostPerMonth: Schema.Finite }),
  entity: byJob,
});

export const VolumeDeleted = defineEvent({
  type: "VolumeDeleted",
  family: "training",
  description: "After the job the persistent volume is deleted (policy delete): no storage cost from now on, and the next job stages the base again.",
  schema: Schema.Struct({ ...job, provider: Schema.String, volumeId: Schema.String, name: Schema.String, failedTries: Schema.Finite }),
  entity: byJob,
});

export const provisioningDefinitions = [TrainingPlanned, ProviderChosen, InstanceCreated, InstanceTerminated, BaseStaged, VolumeKept, VolumeDeleted] as const;
