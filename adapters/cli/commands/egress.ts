import { defineCommand } from "../command.ts";
import { parsePosition } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import type { EventData } from "../../../events/catalogue.ts";

export const auditEgress = defineCommand({
  path: ["audit", "egress"],
  summary: "what left this machine through the privacy airlock, and why: destination, bytes, sha256, policy, redactions",
  usage: "sophont audit egress [--at SEQ|TIME] [--json]",
  details: [
    "Lists every EgressRecorded (GPU host uploads, judge requests, OTLP exports, texts stored on a remote NATS",
    "server) and every policy version they obeyed (AirlockPolicySet), as of --at. Texts are never shown: only",
    "their size, sha256 and the redactions per rule. Private inputs (InputMarkedPrivate) are counted.",
  ].join("\n"),
  options: { json: { type: "boolean" }, at: { type: "string" } },
  run: async (ctx, v): Promise<number> => {
    const until = v.at ? parsePosition(v.at as string, "--at") : "now";
    const rt = await openRuntime(ctx.config);
    try {
      const policies: Array<EventData<"AirlockPolicySet"> & { seq: number }> = [];
      const egress: Array<EventData<"EgressRecorded"> & { seq: number; time: string }> = [];
      let privateInputs = 0;
      for await (const e of rt.store.read({ until, types: new Set(["AirlockPolicySet", "EgressRecorded", "InputMarkedPrivate"]) })) {
        if (e.type === "AirlockPolicySet") policies.push({ ...e.data, seq: e.seq });
        else if (e.type === "EgressRecorded") egress.push({ ...e.data, seq: e.seq, time: e.metadata.time });
        else if (e.type === "InputMarkedPrivate") privateInputs++;
      }
      if (v.json) {
        ctx.out(JSON.stringify({ policies, egress, privateInputs, current: ctx.config.airlock.version }, null, 2));
        return 0;
      }
      ctx.out(`airlock policy now: ${ctx.config.airlock.version} (${Object.entries(ctx.config.airlock.destinations).map(([d, m]) => `${d} ${m}`).join(", ")}); ${privateInputs} input(s) marked private`);
      for (const p of policies) ctx.out(`  seq ${String(p.seq).padStart(6)}  policy ${p.version}: ${Object.entries(p.destinations).map(([d, m]) => `${d} ${m}`).join(", ")}; ${p.rules.length} rule(s)`);
      if (egress.length === 0) ctx.out("nothing has left through the airlock");
      for (const e of egress) {
        const red = Object.entries(e.redactions).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
        ctx.out(`  seq ${String(e.seq).padStart(6)}  ${e.time}  ${e.destination} -> ${e.target}: ${e.bytes} bytes, sha256 ${e.sha256.slice(0, 12)}, ${e.mode} under ${e.policyVersion}; ${e.texts} text(s) sent, ${e.withheld} withheld; redactions: ${red}\n      why: ${e.purpose}`);
      }
      return 0;
    } finally {
      await rt.close();
    }
  },
});
