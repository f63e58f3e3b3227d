import { userInfo } from "node:os";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { Result, Schema } from "effect";
import { CommandRequest, type CommandDefinition, type CommandReply } from "../../events/commands.ts";
import type { Appended } from "../../events/store.ts";
import type { TraceContext } from "../../events/envelope.ts";
import { activeTrace } from "../../events/tracing.ts";
import { COMMAND_PREFIX } from "../../events/subjects.ts";
import { AGENT_NAME, MCP_ACCOUNT, MCP_COMMAND_PREFIX, agentAccount } from "./accounts.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

export type CommandHandler = (request: { id: string; correlationId?: string; trace?: TraceContext; command: unknown; sender: string }) => Promise<ReadonlyArray<Appended>>;

/** The local user the SOPHONT account's holder runs as: only the home's owner can read its password. */
const localSender = (): string => {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:uid-${process.getuid?.() ?? "unknown"}`;
  }
};

/**
 * Who sent a command, from what the server authenticated, never from a header the client wrote:
 *  - `sophont.cmd.<cmd>`: only users of the SOPHONT account reach it (the local CLI: the home's owner);
 *  - `sophont.cmd.agent.<name>.<cmd>`: only agent <name>'s account imports it; the server also
 *    attaches `Nats-Request-Info` naming that account (`share: true`), which must agree;
 *  - `sophont.cmd.mcp.<cmd>`: the same for the MCP account.
 * Returns a refusal when the subject and the server's account do not agree.
 */
export const senderOf = (msg: Pick<Msg, "subject" | "headers">, local = localSender): { sender: string } | { refusal: string } => {
  const parts = msg.subject.split(".");
  const via = parts[2];
  if (via !== "agent" && via !== "mcp") return { sender: local() };
  let acc: string | undefined;
  try {
    acc = (JSON.parse(msg.headers?.get("Nats-Request-Info") ?? "") as { acc?: string }).acc;
  } catch {
    acc = undefined;
  }
  if (via === "mcp") return acc === MCP_ACCOUNT ? { sender: "mcp" } : { refusal: "a command on the MCP subject must come through the MCP account" };
  const name = parts[3] ?? "";
  if (!AGENT_NAME.test(name) || acc !== agentAccount(name)) return { refusal: `a command for agent ${name} must come from its own account (${agentAccount(name)})` };
  return { sender: `agent:${name}` };
};

/** The subjects a command is served on: the local one, and for agents' commands the agents' and MCP's. */
export const commandSubjects = (def: CommandDefinition): string[] => {
  const local = def.subject;
  if (!def.forAgents) return [local];
  const rest = local.slice(COMMAND_PREFIX.length + 1);
  return [local, `${COMMAND_PREFIX}.agent.*.${rest}`, `${MCP_COMMAND_PREFIX}.${rest}`];
};

/**
 * Answers commands on their subjects: the payload is validated against the command's schema, the
 * handler's events (or its refusal) go back to the sender. A malformed request is refused, never a crash.
 */
export const serveCommands = (nc: NatsConnection, routes: ReadonlyArray<{ def: CommandDefinition; handle: CommandHandler }>): Subscription[] =>
  routes.flatMap(({ def, handle }) => {
    const validate = Schema.decodeUnknownResult(def.schema);
    return commandSubjects(def).map((subject) => nc.subscribe(subject, {
      queue: "sophont-commands",
      callback: (_err, msg) => {
        const reply = (r: CommandReply) => msg.respond(enc.encode(JSON.stringify(r)));
        void (async (): Promise<void> => {
          const who = senderOf(msg);
          if ("refusal" in who) {
            reply({ ok: false, refusal: who.refusal });
            return;
          }
          let req: CommandRequest;
          try {
            req = Schema.decodeUnknownSync(CommandRequest)(JSON.parse(dec.decode(msg.data)));
          } catch (e) {
            reply({ ok: false, refusal: `malformed command request: ${(e as Error).message}` });
            return;
          }
          const cmd = validate(req.command);
          if (Result.isFailure(cmd)) {
            reply({ ok: false, refusal: `invalid ${def.type}: ${cmd.failure.message}` });
            return;
          }
          try {
            const events = await handle({
              id: req.id,
              ...(req.correlationId ? { correlationId: req.correlationId } : {}),
              ...(req.trace ? { trace: req.trace } : {}),
              command: cmd.success,
              sender: who.sender,
            });
            reply({ ok: true, events: events.map((e) => ({ id: e.id, seq: e.seq, subject: e.subject, duplicate: e.duplicate })) });
          } catch (e) {
            reply({ ok: false, refusal: (e as Error).message });
          }
        })();
      },
    }));
  });

export class NoResponderError extends Error {
  override readonly name = "NoResponderError";
}

/** Sends a command and waits for its answer. Rejects with NoResponderError when no actor listens. */
export const sendCommand = async (nc: NatsConnection, def: CommandDefinition, request: CommandRequest, timeoutMs = 30_000): Promise<CommandReply> => {
  const trace = request.trace ?? activeTrace();
  try {
    const m = await nc.request(def.subject, enc.encode(JSON.stringify(trace ? { ...request, trace } : request)), { timeout: timeoutMs });
    return JSON.parse(dec.decode(m.data)) as CommandReply;
  } catch (e) {
    if (/503|no responders/i.test(String((e as Error).message) + String((e as { code?: string }).code ?? ""))) {
      throw new NoResponderError(`no actor answers ${def.subject}; is \`sophont up\` running?`);
    }
    throw e;
  }
};
