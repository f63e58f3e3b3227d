import { readFileSync, statSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { defineCommand } from "../command.ts";
import { progress, UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { today } from "../actors.ts";
import { ingestFiles, type IngestFile } from "../../ingest/ingest.ts";
import type { InputFormat, Split } from "../../ingest/parse.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";

const FORMATS = ["text", "markdown", "jsonl", "log"];
const SPLITS = ["file", "paragraph", "line"];
const DEFAULT_MAX_BYTES = 256 * 1024;

const readStdin = async (): Promise<Uint8Array> => {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

export const ingest = defineCommand({
  path: ["ingest"],
  summary: "take in texts and logs as the day's inputs (text, Markdown, JSON Lines, log files, or - for stdin)",
  usage: "sophont ingest PATH...|- [--day YYYY-MM-DD] [--format text|markdown|jsonl|log] [--split file|paragraph|line] [--max-bytes N] [--json]",
  details: [
    "Each input's id is the sha256 of its normalised text; the same text twice is one input (a repeat from",
    "another place is counted). Texts live in the content store; events carry their hash. Binary data,",
    "invalid UTF-8, empty inputs and inputs over --max-bytes (default 262144) are refused with an event",
    "naming the reason. Ingesting the same files again appends nothing.",
    "Defaults: the format from the file name (.md, .jsonl, .log, else text); --split paragraph for text,",
    "file for Markdown, line for logs. JSON Lines records need a string field `text`; other fields are kept.",
  ].join("\n"),
  options: {
    day: { type: "string" },
    format: { type: "string" },
    split: { type: "string" },
    "max-bytes": { type: "string" },
    json: { type: "boolean" },
  },
  run: async (ctx, v, paths) => {
    if (paths.length === 0) throw new UsageError("name at least one file, or - for standard input");
    const format = v.format as InputFormat | undefined;
    if (format && !FORMATS.includes(format)) throw new UsageError(`--format is one of ${FORMATS.join(", ")}`);
    const split = v.split as Split | undefined;
    if (split && !SPLITS.includes(split)) throw new UsageError(`--split is one of ${SPLITS.join(", ")}`);
    const day = (v.day as string | undefined) ?? today();
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new UsageError(`--day takes YYYY-MM-DD, got ${day}`);
    const maxBytes = Number(v["max-bytes"] ?? DEFAULT_MAX_BYTES);
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new UsageError("--max-bytes takes a positive whole number");
    const files: IngestFile[] = [];
    for (const p of paths) {
      if (p === "-") files.push({ path: "-", bytes: await readStdin() });
      else {
        try {
          if (statSync(p).isDirectory()) throw new UsageError(`${p} is a directory; name the files in it (e.g. ${p}/*.log)`);
          files.push({ path: p, bytes: readFileSync(p) });
        } catch (e) {
          if (e instanceof UsageError) throw e;
          throw new UsageError(`cannot read ${p}: ${(e as Error).message}`);
        }
      }
    }
    const rt = await openRuntime(ctx.config, ctx.err);
    try {
      const bar = progress("ingesting");
      const summary = await ingestFiles(
        { store: rt.store, content: new ObjectContentStore(rt.nc, ctx.config.replicas), },
        files,
        { day, maxBytes, correlationId: randomUUID(), onProgress: bar.update, ...(format ? { format } : {}), ...(split ? { split } : {}) },
      );
      bar.done();
      if (v.json) return void ctx.out(JSON.stringify({ day, ...summary }, null, 2));
      ctx.out(`day ${day}: ${summary.received} new input(s), ${summary.repeated} repeat(s) from other places, ${summary.unchanged} already known, ${summary.refused} refused`);
      for (const r of summary.refusals) ctx.out(`  refused ${r.path}${r.index > 0 ? `#${r.index}` : ""}: ${r.reason} (${r.detail})`);
    } finally {
      await rt.close();
    }
  },
});
