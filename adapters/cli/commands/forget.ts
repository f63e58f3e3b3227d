import { ForgetInput } from "../../../events/commands.ts";
import { NoResponderError, sendCommand } from "../../nats/commands.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";
import { defineCommand } from "../command.ts";
import { printResult, UsageError } from "../format.ts";
import { resolveInputId } from "../ids.ts";
import { openRuntime } from "../runtime.ts";
import { newCommandId, startActors } from "../actors.ts";

export const forget = defineCommand({
  path: ["forget"],
  summary: "forget an input: its texts leave the content store and every projection; the log keeps hashes and scores",
  usage: "sophont forget INPUT_ID [--reason TEXT] [--json]",
  details: [
    "Appends InputForgotten (decided by the Soul), then deletes the input's text, prompt and correction",
    "from the content store. Ledgers drop it; the audit of every adapter trained on it says so.",
  ].join("\n"),
  options: { reason: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v, args): Promise<number> => {
    if (args.length !== 1) throw new UsageError("name one input id (the sha256 of its text, or its first 12 characters)");
    const rt = await openRuntime(ctx.config, ctx.err);
    let local: Awaited<ReturnType<typeof startActors>> | undefined;
    try {
      const inputId = await resolveInputId(rt.nc, args[0]!);
      const request = { id: newCommandId(), command: { type: "ForgetInput", inputId, reason: (v.reason as string | undefined) ?? "asked by a person" } };
      let reply;
      try {
        reply = await sendCommand(rt.nc, ForgetInput, request, 5_000);
      } catch (e) {
        if (!(e instanceof NoResponderError)) throw e;
        local = await startActors(rt);
        reply = await sendCommand(rt.nc, ForgetInput, request);
      }
      if (!reply.ok) {
        ctx.err(`refused: ${reply.refusal}`);
        return 1;
      }
      const seq = reply.events[0]!.seq;
      // The reactor deletes the texts once the event is a fact; wait for it to finish.
      const content = new ObjectContentStore(rt.nc);
      const ev = (await (async () => {
        for await (const e of rt.store.read({ from: { seq }, until: { seq } })) return e;
        return undefined;
      })())!;
      const shas = ev.type === "InputForgotten" ? ev.data.deletedSha256 : [];
      for (let i = 0; i < 100 && (await Promise.all(shas.map((s) => content.has(s)))).some(Boolean); i++) await new Promise((r) => setTimeout(r, 100));
      const left = (await Promise.all(shas.map((s) => content.has(s)))).filter(Boolean).length;
      printResult(ctx, v.json, { inputId, seq, deleted: shas.length - left, pending: left }, () =>
        left === 0 ? `forgotten: ${inputId} (event seq ${seq}; ${shas.length} text(s) deleted)` : `InputForgotten recorded (seq ${seq}); ${left} text(s) still to delete: \`sophont up\` finishes it`);
      return 0;
    } finally {
      await local?.stop();
      await rt.close();
    }
  },
});
