// The memory plan: what a training job needs on its device, computed before any money is spent.
// Pure: a model described by its GGUF tensor table, the recipe's settings, the device's memory.
// The base stays quantized in device memory (QLoRA-style): its bytes are the GGUF's own, per
// tensor type; LoRA factors and their optimiser state are fp32; activations are bf16 with one
// checkpoint per layer, and one layer is recomputed at a time in the backward pass.

/** ggml tensor types: elements per block and bytes per block (ggml.c's type traits). */
export const GGML_TYPES: Readonly<Record<number, { readonly name: string; readonly block: number; readonly bytes: number }>> = {
  0: { name: "F32", block: 1, bytes: 4 },
  1: { name: "F16", block: 1, bytes: 2 },
  2: { name: "Q4_0", block: 32, bytes: 18 },
  3: { name: "Q4_1", block: 32, bytes: 20 },
  6: { name: "Q5_0", block: 32, bytes: 22 },
  7: { name: "Q5_1", block: 32, bytes: 24 },
  8: { name: "Q8_0", block: 32, bytes: 34 },
  9: { name: "Q8_1", block: 32, bytes: 36 },
  10: { name: "Q2_K", block: 256, bytes: 84 },
  11: { name: "Q3_K", block: 256, bytes: 110 },
  12: { name: "Q4_K", block: 256, bytes: 144 },
  13: { name: "Q5_K", block: 256, bytes: 176 },
  14: { name: "Q6_K", block: 256, bytes: 210 },
  15: { name: "Q8_K", block: 256, bytes: 292 },
  24: { name: "I8", block: 1, bytes: 1 },
  25: { name: "I16", block: 1, bytes: 2 },
  26: { name: "I32", block: 1, bytes: 4 },
  27: { name: "I64", block: 1, bytes: 8 },
  28: { name: "F64", block: 1, bytes: 8 },
  30: { name: "BF16", block: 1, bytes: 2 },
  39: { name: "MXFP4", block: 32, bytes: 17 },
};

export const GGML_TYPE_ID: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(GGML_TYPES).map(([id, t]) => [t.name, Number(id)]));

/** One tensor of the GGUF: ggml order (shape[0] contiguous; experts, when stacked, last). */
export interface TensorShape {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: number;
}

/** What the plan needs of a model: its GGUF metadata, reduced, and its tensor table. */
export interface ModelShape {
  readonly architecture: string;
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocab: number;
  /** Feed-forward width (per expert for a mixture of experts). */
  readonly ffn: number;
  /** Experts per layer and experts used per token; 0 for a dense model. */
  readonly experts: number;
  readonly expertsUsed: number;
  /** Sliding-window length of the layers that have one (every other layer in gpt-oss); 0: none. */
  readonly slidingWindow: number;
  readonly contextLength: number;
  readonly tensors: readonly TensorShape[];
}

export interface PlanSettings {
  readonly seqLen: number;
  readonly batch: number;
  readonly rank: number;
  /** LoRA targets, as llama.cpp names the tensors (`attn_q`, `ffn_up_exps`, `output`). */
  readonly targets: readonly string[];
  /** One activation checkpoint per layer (default true). */
  readonly checkpointing: boolean;
  /** How much of the quantized base is dequantized at once: a whole tensor, or one expert's slice. */
  readonly dequantize: "tensor" | "expert";
}

/** Where the job would run: its kind, memory, and the sustained rate the time estimate assumes. */
export interface Device {
  readonly kind: "cuda" | "mps" | "cpu";
  readonly name: string;
  readonly memoryBytes: number;
  /** Sustained FLOP/s assumed for training (not measured: a stated assumption). */
  readonly flops: number;
}

export interface PlanItem {
  readonly what: string;
  readonly bytes: number;
}

export interface MemoryPlan {
  readonly model: { readonly architecture: string; readonly parameters: number; readonly activeParameters: number; readonly baseBytes: number; readonly types: Readonly<Record<string, number>> };
  readonly settings: PlanSettings;
  readonly lora: { readonly parameters: number; readonly tensors: number };
  readonly items: readonly PlanItem[];
  readonly totalBytes: number;
  readonly device: Device;
  /** Device memory left over (negative: it does not fit). */
  readonly headroomBytes: number;
  readonly fits: boolean;
  /** Floating-point work of the job and the time it would take at the device's assumed rate. */
  readonly flopsPerStep: number;
  readonly estimatedSeconds: number;
  /** Why it does not fit (or cannot be planned), in words with the numbers; empty when it fits. */
  readonly reasons: readonly string[];
}

/** Sustained training rates assumed per device kind: stated, not measured. */
export const ASSUMED_FLOPS: Readonly<Record<Device["kind"], number>> = { cuda: 200e12, mps: 5e12, cpu: 0.2e12 };

/** CUDA context, cuBLAS workspaces and the allocator's slack: a fixed part and a share of the memory. */
export const RESERVE = { fixedBytes: 1.5 * 2 ** 30, share: 0.05 };

const elements = (t: TensorShape): number => t.shape.reduce((a, b) => a * b, 1);

/** Bytes of a tensor in its ggml type; an unknown type is an error naming it. */
export const tensorBytes = (t: TensorShape): number => {
  const type = GGML_TYPES[t.type];
  if (!type) throw new RangeError(`tensor ${t.name}: ggml type ${t.type} is not one the plan knows (${Object.values(GGML_TYPES).map((x) => x.name).join(", ")})`);
  return Math.ceil(elements(t) / type.block) * type.bytes;
};

/** Whether a tensor is a LoRA target: `blk.N.<target>.weight` or `<target>.weight`. */
const targeted = (name: string, targets: readonly string[]): boolean =>
  targets.some((t) => name === `${t}.weight` || (name.startsWith("blk.") && name.endsWith(`.${t}.weight`)));

/** LoRA parameters: r * (in + out) per matrix, per expert for stacked expert tensors. */
export const loraParameters = (m: ModelShape, targets: readonly string[], rank: number): { parameters: number; tensors: number } => {
  let parameters = 0, tensors = 0;
  for (const t of m.tensors) {
    if (t.shape.length < 2 || !targeted(t.name, targets)) continue;
    const [inner = 0, outer = 0, stack = 1] = t.shape;
    parameters += rank * (inner + outer) * stack;
    tensors++;
  }
  return { parameters, tensors };
};

const isExpertTensor = (t: TensorShape): boolean => /_exps\.weight$/.test(t.name) && t.shape.length === 3;

/** Parameters a token passes through: everything but the experts it is not routed to. */
const activeParameters = (m: ModelShape): number =>
  m.tensors.reduce((n, t) => n + (isExpertTensor(t) && m.experts > 0 ? (elements(t) / m.experts) * m.expertsUsed : t.name === "token_embd.weight" ? 0 : elements(t)), 0);

/**
 * Plans a job: the bytes of each part against the device's memory, and the time at the device's
 * assumed rate (6 FLOPs per active parameter per token, plus attention's seq² term).
 */
export const planMemory = (m: ModelShape, s: PlanSettings, device: Device, steps: number): MemoryPlan => {
  const reasons: string[] = [];
  const types: Record<string, number> = {};
  let baseBytes = 0;
  let largestDequant = 0;
  for (const t of m.tensors) {
    const bytes = tensorBytes(t);
    baseBytes += bytes;
    const name = GGML_TYPES[t.type]!.name;
    types[name] = (types[name] ?? 0) + bytes;
    // Quantized types are turned into bf16 for the matmul, one unit at a time (F32, F16, BF16 are used as they are).
    if (t.type !== 0 && t.type !== 1 && t.type !== 30 && t.shape.length >= 2) {
      const unit = s.dequantize === "expert" && isExpertTensor(t) ? elements(t) / t.shape[2]! : elements(t);
      largestDequant = Math.max(largestDequant, unit * 2);
    }
  }
  const lora = loraParameters(m, s.targets, s.rank);
  const tokens = s.seqLen * s.batch;
  const qDim = m.heads * m.headDim, kvDim = m.kvHeads * m.headDim;
  // One layer's working set in the forward (and again as gradients in the backward), bf16 except the fp32 softmax.
  const attention = tokens * (m.hidden * 2 + qDim * 2 + kvDim * 2) * 2 + s.batch * m.heads * s.seqLen * s.seqLen * 4 * 2;
  const ffn = m.experts > 0
    ? tokens * m.expertsUsed * m.ffn * 3 * 2 + tokens * m.experts * 4
    : tokens * m.ffn * 3 * 2;
  const layerWorking = (attention + ffn) * 2;
  const activations = s.checkpointing
    ? [{ what: `activation checkpoints (${m.layers} layers x ${tokens} tokens x ${m.hidden}, bf16)`, bytes: m.layers * tokens * m.hidden * 2 },
       { what: "one layer recomputed in the backward (attention with fp32 softmax, feed-forward, their gradients)", bytes: layerWorking }]
    : [{ what: `activations of every layer (${m.layers}), no checkpointing`, bytes: m.layers * layerWorking }];
  const items: PlanItem[] = [
    { what: `quantized base (${Object.entries(types).map(([k, v]) => `${k} ${gib(v)}`).join(", ")})`, bytes: baseBytes },
    { what: `LoRA r=${s.rank} on ${s.targets.join(", ")}: ${lora.parameters} parameters in ${lora.tensors} matrices, fp32`, bytes: lora.parameters * 4 },
    { what: "LoRA gradients (fp32)", bytes: lora.parameters * 4 },
    { what: "AdamW moments (2 x fp32)", bytes: lora.parameters * 8 },
    ...activations,
    { what: `logits and their gradient (${tokens} tokens x ${m.vocab} vocabulary, fp32)`, bytes: tokens * m.vocab * 4 * 2 },
    { what: `dequantized weights in flight (largest ${s.dequantize === "expert" ? "expert slice or tensor" : "tensor"}, bf16)`, bytes: largestDequant },
  ];
  if (device.kind === "cuda") items.push({ what: `CUDA context and allocator slack (${gib(RESERVE.fixedBytes)} + ${RESERVE.share * 100}%)`, bytes: RESERVE.fixedBytes + RESERVE.share * device.memoryBytes });
  const totalBytes = items.reduce((n, i) => n + i.bytes, 0);
  const headroomBytes = device.memoryBytes - totalBytes;
  if (lora.tensors === 0) reasons.push(`no tensor of the model matches the LoRA targets ${s.targets.join(", ")}: nothing would train`);
  if (s.seqLen > m.contextLength) reasons.push(`sequence length ${s.seqLen} exceeds the model's context length ${m.contextLength}`);
  if (headroomBytes < 0) reasons.push(`needs ${gib(totalBytes)} but the ${device.kind} device ${device.name} has ${gib(device.memoryBytes)} (short by ${gib(-headroomBytes)})`);
  const active = activeParameters(m);
  const flopsPerStep = 6 * active * tokens + 12 * m.layers * s.batch * s.seqLen * s.seqLen * qDim;
  const estimatedSeconds = (flopsPerStep * steps) / device.flops;
  const parameters = m.tensors.reduce((n, t) => n + elements(t), 0);
  return {
    model: { architecture: m.architecture, parameters, activeParameters: active, baseBytes, types },
    settings: s, lora, items, totalBytes, device, headroomBytes, fits: reasons.length === 0, flopsPerStep, estimatedSeconds, reasons,
  };
};

/** The plan refused for time: a job that cannot end before its deadline on this device. */
export const withinDeadline = (plan: MemoryPlan, deadlineMs: number): MemoryPlan =>
  plan.estimatedSeconds * 1000 <= deadlineMs
    ? plan
    : { ...plan, fits: false, reasons: [...plan.reasons, `would take about ${hours(plan.estimatedSeconds)} on ${plan.device.name} at an assumed ${(plan.device.flops / 1e12).toFixed(1)} TFLOP/s, past the deadline of ${hours(deadlineMs / 1000)}`] };

export const gib = (bytes: number): string => (Math.abs(bytes) < 2 ** 28 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 30).toFixed(2)} GiB`);
const hours = (seconds: number): string => (seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : `${Math.ceil(seconds / 60)} min`);

/** The plan as lines for a terminal. */
export const planLines = (p: MemoryPlan): string[] => [
  `${p.model.architecture}: ${(p.model.parameters / 1e9).toFixed(2)}B parameters (${(p.model.activeParameters / 1e9).toFixed(2)}B active per token), base ${gib(p.model.baseBytes)}`,
  `settings: seq ${p.settings.seqLen} x batch ${p.settings.batch}, LoRA r=${p.settings.rank} on ${p.settings.targets.join(", ")}, checkpointing ${p.settings.checkpointing ? "per layer" : "off"}, dequantize per ${p.settings.dequantize}`,
  ...p.items.map((i) => `  ${gib(i.bytes).padStart(12)}  ${i.what}`),
  `  ${gib(p.totalBytes).padStart(12)}  total, on ${p.device.kind} ${p.device.name} with ${gib(p.device.memoryBytes)}: headroom ${gib(p.headroomBytes)}`,
  `time: about ${hours(p.estimatedSeconds)} at an assumed ${(p.device.flops / 1e12).toFixed(1)} TFLOP/s (not measured)`,
  p.fits ? "fits" : `does not fit: ${p.reasons.join("; ")}`,
];

/** A persistent volume as the plan sees it: its size, its price, its policy. */
export interface VolumePlan {
  readonly name: string;
  readonly sizeGiB: number;
  readonly pricePerGiBMonth: number;
  readonly policy: "keep" | "delete";
  /** The cheapest stager's price per hour (machines without a GPU). */
  readonly staging: ReadonlyArray<{ readonly pricePerHour: number }>;
  /** This machine's upload speed to the provider, in MB/s (10^6 bytes), as the user states it; absent: the staging time is unknown. */
  readonly uploadMBps?: number;
}

/** The staging of the base on the volume: how long the upload takes and what the stager costs meanwhile (its boot not counted). */
export interface StagingPlan {
  readonly seconds: number | null;
  readonly cost: number | null;
  readonly pricePerHour: number;
  /** Every job (policy delete), or the first one only (keep). */
  readonly when: "every job" | "first job";
}

/** The volume's storage cost, whether the base fits on it, and the staging's time and cost. */
export const planStorage = (v: VolumePlan, baseBytes: number): { readonly volume: VolumePlan; readonly storageCostPerMonth: number; readonly baseBytes: number; readonly fits: boolean; readonly staging: StagingPlan } => {
  const pricePerHour = Math.min(...v.staging.map((s) => s.pricePerHour));
  const seconds = v.uploadMBps && v.uploadMBps > 0 ? baseBytes / (v.uploadMBps * 1e6) : null;
  return {
    volume: v, storageCostPerMonth: v.sizeGiB * v.pricePerGiBMonth, baseBytes, fits: baseBytes <= v.sizeGiB * 2 ** 30,
    staging: { seconds, cost: seconds === null ? null : (seconds / 3600) * pricePerHour, pricePerHour, when: v.policy === "keep" ? "first job" : "every job" },
  };
};

const duration = (s: number): string => (s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

/** The staging line of the plan: the upload's time and the stager's cost, or how to get them. */
export const stagingLine = (s: ReturnType<typeof planStorage>): string =>
  s.staging.seconds === null
    ? `staging (${s.staging.when}): ${gib(s.baseBytes)} from this machine; time unknown: set volume.uploadMBps in cloud.json to your upload speed (BaseStaged events record each staging's bytes and seconds); the stager bills ${s.staging.pricePerHour}/h meanwhile`
    : `staging (${s.staging.when}): ${gib(s.baseBytes)} at ${s.volume.uploadMBps} MB/s = ${duration(s.staging.seconds)}, the stager at ${s.staging.pricePerHour}/h = ${s.staging.cost!.toFixed(2)} (its boot not counted)`;

/** The storage line of the plan (`sophont train --plan --host cloud`). */
export const storageLine = (s: ReturnType<typeof planStorage>): string =>
  `storage: volume ${s.volume.name}, ${s.volume.sizeGiB} GiB at ${s.volume.pricePerGiBMonth} a GiB-month = ${s.storageCostPerMonth.toFixed(2)} a month, ` +
  (s.volume.policy === "keep" ? "kept between jobs (the base is staged once)" : "deleted after each job (no storage cost between jobs; each job stages the base again)") +
  (s.fits ? `; the base takes ${gib(s.baseBytes)} of it` : `; too small: the base alone needs ${gib(s.baseBytes)}`);
