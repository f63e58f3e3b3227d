import { Schema } from "effect";
import { defineEvent } from "./define.ts";

// Events of the Muscle's hosts and machines: the memory plan before anything is spent, the provider
// chosen (with why), rented instances created and terminated with their cost. A job's events share
// its subject (`sophont.evt.training.<jobId>`); an instance found up with no live job is reported on
// the subject of the job that created it.
const job = { jobId: Schema.String };
const byJob = (d: { jobId: string }) => d.jobId;

const PlanItem = Schema.Struct({ what: Schema.String, bytes: Schema.Finite });

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
  }),
  entity: byJob,
});

export const provisioningDefinitions = [TrainingPlanned, ProviderChosen, InstanceCreated, InstanceTerminated] as const;
