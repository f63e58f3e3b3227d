// Every NATS name Sophont uses lives here, and only here.

/** The one immutable log: a JetStream stream on file storage. */
export const EVENT_STREAM = "SOPHONT_EVENTS";
export const EVENT_PREFIX = "sophont.evt";
/** Messages on event subjects that could not be decoded, with the reason. */
export const QUARANTINE_STREAM = "SOPHONT_QUARANTINE";
export const QUARANTINE_PREFIX = "sophont.quarantine";
/** Commands from outside (CLI, agents): request/reply, answered with the events they caused. */
export const COMMAND_PREFIX = "sophont.cmd";
/** Projection checkpoints `{ version, lastSeq, state }`, one key per projection. */
export const CHECKPOINT_BUCKET = "sophont_checkpoints";
/** Checkpoint states too large for one KV value, chunked in an object store; the KV entry points at them. */
export const CHECKPOINT_BLOB_BUCKET = "sophont_checkpoint_states";
/** Content-addressed store (texts over the inline limit, datasets, adapters) keyed by sha256. */
export const CONTENT_BUCKET = "sophont_content";

/** Entity ids become one subject token: letters, digits, `-`, `_`, `:` and `=` only. */
const TOKEN = /^[A-Za-z0-9_\-:=]{1,200}$/;

export const isSubjectToken = (s: string): boolean => TOKEN.test(s);

/** `sophont.evt.<family>.<entityId>`: per-entity concurrency and dedup come from the server. */
export const eventSubject = (family: string, entityId: string): string => {
  if (!isSubjectToken(family) || !isSubjectToken(entityId)) {
    throw new Error(`not a valid subject token: family=${JSON.stringify(family)} entity=${JSON.stringify(entityId)}`);
  }
  return `${EVENT_PREFIX}.${family}.${entityId}`;
};

/** The family of an event subject, or undefined for a subject outside the event space. */
export const parseEventSubject = (subject: string): { family: string; entityId: string } | undefined => {
  const parts = subject.split(".");
  if (parts.length !== 4 || `${parts[0]}.${parts[1]}` !== EVENT_PREFIX) return undefined;
  return { family: parts[2]!, entityId: parts[3]! };
};

export const familySubjects = (family: string): string => `${EVENT_PREFIX}.${family}.>`;
export const allEventSubjects = `${EVENT_PREFIX}.>`;
export const quarantineSubject = (stream: string, seq: number): string => `${QUARANTINE_PREFIX}.${stream}.${seq}`;
export const commandSubject = (name: string): string => `${COMMAND_PREFIX}.${name}`;
