import { accessSync, constants, createReadStream, statSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { defineCommand } from "../command.ts";
import { progress, UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { today } from "../actors.ts";
import { ingestFiles, type IngestFile } from "../../ingest/ingest.ts";
import { dayProblem } from "../../../events/day.ts";
import type { InputFormat, Split } from "../../ingest/parse.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";
import { Egress, safeTarget } from "../../egress/egress.ts";
import { ingestPrivacy, isRemoteNats } from "../../egress/ingest.ts";

const FORMATS = ["text", "markdown", "jsonl", "log"];
const SPLITS = ["file", "paragraph", "line"];
const DEFAULT_MAX_BYTES = 256 * 1024;


export const ingest = defineCommand({
  path: ["ingest"],
  summary: "take in texts and logs as the day's inputs (text, Markdown, JSON Lines, log files, or - for stdin)",
  usage: "sophont ingest PATH...|- [--day YYYY-MM-DD] [--format text|markdown|jsonl|log] [--split file|paragraph|line] [--max-bytes N] [--private] [--json]",
  details: [
    "Each input's id is the sha256 of its normalised text; the same text twice is one input (a repeat from",
    "another place is counted). Texts live in the content store; events carry their hash. Binary data (NUL",
    "anywhere, control or unassigned characters), invalid UTF-8 (one bad paragraph or line, not the whole",
    "file), lone surrogates, empty or invisible-only inputs and inputs over --max-bytes (default 262144) are",
    "refused with an event naming the reason. Ingesting the same files again appends nothing. Files and",
    "standard input are read a piece at a time: memory stays bounded whatever their size.",
    "Defaults: the format from the file name (.md, .jsonl, .log, else text); --split paragraph for text,",
    "file for Markdown, line for logs. JSON Lines records need a string field `text`; `prompt` and",
    "`corrected` are texts too; the other fields (at most 16 KiB, nested at most 16 deep) are kept in the",
    "content store, not in the event, and forgotten with the text.",
    "--private marks every input of this ingest private (InputMarkedPrivate): its text and what is derived",
    "from it never leave this machine; config.json's airlock.private.paths (globs) and airlock.private.field",
    "(a JSONL field set to true) mark inputs private too. On a remote NATS server (natsUrl off this machine)",
    "only what airlock.destinations.nats-remote allows is stored there (redacted texts by default).",
  ].join("\n"),
  options: {
    day: { type: "string" },
    format: { type: "string" },
    split: { type: "string" },
    "max-bytes": { type: "string" },
    private: { type: "boolean" },
    json: { type: "boolean" },
  },
  run: async (ctx, v, paths) => {
    if (paths.length === 0) throw new UsageError("name at least one file, or - for standard input");
    const format = v.format as InputFormat | undefined;
    if (format && !FORMATS.includes(format)) throw new UsageError(`--format is one of ${FORMATS.join(", ")}`);
    const split = v.split as Split | undefined;
    if (split && !SPLITS.includes(split)) throw new UsageError(`--split is one of ${SPLITS.join(", ")}`);
    const day = (v.day as string | undefined) ?? today();
    const bad = dayProblem(day);
    if (bad) throw new UsageError(`--day takes a real date YYYY-MM-DD: ${bad}`);
    const maxBytes = Number(v["max-bytes"] ?? DEFAULT_MAX_BYTES);
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new UsageError("--max-bytes takes a positive whole number");
    const files: IngestFile[] = [];
    for (const p of paths) {
      if (p === "-") files.push({ path: "-", stream: process.stdin });
      else {
        try {
          if (statSync(p).isDirectory()) throw new UsageError(`${p} is a directory; name the files in it (e.g. ${p}/*.log)`);
          accessSync(p, constants.R_OK);
          files.push({ path: p, stream: createReadStream(p, { highWaterMark: 256 * 1024 }) });
        } catch (e) {
          if (e instanceof UsageError) throw e;
          throw new UsageError(`cannot read ${p}: ${(e as Error).message}`);
        }
      }
    }
    const rt = await openRuntime(ctx.config, ctx.err);
    try {
      const correlationId = randomUUID();
      const remote = !rt.server.embedded && isRemoteNats(rt.server.url);
      if (remote && ctx.config.airlock.destinations["nats-remote"] === "nothing") {
        throw new UsageError(`the airlock keeps every text off the remote NATS server ${safeTarget(rt.server.url)} (airlock.destinations.nats-remote is "nothing"); set it to "redacted" or "raw", or run against the embedded server`);
      }
      const egress = new Egress(rt.store, ctx.config.airlock, { actor: "ingest" });
      const privacy = ingestPrivacy(egress, { flag: Boolean(v.private), correlationId, ...(remote ? { remoteTarget: safeTarget(rt.server.url) } : {}) });
      const bar = progress("ingesting");
      const summary = await ingestFiles(
        { store: rt.store, content: new ObjectContentStore(rt.nc, ctx.config.replicas), },
        files,
        { day, maxBytes, correlationId, privacy, onProgress: bar.update, ...(format ? { format } : {}), ...(split ? { split } : {}) },
      );
      bar.done();
      if (v.json) return void ctx.out(JSON.stringify({ day, ...summary }, null, 2));
      ctx.out(`day ${day}: ${summary.received} new input(s), ${summary.repeated} repeat(s) from other places, ${summary.unchanged} already known, ${summary.refused} refused${summary.private ? `, ${summary.private} marked private` : ""}${summary.withheld ? `, ${summary.withheld} withheld from the remote server by the airlock` : ""}`);
      for (const r of summary.refusals) ctx.out(`  refused ${r.path}${r.index > 0 ? `#${r.index}` : ""}: ${r.reason} (${r.detail})`);
      if (summary.refused > summary.refusals.length) ctx.out(`  ... and ${summary.refused - summary.refusals.length} more refusal(s): \`sophont events tail --type InputRefused\``);
    } finally {
      await rt.close();
    }
  },
});
