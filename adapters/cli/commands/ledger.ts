import { createWriteStream, readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { defineCommand } from "../command.ts";
import { parsePosition, UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";
import { addAnchors } from "../../ingest/anchor.ts";
import { projectAt } from "../../../projections/runner.ts";
import { ledgers } from "../../../projections/ledgers.projection.ts";

const LEDGERS = ["sft", "shadow", "anchor"];

export const ledgerExport = defineCommand({
  path: ["ledger", "export"],
  summary: "write a ledger as JSON Lines in the formats trainers read (chat messages for SFT, prompt/chosen/rejected for DPO)",
  usage: "sophont ledger export sft|shadow|anchor [--format jsonl] [--out FILE] [--at SEQ|TIME]",
  details: [
    "sft and anchor: {\"id\", \"messages\": [{\"role\":\"user\",\"content\":QUESTION}?, {\"role\":\"assistant\",\"content\":TEXT}]}",
    "(the user turn only where the model distilled a question). shadow: {\"id\", \"prompt\", \"chosen\", \"rejected\"};",
    "entries without a known correction have no `chosen` and are left out (counted on stderr).",
    "The export is a projection of the log: --at exports the ledger as it was.",
  ].join("\n"),
  options: { format: { type: "string" }, out: { type: "string" }, at: { type: "string" } },
  run: async (ctx, v, args) => {
    const which = args[0];
    if (!which || !LEDGERS.includes(which) || args.length > 1) throw new UsageError(`name one ledger: ${LEDGERS.join(", ")}`);
    if (v.format && v.format !== "jsonl") throw new UsageError("the only format is jsonl");
    const at = v.at ? parsePosition(v.at as string, "--at") : "now";
    const rt = await openRuntime(ctx.config, ctx.err);
    const content = new ObjectContentStore(rt.nc);
    const out = v.out ? createWriteStream(v.out as string) : undefined;
    const write = (o: unknown) => (out ? out.write(JSON.stringify(o) + "\n") : ctx.out(JSON.stringify(o)));
    const text = async (sha: string) => {
      const b = await content.get(sha);
      return b ? Buffer.from(b).toString("utf8") : undefined;
    };
    try {
      const l = await projectAt(rt.store, ledgers, at);
      let written = 0;
      let missing = 0;
      if (which === "sft" || which === "anchor") {
        const rows = which === "sft" ? [...l.sft.values()].map((e) => ({ id: e.inputId, sha: e.contentSha256, q: e.question })) : [...l.anchor.values()].map((e) => ({ id: e.anchorId, sha: e.contentSha256, q: null }));
        for (const r of rows) {
          const t = await text(r.sha);
          if (t === undefined) missing++;
          else (write({ id: r.id, messages: [...(r.q ? [{ role: "user", content: r.q }] : []), { role: "assistant", content: t }] }), written++);
        }
      } else {
        for (const e of l.shadow.values()) {
          const [prompt, rejected, chosen] = await Promise.all([text(e.promptSha256), text(e.rejectedSha256), e.correctedSha256 ? text(e.correctedSha256) : undefined]);
          if (prompt === undefined || rejected === undefined || chosen === undefined) missing++;
          else (write({ id: e.inputId, prompt, chosen, rejected }), written++);
        }
      }
      if (out) await new Promise((r) => out.end(r));
      ctx.err(`${written} ${which} row(s) written${missing ? `; ${missing} left out (no correction known, or text forgotten)` : ""}`);
    } finally {
      await rt.close();
    }
  },
});

export const anchorAdd = defineCommand({
  path: ["anchor", "add"],
  summary: "add texts to the Golden Anchor set, replayed in every training job against forgetting",
  usage: "sophont anchor add FILE... [--json]",
  details: "One anchor per paragraph of a text file, per record of a JSON Lines file (field `text`), or per Markdown file.",
  options: { json: { type: "boolean" } },
  run: async (ctx, v, args) => {
    if (args.length === 0) throw new UsageError("name at least one file");
    const files = args.map((p) => {
      try {
        return { path: p, bytes: readFileSync(p) };
      } catch (e) {
        throw new UsageError(`cannot read ${p}: ${(e as Error).message}`);
      }
    });
    const rt = await openRuntime(ctx.config, ctx.err);
    try {
      const known = new Set((await projectAt(rt.store, ledgers, "now")).anchor.keys());
      const content = new ObjectContentStore(rt.nc);
      const results = [];
      for (const f of files) {
        const r = await addAnchors({ store: rt.store, content, known }, f.path, f.bytes, randomUUID());
        results.push({ path: f.path, added: r.added, known: r.known, refused: r.refused });
        if (v.json) continue;
        ctx.out(`${f.path}: ${r.added} anchor(s) added, ${r.known} already there${r.refused.length ? `, ${r.refused.length} refused` : ""}`);
        for (const x of r.refused) ctx.err(`  refused #${x.index}: ${x.reason} (${x.detail})`);
      }
      if (v.json) ctx.out(JSON.stringify({ files: results }, null, 2));
    } finally {
      await rt.close();
    }
  },
});
