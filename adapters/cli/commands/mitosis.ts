import { ActorHost } from "../../../actors/host.ts";
import { mitosisDecider, type MitosisCommand } from "../../../actors/mitosis/mitosis.decider.ts";
import { ApproveMitosis, DeclineMitosis, type CommandDefinition } from "../../../events/commands.ts";
import { NoResponderError, sendCommand } from "../../nats/commands.ts";
import { newCommandId } from "../actors.ts";
import { defineCommand, type CliContext } from "../command.ts";
import { printResult, UsageError } from "../format.ts";
import { openRuntime } from "../runtime.ts";
import { antechamberSettings } from "./antechamber-settings.ts";

/** Sends the command to a running `sophont up`; without one, the Mitosis actor decides it in this process. */
const send = async (ctx: CliContext, def: CommandDefinition, command: MitosisCommand, json: unknown): Promise<number> => {
  const rt = await openRuntime(ctx.config, ctx.err);
  const request = { id: newCommandId(), command };
  try {
    let reply;
    try {
      reply = await sendCommand(rt.nc, def, request, 5_000);
    } catch (e) {
      if (!(e instanceof NoResponderError)) throw e;
      const host = new ActorHost(rt.store, mitosisDecider(antechamberSettings(ctx.config).mitosis));
      await host.start();
      try {
        const events = await host.command({ id: request.id, actor: "cli", command });
        reply = { ok: true as const, events };
      } catch (err) {
        reply = { ok: false as const, refusal: (err as Error).message };
      } finally {
        await host.stop();
      }
    }
    if (!reply.ok) {
      ctx.err(`refused: ${reply.refusal}`);
      return 1;
    }
    const decision = command.type === "ApproveMitosis" ? "approved" : "declined";
    printResult(ctx, json, { proposalId: command.proposalId, decision, seqs: reply.events.map((e) => e.seq) }, () =>
      `${decision} ${command.proposalId} (event seq ${reply.events.map((e) => e.seq).join(", ")})`);
    return 0;
  } finally {
    await rt.close();
  }
};

const proposalOf = (positionals: string[], usage: string): string => {
  if (positionals.length !== 1) throw new UsageError(`${usage}: give exactly one proposal id (see \`sophont antechamber\`)`);
  return positionals[0]!;
};

export const mitosisApprove = defineCommand({
  path: ["mitosis", "approve"],
  summary: "approve a mitosis proposal: its cluster is born as a Satellite Centroid",
  usage: "sophont mitosis approve PROPOSAL_ID [--json]",
  details: [
    "Mitosis proposes a satellite for a cluster of rejected questions found on `mitosis.minNights` nights",
    "that held at least `minMembers` distinct questions over its life, with `minStability`, below `maxSimilarity` to every centroid",
    "(config.json's `mitosis` object; `antechamber` and `drift` tune clustering and drift). With approval",
    "\"auto\" (the default) it is approved at once; with \"command\" (SOPHONT_MITOSIS_APPROVAL=command) it",
    "waits for this command. Outside agents send it on sophont.cmd.mitosis.approve with their own user (`sophont agent add`).",
  ].join("\n"),
  options: { json: { type: "boolean" } },
  run: async (ctx, v, positionals) => send(ctx, ApproveMitosis, { type: "ApproveMitosis", proposalId: proposalOf(positionals, "mitosis approve") }, v.json),
});

export const mitosisDecline = defineCommand({
  path: ["mitosis", "decline"],
  summary: "decline a mitosis proposal: no satellite is born of it",
  usage: "sophont mitosis decline PROPOSAL_ID [--reason TEXT] [--json]",
  details: "Outside agents send the same command on sophont.cmd.mitosis.decline with their own NATS user (`sophont agent add`).",
  options: { reason: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v, positionals) =>
    send(ctx, DeclineMitosis, { type: "DeclineMitosis", proposalId: proposalOf(positionals, "mitosis decline"), reason: (v.reason as string | undefined) ?? "declined from the command line" }, v.json),
});
