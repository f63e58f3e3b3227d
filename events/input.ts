import { Schema } from "effect";
import { defineEvent } from "./define.ts";

/** Where an input came from: file path (or "-"), format, and its place in that file. */
export const InputSource = Schema.Struct({
  path: Schema.String,
  format: Schema.Literals(["text", "markdown", "jsonl", "log"]),
  index: Schema.Finite,
  metadata: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
});

export const InputReceived = defineEvent({
  type: "InputReceived",
  family: "input",
  description:
    "A text was taken in. Its id is the sha256 of the normalised text; the text itself lives in the content store.",
  schema: Schema.Struct({
    inputId: Schema.String,
    day: Schema.String,
    source: InputSource,
    bytes: Schema.Finite,
    /** sha256 of the text in the content store; absent once the input is forgotten. */
    contentSha256: Schema.String,
  }),
  entity: (d) => d.inputId,
});

export const InputRefused = defineEvent({
  type: "InputRefused",
  family: "refusal",
  description: "An input could not be taken in (binary, invalid UTF-8, empty, over the hard maximum): the reason.",
  schema: Schema.Struct({
    refusalId: Schema.String,
    day: Schema.String,
    source: InputSource,
    reason: Schema.Literals(["binary", "invalid-utf8", "empty", "too-large", "malformed"]),
    detail: Schema.String,
    bytes: Schema.Finite,
  }),
  entity: (d) => d.refusalId,
});

export const InputRepeated = defineEvent({
  type: "InputRepeated",
  family: "input",
  description: "A text already taken in arrived again from another source: counted, not stored twice.",
  schema: Schema.Struct({
    inputId: Schema.String,
    day: Schema.String,
    source: InputSource,
  }),
  entity: (d) => d.inputId,
});

export const InputForgotten = defineEvent({
  type: "InputForgotten",
  family: "input",
  description:
    "A person asked to forget an input: its texts left the content store and every projection; the log keeps only hashes and scores.",
  schema: Schema.Struct({
    inputId: Schema.String,
    /** The hashes whose content was deleted (text, prompt, correction). */
    deletedSha256: Schema.Array(Schema.String),
    reason: Schema.String,
    requestedBy: Schema.String,
  }),
  entity: (d) => d.inputId,
});

export const InputDropped = defineEvent({
  type: "InputDropped",
  family: "input",
  description:
    "An input of a night's window that could not be judged: forgotten before it was scored, or its text missing from the content store. Decided with the reason; counted apart from rejections.",
  schema: Schema.Struct({
    inputId: Schema.String,
    nightId: Schema.String,
    cause: Schema.Literals(["forgotten", "missing-content"]),
    detail: Schema.String,
  }),
  entity: (d) => d.inputId,
});
