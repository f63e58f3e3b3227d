import { defineCommand } from "../command.ts";
import { UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import type { DomainEvent } from "../../../events/catalogue.ts";
import type { Recorded } from "../../../events/envelope.ts";
import { eventSubject } from "../../../events/subjects.ts";

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
  usage: "sophont audit input INPUT_ID [--json]",
  options: { json: { type: "boolean" } },
  run: async (ctx, v, args): Promise<number> => {
    if (args.length !== 1 || !/^[0-9a-f]{64}$/.test(args[0]!)) throw new UsageError("name one input id (64 hex digits: the sha256 of its text)");
    const rt = await openRuntime(ctx.config);
    try {
      const events: Recorded<DomainEvent>[] = [];
      for await (const e of rt.store.read({ subject: eventSubject("input", args[0]!) })) events.push(e);
      if (events.length === 0) {
        ctx.err(`the log holds no input ${args[0]}`);
        return 1;
      }
      if (v.json) ctx.out(JSON.stringify(events.map((e) => ({ seq: e.seq, type: e.type, ...e.metadata, data: e.data })), null, 2));
      else {
        ctx.out(`input ${args[0]}`);
        for (const e of events) ctx.out(`  seq ${String(e.seq).padStart(6)}  ${e.metadata.time}  ${e.metadata.actor.padEnd(9)} ${describeInputEvent(e)}`);
      }
      return 0;
    } finally {
      await rt.close();
    }
  },
});
