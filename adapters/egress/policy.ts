// The airlock's policy: what may leave Node A, per destination; which inputs are private; which
// rules redact. Read from config.json's `airlock` object, validated key by key, and versioned by a
// hash of its values, so every egress names the policy it obeyed and a change shows in the log.
import { createHash } from "node:crypto";
import { EGRESS_DESTINATIONS, EGRESS_MODES, type Destination, type EgressMode } from "../../events/egress.ts";
import { BUILTIN_RULES, type RedactionRule } from "./redact.ts";

export interface AirlockPolicy {
  /** `airlock-` and 12 hex digits of the sha256 of the values below. */
  readonly version: string;
  readonly destinations: Readonly<Record<Destination, EgressMode>>;
  /** Inputs whose source path matches one of these globs are private. */
  readonly privatePaths: readonly string[];
  /** A JSONL record with this field set to true is private (null: no such field). */
  readonly privateField: string | null;
  /** Built-in rules, then the user's. */
  readonly rules: readonly RedactionRule[];
}

export class AirlockPolicyError extends Error {
  override readonly name = "AirlockPolicyError";
}

/** Safe by default: every destination gets redacted texts; nothing is private until marked. */
export const DEFAULT_DESTINATIONS: Readonly<Record<Destination, EgressMode>> = {
  "gpu-host": "redacted",
  judge: "redacted",
  otlp: "redacted",
  "nats-remote": "redacted",
  agents: "redacted",
};

const versionOf = (p: Omit<AirlockPolicy, "version">): string =>
  `airlock-${createHash("sha256").update(JSON.stringify([EGRESS_DESTINATIONS.map((d) => p.destinations[d]), p.privatePaths, p.privateField, p.rules.map((r) => [r.name, r.pattern, r.flags ?? ""])])).digest("hex").slice(0, 12)}`;

const policyOf = (p: Omit<AirlockPolicy, "version">): AirlockPolicy => ({ ...p, version: versionOf(p) });

export const defaultAirlock: AirlockPolicy = policyOf({ destinations: DEFAULT_DESTINATIONS, privatePaths: [], privateField: null, rules: BUILTIN_RULES });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const fail = (where: string, what: string, got: unknown): never => {
  throw new AirlockPolicyError(`airlock.${where} must be ${what}, got ${(JSON.stringify(got) ?? String(got)).slice(0, 60)}`);
};

const destinationsFrom = (raw: unknown): Record<Destination, EgressMode> => {
  if (raw === undefined) return { ...DEFAULT_DESTINATIONS };
  if (!isObject(raw)) return fail("destinations", "an object", raw);
  const out = { ...DEFAULT_DESTINATIONS };
  for (const [k, v] of Object.entries(raw)) {
    if (!(EGRESS_DESTINATIONS as readonly string[]).includes(k)) throw new AirlockPolicyError(`airlock.destinations: unknown destination ${JSON.stringify(k.slice(0, 40))}; known: ${EGRESS_DESTINATIONS.join(", ")}`);
    if (!(EGRESS_MODES as readonly string[]).includes(v as string)) fail(`destinations.${k}`, EGRESS_MODES.map((m) => `"${m}"`).join(", ").replace(/, ([^,]*)$/, " or $1"), v);
    out[k as Destination] = v as EgressMode;
  }
  return out;
};

const rulesFrom = (raw: unknown): RedactionRule[] => {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) return fail("rules", "a list of { name, pattern, flags? }", raw);
  return raw.map((r, i) => {
    if (!isObject(r) || typeof r.name !== "string" || !/^[a-z0-9][a-z0-9-]{0,39}$/.test(r.name)) return fail(`rules[${i}].name`, "a short lower-case name (a-z, 0-9, -)", isObject(r) ? r.name : r);
    if (typeof r.pattern !== "string" || r.pattern.length === 0) return fail(`rules[${i}].pattern`, "a regular expression (a non-empty string)", r.pattern);
    const flags = r.flags === undefined ? "" : r.flags;
    if (typeof flags !== "string" || !/^[imsu]*$/.test(flags)) return fail(`rules[${i}].flags`, "some of i, m, s, u", r.flags);
    try {
      new RegExp(r.pattern, `g${flags}`);
    } catch (e) {
      throw new AirlockPolicyError(`airlock.rules[${i}].pattern is not a valid regular expression: ${(e as Error).message}`);
    }
    if (new RegExp(r.pattern, flags).test("")) throw new AirlockPolicyError(`airlock.rules[${i}].pattern matches the empty string; it would redact nothing and loop`);
    return { name: r.name, pattern: r.pattern, ...(flags ? { flags } : {}), builtin: false };
  });
};

/** The policy from config.json's `airlock` (absent: the defaults). Throws AirlockPolicyError naming the bad key. */
export const airlockFrom = (raw: unknown): AirlockPolicy => {
  if (raw === undefined) return defaultAirlock;
  if (!isObject(raw)) return fail("", "an object", raw);
  const known = ["destinations", "private", "rules"];
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length) throw new AirlockPolicyError(`unknown airlock setting(s): ${unknown.join(", ")}; known: ${known.join(", ")}`);
  const priv = raw.private === undefined ? {} : raw.private;
  if (!isObject(priv)) return fail("private", "an object { paths?, field? }", priv);
  const extra = Object.keys(priv).filter((k) => k !== "paths" && k !== "field");
  if (extra.length) throw new AirlockPolicyError(`unknown airlock.private setting(s): ${extra.join(", ")}; known: paths, field`);
  const paths = priv.paths === undefined ? [] : priv.paths;
  if (!Array.isArray(paths) || !paths.every((g) => typeof g === "string" && g.length > 0)) return fail("private.paths", "a list of path globs (e.g. \"**/diary/*.md\")", paths);
  const field = priv.field === undefined ? null : priv.field;
  if (field !== null && (typeof field !== "string" || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(field))) return fail("private.field", "a JSONL field name", field);
  const user = rulesFrom(raw.rules);
  const clash = user.find((r) => BUILTIN_RULES.some((b) => b.name === r.name));
  if (clash) throw new AirlockPolicyError(`airlock.rules: "${clash.name}" is a built-in rule's name; give yours another`);
  return policyOf({ destinations: destinationsFrom(raw.destinations), privatePaths: paths as string[], privateField: field, rules: [...BUILTIN_RULES, ...user] });
};

/** The policy as AirlockPolicySet records it. */
export const policyRecord = (p: AirlockPolicy) => ({
  version: p.version,
  destinations: { ...p.destinations },
  private: { paths: [...p.privatePaths], field: p.privateField },
  rules: p.rules.map((r) => ({ name: r.name, pattern: r.pattern, builtin: r.builtin })),
});

/** A glob over `/`-separated paths: `**` any depth, `*` within one segment, `?` one character. */
export const globMatches = (glob: string, path: string): boolean => {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      re += glob[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  const normalised = path.replace(/\\/g, "/");
  const rx = new RegExp(`^${re}$`);
  // A relative glob also matches at the end of an absolute path (`diary/*.md` matches `/home/u/diary/a.md`).
  return rx.test(normalised) || (!glob.startsWith("/") && new RegExp(`(^|/)${re}$`).test(normalised));
};

/** Why a source path is private under this policy, or undefined. */
export const privatePathMatch = (p: AirlockPolicy, path: string): string | undefined => p.privatePaths.find((g) => globMatches(g, path));
