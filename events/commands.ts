import { Schema } from "effect";
import { commandSubject } from "./subjects.ts";

/**
 * Commands from outside (CLI, schedule, outside agents): each on its own subject, validated, and
 * answered with the events it caused or a refusal. The README's catalogue is made from this list.
 */
export interface CommandDefinition<T extends string = string, P = unknown> {
  readonly type: T;
  readonly subject: string;
  /** The actor that decides it. */
  readonly actor: string;
  readonly schema: Schema.Codec<P, unknown>;
  readonly description: string;
  /** Whether the `agent` NATS user may send it (nats.conf must agree). */
  readonly forAgents: boolean;
}

const defineCommand = <T extends string, P>(c: CommandDefinition<T, P>): CommandDefinition<T, P> => c;

export const StartNight = defineCommand({
  type: "StartNight",
  subject: commandSubject("night.start"),
  actor: "soul",
  schema: Schema.Struct({
    type: Schema.Literal("StartNight"),
    day: Schema.String,
    trigger: Schema.Literals(["cli", "schedule", "agent"]),
    /** When the night must stop (ISO time; config.json `night.deadline`): what is undecided then waits for the next night. */
    deadlineAt: Schema.optional(Schema.String),
  }),
  description: "Open the night of a day: Salience scores every input received up to now, until the night's deadline if it has one.",
  forAgents: false,
});

export const ApproveMitosis = defineCommand({
  type: "ApproveMitosis",
  subject: commandSubject("mitosis.approve"),
  actor: "mitosis",
  schema: Schema.Struct({ type: Schema.Literal("ApproveMitosis"), proposalId: Schema.String }),
  description: "Approve a mitosis proposal: its cluster is born as a Satellite Centroid.",
  forAgents: true,
});

export const DeclineMitosis = defineCommand({
  type: "DeclineMitosis",
  subject: commandSubject("mitosis.decline"),
  actor: "mitosis",
  schema: Schema.Struct({ type: Schema.Literal("DeclineMitosis"), proposalId: Schema.String, reason: Schema.String }),
  description: "Decline a mitosis proposal: no satellite is born of it.",
  forAgents: true,
});

export const ForgetInput = defineCommand({
  type: "ForgetInput",
  subject: commandSubject("input.forget"),
  actor: "soul",
  schema: Schema.Struct({ type: Schema.Literal("ForgetInput"), inputId: Schema.String, reason: Schema.String }),
  description: "Forget an input: its texts leave the content store and every projection; the log keeps hashes and scores.",
  forAgents: false,
});

export const commands = [StartNight, ForgetInput, ApproveMitosis, DeclineMitosis] as const;

/** What a command request carries on the wire. */
export const CommandRequest = Schema.Struct({
  id: Schema.String,
  correlationId: Schema.optional(Schema.String),
  /** The sender's W3C trace context: the command's span joins the sender's trace. */
  trace: Schema.optional(Schema.Struct({ traceparent: Schema.String, tracestate: Schema.optional(Schema.String) })),
  command: Schema.Unknown,
});
export type CommandRequest = typeof CommandRequest.Type;

/** The answer: the events the command caused, or why it was refused. */
export type CommandReply =
  | { readonly ok: true; readonly events: ReadonlyArray<{ readonly id: string; readonly seq: number; readonly subject: string; readonly duplicate: boolean }> }
  | { readonly ok: false; readonly refusal: string };
