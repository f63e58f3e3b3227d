import { defineCommand } from "../command.ts";
import { parsePosition, percent, printResult, UsageError } from "../format.ts";
import { resolveInputId } from "../ids.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";
import { openRuntime } from "../runtime.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";
import { eventSubject } from "../../../events/subjects.ts";
import { auditAdapter, type AdapterAudit } from "../audit-adapter.ts";

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : "none");

/** One line of an input's life, in words; the event (seq) holds the rest. */
export const describeInputEvent = (e: Recorded<DomainEvent>): string => {
  switch (e.type) {
    case "InputReceived":
      return `received from ${e.data.source.path}#${e.data.source.index} (${e.data.source.format}, ${e.data.bytes} bytes, text sha256 ${short(e.data.contentSha256)}) for day ${e.data.day}`;
    case "InputRepeated":
      return `arrived again from ${e.data.source.path}#${e.data.source.index}`;
    case "InputScored": {
      const d = e.data;
      return [
        `scored in night ${d.nightId}: perplexity ${d.perplexity.toFixed(2)} over ${d.tokenCount} tokens, surprise ${d.surprise.toFixed(2)} (baseline mean ${d.baseline.mean.toFixed(3)}, sd ${d.baseline.std.toFixed(3)}, ${d.baseline.samples} samples)`,
        `coherent: ${d.coherence.coherent} (${d.coherence.method}: ${d.coherence.detail})`,
        `question (${d.question.method}): ${d.question.text ?? "the text's own embedding"}; nearest ${d.similarity.nearest} at ${d.similarity.nearestSimilarity.toFixed(3)} (preoccupation ${d.similarity.preoccupation.toFixed(3)}${d.similarity.satellites.map((s) => `, ${s.satelliteId} ${s.similarity.toFixed(3)}`).join("")})`,
        `model ${short(d.models.model)}, adapter ${short(d.models.adapter)}, embedder ${short(d.models.embedder)}; policy ${d.policy.version}`,
      ].join("\n      ");
    }
    case "InputAccepted":
    case "InputRejected":
    case "ShadowRecorded": {
      const p = e.data.policy;
      return `${e.type === "InputAccepted" ? "ACCEPTED into the SFT Ledger" : e.type === "ShadowRecorded" ? "SHADOW Ledger (a DPO negative)" : `REJECTED (${e.data.cause})`}: ${e.data.reason}\n      thresholds: acceptSimilarity ${p.acceptSimilarity}, minSurprise ${p.minSurprise}, incoherentSurprise ${p.incoherentSurprise}, uniformFraction ${p.uniformFraction} (policy ${p.version})`;
    }
    case "InputForgotten":
      return `FORGOTTEN (${e.data.reason}, asked by ${e.data.requestedBy}): ${e.data.deletedSha256.length} text(s) deleted; only hashes and scores remain`;
    default:
      return e.type;
  }
};

export const auditInput = defineCommand({
  path: ["audit", "input"],
  summary: "the life of one input from the log: received, scored, decided (with the thresholds and hashes behind it), forgotten",
  usage: "sophont audit input INPUT_ID [--at SEQ|TIME] [--json]",
  options: { json: { type: "boolean" }, at: { type: "string" } },
  run: async (ctx, v, args): Promise<number> => {
    if (args.length !== 1) throw new UsageError("name one input id (the sha256 of its text, or its first 12 characters)");
    const until = v.at ? parsePosition(v.at as string, "--at") : "now";
    const rt = await openRuntime(ctx.config);
    try {
      const inputId = await resolveInputId(rt.nc, args[0]!);
      const events: Recorded<DomainEvent>[] = [];
      for await (const e of rt.store.read({ subject: eventSubject("input", inputId), until })) events.push(e);
      if (events.length === 0) {
        ctx.err(`the log holds no input ${inputId}${until === "now" ? "" : " at that point (--at)"}`);
        return 1;
      }
      const text = await inputText(rt.nc, events);
      printResult(ctx, v.json, { inputId, text: text.text ?? null, textState: text.state, events: events.map((e) => ({ seq: e.seq, type: e.type, ...e.metadata, data: e.data })) }, () => [
        `input ${inputId}`,
        ...(text.text !== undefined ? [`  text: ${indent(text.text)}`] : [`  text: ${text.state}`]),
        ...events.map((e) => `  seq ${String(e.seq).padStart(6)}  ${e.metadata.time}  ${e.metadata.actor.padEnd(9)} ${describeInputEvent(e)}`),
      ]);
      return 0;
    } finally {
      await rt.close();
    }
  },
});

const indent = (t: string): string => t.replace(/\n/g, "\n        ");

/** The input's text from the content store, or why it is not shown (forgotten, or not readable from this account). */
const inputText = async (nc: import("@nats-io/transport-node").NatsConnection, events: ReadonlyArray<Recorded<DomainEvent>>): Promise<{ text?: string; state: string }> => {
  if (events.some((e) => e.type === "InputForgotten")) return { state: "forgotten: only hashes and scores remain" };
  const received = events.find((e) => e.type === "InputReceived");
  if (received?.type !== "InputReceived") return { state: "not recorded" };
  try {
    const bytes = await new ObjectContentStore(nc).get(received.data.contentSha256);
    return bytes ? { text: Buffer.from(bytes).toString("utf8"), state: "shown" } : { state: "missing from the content store" };
  } catch (e) {
    return { state: `not readable here (${(e as Error).message})` };
  }
};

const pct = percent;

/** The audit of a self-update, in words. */
export const describeAdapterAudit = (a: AdapterAudit): string[] => {
  const lines = [`job ${a.jobId}`];
  const r = a.requested;
  lines.push(`  requested at seq ${r.seq} (${r.time}) by ${r.by}; ledgers as of seq ${r.ledgerAtSeq}; recipe: rank ${r.recipe.rank}, alpha ${r.recipe.alpha}, lr ${r.recipe.lr}, ${r.recipe.sftSteps} SFT + ${r.recipe.dpoSteps} DPO steps, anchor ratio ${r.recipe.anchorRatio}, general-English replay ${r.recipe.generalReplayRatio ?? 0}, targets ${r.recipe.targetModules.join(",")}, TIES k ${r.recipe.ties.k}%`);
  const trained = a.inputs.filter((i) => i.role === "trained");
  lines.push(`  trained on ${trained.length} SFT entries (+${a.inputs.length - trained.length} held out for the gain), ${a.anchor} Golden Anchor texts, ${a.shadowPairs} DPO pairs${a.requested.mergeWith.length ? `; merged with ${a.requested.mergeWith.length} earlier micro-adapter(s)` : ""}`);
  for (const i of a.inputs) {
    const why = i.accepted ? `accepted in night ${i.accepted.nightId} at seq ${i.accepted.seq} (${i.accepted.reason}; policy ${i.accepted.policy})` : "no acceptance found in the log";
    lines.push(`    ${i.role === "trained" ? "•" : "○"} ${i.inputId.slice(0, 16)} seq ${i.seq} text ${i.sha256.slice(0, 12)}${i.forgotten ? " FORGOTTEN since (only hashes remain)" : ""}: ${why}`);
  }
  if (a.host) lines.push(`  host ${a.host.name} (${a.host.provider}); ${a.datasets.length} file(s) uploaded, each verified by sha256`);
  if (a.progress.last) lines.push(`  progress: ${a.progress.events} events, last step ${a.progress.last.step}/${a.progress.last.of}, loss ${a.progress.last.loss?.toFixed(4) ?? "-"}`);
  if (a.trained) lines.push(`  adapter ${a.trained.adapterSha256.slice(0, 16)} (micro ${a.trained.microSha256.slice(0, 12)}); merge ${a.trained.merge.method} of ${a.trained.merge.mergedFrom.length}, reconstruction error ${a.trained.merge.reconstructionError.toFixed(4)}`);
  if (a.evaluated) lines.push(`  evaluated: held-out gain ${pct(a.evaluated.gain)} (bound >= ${pct(a.evaluated.bounds.minGain)}), anchor forgetting ${pct(a.evaluated.forgetting)} (bound <= ${pct(a.evaluated.bounds.maxForgetting)})`);
  for (const c of a.evaluated?.candidates ?? []) lines.push(`    candidate ${c.method}${Object.keys(c.params).length ? ` (${Object.entries(c.params).map(([k, v]) => `${k} ${v}`).join(", ")})` : ""}, rank ${c.rank}: gain ${pct(c.gain)}, forgetting ${pct(c.forgetting)}, probe rise ${pct(c.rise)}${c.withinBounds ? ", within bounds" : ""}${c.sha256 === a.evaluated?.chosen?.sha256 ? "  <- chosen" : ""}`);
  if (a.evaluated?.chosen) lines.push(`  chosen: ${a.evaluated.chosen.method} (${a.evaluated.chosen.reason})`);
  lines.push(a.outcome ? `  ${a.outcome.type === "AdapterPromoted" ? "PROMOTED" : a.outcome.type === "AdapterRolledBack" ? "ROLLED BACK" : "FAILED"} by ${a.outcome.by} at seq ${a.outcome.seq}: ${a.outcome.detail}` : "  no verdict yet");
  return lines;
};

export const auditAdapterCommand = defineCommand({
  path: ["audit", "adapter"],
  summary: "the whole story of a self-update from the log: inputs and the decisions behind them, recipe, job, merge, evaluation, verdict",
  usage: "sophont audit adapter ADAPTER_SHA256|JOB_ID [--at SEQ|TIME] [--json]",
  details: "A prefix of the adapter's sha256 is enough. Inputs forgotten since are marked so; their texts are gone. --at tells the story as the log held it then.",
  options: { json: { type: "boolean" }, at: { type: "string" } },
  run: async (ctx, v, args): Promise<number> => {
    if (args.length !== 1) throw new UsageError("name one adapter (sha256 or a prefix) or one job id");
    const until = v.at ? parsePosition(v.at as string, "--at") : "now";
    const rt = await openRuntime(ctx.config);
    try {
      const a = await auditAdapter(rt.store, args[0]!, until);
      if (!a) {
        ctx.err(`no training job or adapter ${args[0]} in the log (see \`sophont adapters\`)`);
        return 1;
      }
      ctx.out(v.json ? JSON.stringify(a, null, 2) : describeAdapterAudit(a).join("\n"));
      return 0;
    } finally {
      await rt.close();
    }
  },
});
