import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { EVENT_STREAM, familySubjects, parseEventSubject } from "../../events/subjects.ts";
import { resolveId, UsageError } from "./format.ts";

/** The entity ids of one family that have events (the stream's own subject index: no read of the log). */
export const entityIds = async (nc: NatsConnection, family: string): Promise<string[]> => {
  const info = await (await jetstreamManager(nc)).streams.info(EVENT_STREAM, { subjects_filter: familySubjects(family) });
  return Object.keys(info.state.subjects ?? {}).flatMap((s) => parseEventSubject(s)?.entityId ?? []);
};

/** An input id as typed (the 64 hex digits, or the 12 printed everywhere): the whole id, or a refusal with the candidates. */
export const resolveInputId = async (nc: NatsConnection, typed: string): Promise<string> => {
  if (!/^[0-9a-f]{1,64}$/.test(typed)) throw new UsageError(`an input id is hex digits (the sha256 of its text, or its first 12 characters); got ${JSON.stringify(typed)}`);
  if (typed.length === 64) return typed;
  return resolveId(typed, await entityIds(nc, "input"), "input", " (see `sophont events tail --type InputReceived`)");
};
