import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { Result, Schema } from "effect";
import { CommandRequest, type CommandDefinition, type CommandReply } from "../../events/commands.ts";
import type { Appended } from "../../events/store.ts";
import type { TraceContext } from "../../events/envelope.ts";
import { activeTrace } from "../../events/tracing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

export type CommandHandler = (request: { id: string; correlationId?: string; trace?: TraceContext; command: unknown; sender: string }) => Promise<ReadonlyArray<Appended>>;

/**
 * Answers commands on their subjects: the payload is validated against the command's schema, the
 * handler's events (or its refusal) go back to the sender. A malformed request is refused, never a crash.
 */
export const serveCommands = (nc: NatsConnection, routes: ReadonlyArray<{ def: CommandDefinition; handle: CommandHandler }>): Subscription[] =>
  routes.map(({ def, handle }) => {
    const validate = Schema.decodeUnknownResult(def.schema);
    return nc.subscribe(def.subject, {
      queue: "sophont-commands",
      callback: (_err, msg) => {
        const reply = (r: CommandReply) => msg.respond(enc.encode(JSON.stringify(r)));
        void (async (): Promise<void> => {
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
              sender: msg.headers?.get("Sophont-Sender") || "unknown",
            });
            reply({ ok: true, events: events.map((e) => ({ id: e.id, seq: e.seq, subject: e.subject, duplicate: e.duplicate })) });
          } catch (e) {
            reply({ ok: false, refusal: (e as Error).message });
          }
        })();
      },
    });
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
