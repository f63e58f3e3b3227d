import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { ApproveMitosis, DeclineMitosis } from "../../events/commands.ts";
import type { EventStore } from "../../events/store.ts";
import { eventSubject } from "../../events/subjects.ts";
import { projectAt } from "../../projections/runner.ts";
import { ledgers } from "../../projections/ledgers.projection.ts";
import { centroids } from "../../projections/centroids.projection.ts";
import { sendCommand } from "../nats/commands.ts";
import type { Tool } from "./protocol.ts";

const position = (at: unknown) => (at === undefined ? "now" : /^\d+$/.test(String(at)) ? { seq: Number(at) } : { time: new Date(String(at)) });
const atSchema = { type: "string", description: "a stream sequence (42) or an ISO time: the state as it was then; default now" };

/** The tools Sophont offers an agent client: reads of the log and its projections, and mitosis decisions. */
export const sophontTools = (deps: { store: EventStore; nc: NatsConnection; sender: string }): Tool[] => [
  {
    name: "events_tail",
    description: "The latest events of Sophont's log (decisions with their scores, thresholds and hashes).",
    inputSchema: { type: "object", properties: { last: { type: "number", description: "how many (default 20, at most 500)" }, types: { type: "array", items: { type: "string" } } } },
    call: async (a) => {
      const last = Math.min(500, Number(a.last ?? 20));
      const from = Math.max(1, (await deps.store.lastSeq()) - last + 1);
      const types = Array.isArray(a.types) ? new Set(a.types.map(String)) : undefined;
      const out = [];
      for await (const e of deps.store.read({ from: { seq: from }, ...(types ? { types } : {}) })) out.push({ seq: e.seq, type: e.type, time: e.metadata.time, actor: e.metadata.actor, data: e.data });
      return out;
    },
  },
  {
    name: "ledger",
    description: "An entry list of the SFT Ledger, the Shadow Ledger or the Golden Anchor set (ids, hashes, scores).",
    inputSchema: { type: "object", properties: { which: { type: "string", enum: ["sft", "shadow", "anchor"] }, at: atSchema }, required: ["which"] },
    call: async (a) => {
      const l = await projectAt(deps.store, ledgers, position(a.at));
      const which = String(a.which);
      if (!["sft", "shadow", "anchor"].includes(which)) throw new Error("which is sft, shadow or anchor");
      return [...l[which as "sft" | "shadow" | "anchor"].values()];
    },
  },
  {
    name: "centroids",
    description: "The Preoccupation and Satellite Centroids: how many seeds and accepted questions, and their history length.",
    inputSchema: { type: "object", properties: { at: atSchema } },
    call: async (a) =>
      Object.values(await projectAt(deps.store, centroids, position(a.at))).map((c) => ({ id: c.id, kind: c.kind, seeds: c.seeds, accepted: c.accepted, bornSeq: c.bornSeq, nights: c.history.length })),
  },
  {
    name: "audit_input",
    description: "The life of one input: received, scored, decided (with thresholds and model hashes), forgotten.",
    inputSchema: { type: "object", properties: { inputId: { type: "string" } }, required: ["inputId"] },
    call: async (a) => {
      const out = [];
      for await (const e of deps.store.read({ subject: eventSubject("input", String(a.inputId)) })) out.push({ seq: e.seq, type: e.type, actor: e.metadata.actor, time: e.metadata.time, data: e.data });
      if (out.length === 0) throw new Error(`no input ${String(a.inputId)}`);
      return out;
    },
  },
  {
    name: "mitosis_approve",
    description: "Approve a proposed mitosis: the cluster becomes a Satellite Centroid. Answered with the events it caused, or a refusal.",
    inputSchema: { type: "object", properties: { proposalId: { type: "string" } }, required: ["proposalId"] },
    call: async (a) => sendCommand(deps.nc, ApproveMitosis, { id: randomUUID(), command: { type: "ApproveMitosis", proposalId: String(a.proposalId) } }, 15_000),
  },
  {
    name: "mitosis_decline",
    description: "Decline a proposed mitosis, with a reason.",
    inputSchema: { type: "object", properties: { proposalId: { type: "string" }, reason: { type: "string" } }, required: ["proposalId", "reason"] },
    call: async (a) => sendCommand(deps.nc, DeclineMitosis, { id: randomUUID(), command: { type: "DeclineMitosis", proposalId: String(a.proposalId), reason: String(a.reason) } }, 15_000),
  },
];
