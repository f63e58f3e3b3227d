import { describe, expect, it } from "vitest";
import { Result, Schema } from "effect";
import { checkOf } from "../../events/fast-check.ts";
import { definitions } from "../../events/catalogue.ts";

const S = Schema.Struct({
  s: Schema.String,
  n: Schema.Finite,
  b: Schema.Boolean,
  l: Schema.Literals(["a", "b"]),
  o: Schema.optional(Schema.String),
  z: Schema.NullOr(Schema.Struct({ x: Schema.Finite })),
  v: Schema.Array(Schema.Finite),
  r: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
});
const good = { s: "x", n: 1.5, b: true, l: "a", z: null, v: [1, 2], r: { any: [1] } };
const variants: unknown[] = [
  good,
  { ...good, o: "y", z: { x: 3 } },
  { ...good, n: Number.NaN },
  { ...good, n: Infinity },
  { ...good, n: "1" },
  { ...good, l: "c" },
  { ...good, z: { x: "3" } },
  { ...good, v: [1, "2"] },
  { ...good, o: 3 },
  { ...good, o: undefined },
  { ...good, extra: "kept" },
  (({ s: _s, ...rest }) => rest)(good),
  null,
  [good],
  "text",
];

describe("compiled payload checks", () => {
  it("agree with Effect's decoder on every variant (true only where Effect accepts)", () => {
    const fast = checkOf(S)!;
    const effect = Schema.decodeUnknownResult(S as never);
    for (const v of variants) expect([JSON.stringify(v), fast(v)]).toEqual([JSON.stringify(v), Result.isSuccess(effect(v))]);
  });

  it("cover every event type's schema", () => {
    expect(definitions.filter((d) => checkOf(d.schema) === null).map((d) => d.type)).toEqual([]);
  });

  it("hand schemas with checks they do not know back to Effect", () => {
    expect(checkOf(Schema.String.check(Schema.isMinLength(3)))).toBeNull();
  });
});
