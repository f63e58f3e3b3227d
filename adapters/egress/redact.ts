// Redaction: rules that find secrets and personal data in a text and replace each match with
// `[REDACTED:<rule>]`. Built-in rules first (private keys before tokens, tokens before e-mail, ...),
// then the user's from config.json. Pure: the same text and rules give the same result.

/** One rule: a name (what the marker says) and a regular expression (always applied globally). */
export interface RedactionRule {
  readonly name: string;
  readonly pattern: string;
  readonly flags?: string;
  readonly builtin: boolean;
}

export interface Redacted {
  readonly text: string;
  /** Matches per rule; rules that matched nothing are absent. */
  readonly counts: Readonly<Record<string, number>>;
}

/**
 * The built-in rules, in the order they run. Each is broad on purpose: a false positive costs a word
 * of training text, a false negative leaks a secret.
 */
export const BUILTIN_RULES: readonly RedactionRule[] = [
  { name: "private-key", pattern: String.raw`-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)`, builtin: true },
  // Tokens with a known shape: OpenAI/Anthropic sk-..., GitHub, Slack, AWS access keys, Google API keys, JWTs.
  { name: "api-key", pattern: String.raw`\b(sk-(ant-)?[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})`, builtin: true },
  // A secret named as such: `api_key=...`, `token: ...`, `password=...`, `Authorization: Bearer ...`.
  { name: "token", pattern: String.raw`\b((api[_-]?key|access[_-]?key|secret([_-]?key)?|token|passw(or)?d|pwd|auth)["']?\s*[:=]\s*["']?|bearer\s+)[^\s"',;]{6,}`, flags: "i", builtin: true },
  { name: "email", pattern: String.raw`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`, builtin: true },
  { name: "ipv6", pattern: String.raw`(?<![\w:])(?=[0-9A-Fa-f:]*::|([0-9A-Fa-f]{1,4}:){7})[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}(?![\w:])`, builtin: true },
  { name: "ipv4", pattern: String.raw`\b(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\b`, builtin: true },
  // Phone numbers: an optional +country code, then 7 to 15 digits in groups split by spaces, dots,
  // dashes or parentheses. Bare digit runs under 7 (years, counts) are left alone.
  { name: "phone", pattern: String.raw`(?<![\w.])(\+\d{1,3}[\s.-]?)?(\(\d{1,4}\)[\s.-]?)?\d{2,4}([\s.-]\d{2,4}){1,4}(?!\w|\.\d)|(?<![\w.])\+\d{7,15}(?!\w|\.\d)`, builtin: true },
];

const compiled = new WeakMap<RedactionRule, RegExp>();
const regexOf = (r: RedactionRule): RegExp => {
  let re = compiled.get(r);
  if (!re) compiled.set(r, (re = new RegExp(r.pattern, [...new Set(`g${r.flags ?? ""}`)].join(""))));
  re.lastIndex = 0;
  return re;
};

/** Digits in a match: a phone match needs at least 7 of them (dates like 2026-11-24 have 8, so they must also not look like a date). */
const plausible = (rule: RedactionRule, match: string): boolean => {
  if (rule.name !== "phone") return true;
  const digits = match.replace(/\D/g, "").length;
  if (digits < 7 || digits > 15) return false;
  return !/^\d{4}-\d{2}-\d{2}$/.test(match) && !/^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$/.test(match);
};

/** Applies the rules in order; returns the redacted text and the number of matches per rule. */
export const redact = (text: string, rules: readonly RedactionRule[]): Redacted => {
  const counts: Record<string, number> = {};
  let out = text;
  for (const rule of rules) {
    out = out.replace(regexOf(rule), (m) => {
      if (!plausible(rule, m)) return m;
      counts[rule.name] = (counts[rule.name] ?? 0) + 1;
      return `[REDACTED:${rule.name}]`;
    });
  }
  return { text: out, counts };
};

/** Adds counts into a running total. */
export const addCounts = (into: Record<string, number>, more: Readonly<Record<string, number>>): Record<string, number> => {
  for (const [k, n] of Object.entries(more)) into[k] = (into[k] ?? 0) + n;
  return into;
};
