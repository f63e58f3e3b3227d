import { ForgetInput } from "../../../events/commands.ts";
import { NoResponderError, sendCommand } from "../../nats/commands.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";
import { defineCommand } from "../command.ts";
import { printResult, UsageError } from "../format.ts";
import { resolveInputId } from "../ids.ts";
import { openRuntime } from "../runtime.ts";
import { newCommandId, startActors } from "../actors.ts";
import { FORGET_DURABLE } from "../../../actors/soul/forget.reactor.ts";
import type { Subscription } from "../../../events/store.ts";
import { describeHeal, healCopies, pendingCopies, recordStaleCopies } from "../heal-copies.ts";

/** True once `sub`'s consumer has acknowledged `seq` (polled for at most `ms`). */
const handledBy = async (sub: Subscription, seq: number, ms: number): Promise<boolean> => {
  for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 100))) {
    if ((await sub.ackFloor().catch(() => 0)) >= seq) return true;
    if (Date.now() > end) return false;
  }
};

export const forget = defineCommand({
  path: ["forget"],
  summary: "forget an input: its texts leave the content store and every projection; the log keeps hashes and scores",
  usage: "sophont forget INPUT_ID [--reason TEXT] [--json]",
  details: [
    "Appends InputForgotten (decided by the Soul), then deletes the input's text, prompt and correction",
    "from the content store (erased on disk; on a cluster also from every node's Raft log) and waits for",
    "it. Ledgers drop it; the audit of every adapter trained on it says so. A cluster node that was down or",
    "behind missed the erase: ContentCopyStale records it, and its copy of the content store is rebuilt from the",
    "live messages once it is back (here if it is back already, else by `sophont up` or `sophont cluster heal`).",
  ].join("\n"),
  options: { reason: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v, args): Promise<number> => {
    if (args.length !== 1) throw new UsageError("name one input id (the sha256 of its text, or its first 12 characters)");
    const rt = await openRuntime(ctx.config, ctx.err);
    let local: Awaited<ReturnType<typeof startActors>> | undefined;
    try {
      const inputId = await resolveInputId(rt.nc, args[0]!);
      const content = new ObjectContentStore(rt.nc);
      // A node behind as the forget begins may catch up from the leader's snapshot meanwhile, and be
      // current by its end without having applied the erase: it is recorded as well.
      const before = await content.replicasBehind(0).catch(() => []);
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
      const ev = (await (async () => {
        for await (const e of rt.store.read({ from: { seq }, until: { seq } })) return e;
        return undefined;
      })())!;
      const shas = ev.type === "InputForgotten" ? ev.data.deletedSha256 : [];
      // The reactor deletes the texts once the event is a fact (on a cluster it then compacts every
      // node's Raft log) and acks only after: wait for its ack floor to pass the event.
      const done = await handledBy(rt.store.subscribe({ durable: FORGET_DURABLE }), seq, 30_000);
      const left = done ? (await Promise.all(shas.map((s) => content.has(s)))).filter(Boolean).length : shas.length;
      const behind = done ? await content.replicasBehind().catch(() => []) : [];
      // A node that missed the erase keeps the text in its block file once it catches up: that is
      // recorded, and its copy rebuilt at once if it is back already (else by `up`, or a person).
      const missed = done ? before.filter((n) => !behind.includes(n)) : [];
      await recordStaleCopies(rt.store, behind, inputId, `not current when the forget of ${inputId} ended: it missed the erase`, "cli");
      await recordStaleCopies(rt.store, missed, inputId, `not current when the forget of ${inputId} began: it may have caught up from the leader's snapshot, without the erase`, "cli");
      const healed = await healCopies(rt.nc, rt.store, await pendingCopies(rt.store), { by: "forget", actor: "cli" });
      const waiting = healed.filter((h) => h.outcome !== "rebuilt").map((h) => h.node);
      if (!v.json) for (const h of healed) ctx.err(h.outcome === "rebuilt" ? describeHeal(h) : `warning: ${describeHeal(h)}`);
      if (waiting.length > 0 && !v.json) ctx.err(`warning: ${waiting.join(", ")} missed the erase: the text leaves its index when it catches up but stays in its block file until its copy is rebuilt, which \`sophont up\` does once it is back (or \`sophont cluster heal\`)`);
      printResult(ctx, v.json, { inputId, seq, deleted: shas.length - left, pending: left, behind, stale: [...behind, ...missed], heal: healed }, () =>
        left === 0 ? `forgotten: ${inputId} (event seq ${seq}; ${shas.length} text(s) deleted)` : `InputForgotten recorded (seq ${seq}); ${left} text(s) still to delete: \`sophont up\` finishes it`);
      return 0;
    } finally {
      await local?.stop();
      await rt.close();
    }
  },
});
