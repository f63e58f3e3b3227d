// What goes into a job directory, built from the ledger snapshot of a TrainingRequested: the trainer
// reads pre-tokenized rows (it never tokenizes), so the Soul's own tokenizer makes them here.
import type { TrainingRequest } from "./muscle.decider.ts";
import type { LedgerSnapshot } from "../../events/training.ts";
import type { TransferReceipt } from "./ports.ts";

/** Where the Muscle gets texts, tokens and artifacts; the composition root binds these to adapters. */
export interface TrainingMaterials {
  /** A text of the content store by sha256 (throws when it was forgotten). */
  text(sha256: string): Promise<string>;
  /** The serving model's tokens for a text, BOS first where the model prepends one. */
  tokenize(text: string): Promise<number[]>;
  /** Longest row the trainer accepts (the model's context length). */
  readonly contextLength: number;
  /** The base model's GGUF on this machine. */
  readonly baseModelPath: string;
  /** The directory holding the `sophont_trainer` package (uploaded as is). */
  readonly trainerDir: string;
  /** Bytes of an artifact (earlier micro-adapter) in the content store. */
  artifact(sha256: string): Promise<Uint8Array>;
  /** Keeps an artifact in the content store; returns its sha256. */
  keep(bytes: Uint8Array): Promise<string>;
  /** sha256 and size of a file on this machine (for the host's cache, which files by hash). */
  digest(file: string): Promise<TransferReceipt>;
  /** The general-English replay set a recipe's `generalReplayRatio` draws from (absent: none is replayed). */
  readonly generalReplay?: GeneralReplaySet;
}

/** A shipped set of general text replayed in training (public text: it does not pass the airlock). */
export interface GeneralReplaySet {
  readonly texts: readonly string[];
  /** sha256 of the set's file, recorded in DatasetUploaded. */
  readonly sha256: string;
  /** How its texts were chosen. */
  readonly rule: string;
}

export interface Datasets {
  readonly files: { readonly "sft.jsonl": string; readonly "anchor.jsonl": string; readonly "general.jsonl": string; readonly "dpo.jsonl": string; readonly "negatives.jsonl": string; readonly "dpo_eval.jsonl": string };
  readonly rows: { readonly sft: number; readonly anchor: number; readonly dpo: number; readonly negatives: number; readonly dpoEval: number };
  /** The general-English rows replayed, and the set they came from (absent: the recipe replays none). */
  readonly generalReplay?: { readonly sha256: string; readonly rows: number; readonly ratio: number };
  /** What the airlock did to the texts (all zero when no airlock stood between). */
  readonly airlock: { readonly redactions: Readonly<Record<string, number>>; readonly texts: number; readonly withheld: number };
}

/** The airlock's say on one text bound for the host: the text to tokenize, or null (it stays home). */
export type Admit = (text: string, inputId: string | null) => Promise<{ readonly text: string | null; readonly redactions: Readonly<Record<string, number>> }>;

const fit = (tokens: number[], max: number): number[] => tokens.slice(0, max);
const jsonl = (rows: readonly unknown[]): string => rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : "");

const meanLength = (rows: ReadonlyArray<{ tokens: number[] }>): number => (rows.length ? rows.reduce((n, r) => n + r.tokens.length, 0) / rows.length : 0);

/**
 * Short texts joined in order into rows about `target` tokens long (at most `max`): a row's share of
 * a batch is then about its share of the loss's tokens too, as the trainer averages over tokens.
 */
export const packed = (rows: ReadonlyArray<{ tokens: number[] }>, target: number, max: number): Array<{ tokens: number[] }> => {
  const out: Array<{ tokens: number[] }> = [];
  let row: number[] = [];
  for (const r of rows) {
    if (row.length > 0 && row.length + r.tokens.length > max) (out.push({ tokens: row }), (row = []));
    row = [...row, ...r.tokens];
    if (row.length >= target) (out.push({ tokens: row.slice(0, max) }), (row = []));
  }
  if (row.length >= 2) out.push({ tokens: row });
  return out;
};

/** The recipe's share of general-English replay (0 when it sets none). */
export const generalReplayRatio = (r: TrainingRequest["recipe"]): number => r.generalReplayRatio ?? 0;

/**
 * Tokenizes the snapshot's SFT, anchor and shadow entries into the trainer's files, and the shipped
 * general-English set when the recipe replays it: every replayed text (anchor or general) is
 * tokenized the same way, so the trainer frames them alike; the general set's short paragraphs are
 * packed into rows as long as the job's SFT rows on average. With
 * `admit` (a host off this machine), every text passes the airlock first: a withheld text (private
 * input, or policy "nothing") leaves its row out, a redacted one is tokenized as redacted.
 */
export const buildDatasets = async (request: TrainingRequest, m: TrainingMaterials, admit?: Admit): Promise<Datasets> => {
  const redactions: Record<string, number> = {};
  let texts = 0;
  let withheld = 0;
  const pass = async (sha: string, inputId: string | null): Promise<string | null> => {
    const text = await m.text(sha);
    if (!admit) return text;
    const r = await admit(text, inputId);
    for (const [k, n] of Object.entries(r.redactions)) redactions[k] = (redactions[k] ?? 0) + n;
    if (r.text === null) withheld++;
    else texts++;
    return r.text;
  };
  const row = async (text: string | null) => ({ tokens: text === null ? [] : fit(await m.tokenize(text), m.contextLength) });
  const rows = async (texts: ReadonlyArray<() => Promise<string | null>>) => (await Promise.all(texts.map(async (t) => row(await t())))).filter((r) => r.tokens.length >= 2);
  const sft = await rows(request.ledger.sft.map((e) => () => pass(e.sha256, e.id)));
  const anchor = await rows(request.ledger.anchor.map((e) => () => pass(e.sha256, null)));
  const ratio = generalReplayRatio(request.recipe);
  const set = ratio > 0 ? m.generalReplay : undefined;
  const general = set ? packed(await rows(set.texts.map((t) => async () => t)), meanLength(sft), m.contextLength) : [];
  // Responses continue their prompt, so they carry no BOS of their own.
  const bos = (await m.tokenize(""))[0];
  const response = async (text: string) => {
    const tokens = await m.tokenize(text);
    return bos !== undefined && tokens[0] === bos ? tokens.slice(1) : tokens;
  };
  const pairsOf = async (refs: LedgerSnapshot["shadow"]) => (await Promise.all(refs.map(async (e) => {
    const [prompt, chosen, rejected] = [await pass(e.promptSha256, e.id), await pass(e.correctedSha256, e.id), await pass(e.rejectedSha256, e.id)];
    if (prompt === null || chosen === null || rejected === null) return undefined;
    const row = { prompt_tokens: await m.tokenize(prompt), chosen_tokens: await response(chosen), rejected_tokens: await response(rejected) };
    // The trainer refuses empty or identical outputs: such a pair teaches nothing.
    return row.chosen_tokens.length && row.rejected_tokens.length && row.chosen_tokens.join() !== row.rejected_tokens.join() ? row : undefined;
  }))).filter((r) => r !== undefined);
  const dpo = await pairsOf(request.ledger.shadow);
  const dpoEval = await pairsOf(request.ledger.shadowHeldOut ?? []);
  const negatives = (await Promise.all((request.ledger.negatives ?? []).map(async (e) => {
    const [prompt, rejected] = [await pass(e.promptSha256, e.id), await pass(e.rejectedSha256, e.id)];
    if (prompt === null || rejected === null) return undefined;
    const row = { prompt_tokens: await m.tokenize(prompt), rejected_tokens: await response(rejected) };
    return row.rejected_tokens.length ? row : undefined;
  }))).filter((r) => r !== undefined);
  return {
    files: { "sft.jsonl": jsonl(sft), "anchor.jsonl": jsonl(anchor), "general.jsonl": jsonl(general), "dpo.jsonl": jsonl(dpo), "negatives.jsonl": jsonl(negatives), "dpo_eval.jsonl": jsonl(dpoEval) },
    rows: { sft: sft.length, anchor: anchor.length, dpo: dpo.length, negatives: negatives.length, dpoEval: dpoEval.length },
    ...(set ? { generalReplay: { sha256: set.sha256, rows: general.length, ratio } } : {}),
    airlock: { redactions, texts, withheld },
  };
};

/** The recipe's candidate settings in the trainer's spelling (absent keys: the trainer's defaults). */
const candidatesOf = (c: NonNullable<TrainingRequest["recipe"]["candidates"]>) => ({
  ...(c.methods ? { methods: [...c.methods] } : {}),
  ...(c.maxRank !== undefined ? { max_rank: c.maxRank } : {}),
  ...(c.taskLambdas ? { task_lambdas: [...c.taskLambdas] } : {}),
  ...(c.dareDensity !== undefined ? { dare_density: c.dareDensity } : {}),
  ...(c.maxCandidates !== undefined ? { max_candidates: c.maxCandidates } : {}),
});

/** Steps per phase as the trainer will count them (data.py resolve_steps): from `epochs` with the cap, else the recipe's. */
export const plannedSteps = (r: TrainingRequest["recipe"], rows: { sft: number; anchor: number; general?: number; pref: number }): { sft: number; dpo: number } => {
  if (r.epochs === undefined) return { sft: rows.sft > 0 ? r.sftSteps : 0, dpo: rows.pref > 0 ? r.dpoSteps : 0 };
  const steps = (n: number, perStep: number) => (n === 0 ? 0 : Math.min(Math.ceil((r.epochs! * n) / perStep), r.maxSteps ?? Infinity));
  // The replayed rows (anchor, general English) come on top of the SFT rows' share of each batch.
  const replayed = (rows.anchor > 0 ? r.anchorRatio : 0) + ((rows.general ?? 0) > 0 ? generalReplayRatio(r) : 0);
  return { sft: steps(rows.sft, r.batch * (1 - replayed)), dpo: steps(rows.pref, r.batch) };
};

/** The trainer's recipe.json for this job; paths are relative to the job directory. */
export const trainerRecipe = (request: TrainingRequest, rows: Datasets["rows"], mergeWith: readonly string[], serving?: string, general?: Datasets["generalReplay"]): Record<string, unknown> => {
  const r = request.recipe;
  const pref = Math.max(rows.dpo, rows.negatives);
  return {
    base_model: "base.gguf",
    // `hf`: transformers on an HF model folder on the host (recipe.hfModel); the GGUF still goes up for the adapter's names.
    backend: r.backend ?? "tiny",
    ...(r.backend === "hf" && r.hfModel ? { hf_model: r.hfModel } : {}),
    rank: r.rank,
    alpha: r.alpha,
    lr: r.lr,
    ...(r.epochs !== undefined
      ? { epochs: r.epochs, ...(r.maxSteps !== undefined ? { max_steps: r.maxSteps } : {}) }
      : { sft_steps: rows.sft > 0 ? r.sftSteps : 0, dpo_steps: pref > 0 ? r.dpoSteps : 0 }),
    batch: r.batch,
    anchor_ratio: rows.anchor > 0 ? r.anchorRatio : 0,
    ...(general && general.rows > 0 ? { general_replay_ratio: general.ratio } : {}),
    seed: r.seed,
    target_modules: [...r.targetModules],
    ties: { k: r.ties.k, lambda: r.ties.lambda },
    merge_with: [...mergeWith],
    ...(serving ? { serving_adapter: serving } : {}),
    ...(r.candidates ? { candidates: candidatesOf(r.candidates) } : {}),
    job_id: request.jobId,
  };
};
