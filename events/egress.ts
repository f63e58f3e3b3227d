import { Schema } from "effect";
import { defineEvent } from "./define.ts";

/** Where something may leave Node A for: the airlock's destinations. */
export const EGRESS_DESTINATIONS = ["gpu-host", "judge", "otlp", "nats-remote", "agents"] as const;
export const Destination = Schema.Literals(EGRESS_DESTINATIONS);
export type Destination = (typeof EGRESS_DESTINATIONS)[number];

/** What a destination may receive: texts as they are, texts with secrets redacted, or no text at all. */
export const EGRESS_MODES = ["raw", "redacted", "nothing"] as const;
export const EgressMode = Schema.Literals(EGRESS_MODES);
export type EgressMode = (typeof EGRESS_MODES)[number];

/** Matches per redaction rule (rule name -> count). */
const Counts = Schema.Record(Schema.String, Schema.Finite);

export const AirlockPolicySet = defineEvent({
  type: "AirlockPolicySet",
  family: "egress",
  description:
    "The privacy airlock's policy as it was first used: its version (a hash of the values), the mode per destination, the private-input rules and the redaction rules. Every egress names the version it obeyed.",
  schema: Schema.Struct({
    version: Schema.String,
    destinations: Schema.Record(Schema.String, EgressMode),
    private: Schema.Struct({ paths: Schema.Array(Schema.String), field: Schema.NullOr(Schema.String) }),
    rules: Schema.Array(Schema.Struct({ name: Schema.String, pattern: Schema.String, builtin: Schema.Boolean })),
  }),
  entity: (d) => d.version,
});

export const InputMarkedPrivate = defineEvent({
  type: "InputMarkedPrivate",
  family: "privacy",
  description:
    "An input was marked private at ingest (by --private, a path glob of the airlock, or a JSONL field): its text and what is derived from it never leave Node A.",
  schema: Schema.Struct({
    inputId: Schema.String,
    by: Schema.Literals(["flag", "path", "field"]),
    /** The glob or field that matched (or "--private"). */
    detail: Schema.String,
  }),
  entity: (d) => d.inputId,
});

export const EgressRecorded = defineEvent({
  type: "EgressRecorded",
  family: "egress",
  description:
    "Something left Node A through the airlock (or was held back by it): destination, target, bytes, sha256 of exactly what was sent, the policy version and mode, redactions per rule, inputs withheld.",
  schema: Schema.Struct({
    egressId: Schema.String,
    destination: Destination,
    /** Host name, URL without credentials, or agent scope: never a secret. */
    target: Schema.String,
    /** Why it left, in words (the job, the input, the export). */
    purpose: Schema.String,
    mode: EgressMode,
    policyVersion: Schema.String,
    bytes: Schema.Finite,
    /** sha256 of the bytes sent (of nothing: e3b0c442...). */
    sha256: Schema.String,
    redactions: Counts,
    /** Texts that did not leave: private inputs, or all texts under "nothing". */
    withheld: Schema.Finite,
    /** Texts that left (redacted or raw). */
    texts: Schema.Finite,
  }),
  entity: (d) => d.egressId,
});

export const egressDefinitions = [AirlockPolicySet, InputMarkedPrivate, EgressRecorded] as const;
