import { defineCommand } from "../command.ts";
import { eventJson, eventLine, parsePosition } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { definitions } from "../../../events/catalogue.ts";
import { UsageError } from "../format.ts";

export const eventsTail = defineCommand({
  path: ["events", "tail"],
  summary: "print events from the log (the last 20 by default), optionally following new ones",
  usage: "sophont events tail [--from SEQ|TIME] [--last N] [--type T[,T...]] [--json] [--follow]",
  details: [
    "SEQ is a stream sequence (42); TIME an ISO time (2026-11-25T02:00:00Z) or a duration back from now (2h, 3d).",
    "--last N counts the events shown: with --type, the last N of those types.",
    "--json prints one JSON object per event with its envelope (id, causation, correlation, trace).",
  ].join("\n"),
  options: {
    from: { type: "string" },
    last: { type: "string" },
    type: { type: "string", multiple: true },
    json: { type: "boolean" },
    follow: { type: "boolean", short: "f" },
  },
  run: async (ctx, v) => {
    const known = new Set<string>(definitions.map((d) => d.type));
    const types = v.type ? new Set((v.type as string[]).flatMap((t) => t.split(","))) : undefined;
    for (const t of types ?? []) if (!known.has(t)) throw new UsageError(`unknown event type ${t}; known: ${[...known].join(", ")}`);
    let from = v.from ? parsePosition(v.from as string, "--from") : undefined;
    const last = Number(v.last ?? 20);
    if (!Number.isInteger(last) || last < 0) throw new UsageError(`--last takes a whole number, got ${v.last}`);
    const rt = await openRuntime(ctx.config);
    try {
      const print = v.json ? eventJson : eventLine;
      const filter = types ? { types } : {};
      if (!from && types) {
        // --last counts the events of those types: filter first, then keep the last N.
        const end = await rt.store.lastSeq();
        const kept: Parameters<typeof print>[0][] = [];
        if (end > 0 && last > 0) {
          for await (const e of rt.store.read({ until: { seq: end }, signal: ctx.signal, ...filter })) {
            kept.push(e);
            if (kept.length > last) kept.shift();
          }
        }
        for (const e of kept) ctx.out(print(e));
        if (v.follow !== true) return;
        from = { seq: end + 1 };
      }
      from ??= { seq: Math.max(1, (await rt.store.lastSeq()) - last + 1) };
      for await (const e of rt.store.read({ from, follow: v.follow === true, signal: ctx.signal, ...filter })) ctx.out(print(e));
    } finally {
      await rt.close();
    }
  },
});
