// The frontier judge's settings (config.json `judge`), validated: which provider and model, the
// variable that holds the key (never the key), when to ask, the caps per night and the prices.
export interface JudgeConfig {
  readonly provider: "anthropic";
  readonly model: string;
  readonly apiKeyEnv: string;
  /** `always`, or only when the local verdict's confidence is below `below` (0..1). */
  readonly when: "always" | { readonly below: number };
  readonly caps: { readonly callsPerNight: number; readonly spendPerNightUsd: number };
  /** USD per million tokens, by model. */
  readonly prices: Readonly<Record<string, { readonly inputPerMTok: number; readonly outputPerMTok: number }>>;
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly maxTokens: number;
}

export class JudgeConfigError extends Error {
  override readonly name = "JudgeConfigError";
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown, where: string, min: number, max: number): number => {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) throw new JudgeConfigError(`judge.${where} must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
};

/** The judge from config.json's `judge` (absent: no judge; the local verdict stands). */
export const judgeFrom = (raw: unknown): JudgeConfig | undefined => {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) throw new JudgeConfigError("judge must be an object { provider, model, apiKeyEnv, when, caps, prices }");
  const known = ["provider", "model", "apiKeyEnv", "when", "caps", "prices", "baseUrl", "timeoutMs", "retries", "maxTokens"];
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length) throw new JudgeConfigError(`unknown judge setting(s): ${unknown.join(", ")}; known: ${known.join(", ")}`);
  if (raw.provider !== "anthropic") throw new JudgeConfigError(`judge.provider must be "anthropic", got ${JSON.stringify(raw.provider)}`);
  if (typeof raw.model !== "string" || !raw.model) throw new JudgeConfigError("judge.model must name a model (e.g. \"claude-sonnet-4-5\")");
  if (typeof raw.apiKeyEnv !== "string" || !/^[A-Z_][A-Z0-9_]*$/.test(raw.apiKeyEnv)) throw new JudgeConfigError("judge.apiKeyEnv must name an environment variable (e.g. \"ANTHROPIC_API_KEY\"); the key itself never goes in config.json");
  const when = raw.when === undefined || raw.when === "always" ? (raw.when ?? { below: 0.2 }) : isObject(raw.when) ? { below: num(raw.when.below, "when.below", 0, 1) } : undefined;
  if (when === undefined) throw new JudgeConfigError("judge.when must be \"always\" or { \"below\": 0..1 } (the local verdict's confidence)");
  const caps = isObject(raw.caps) ? raw.caps : {};
  const prices: Record<string, { inputPerMTok: number; outputPerMTok: number }> = {};
  if (raw.prices !== undefined && !isObject(raw.prices)) throw new JudgeConfigError("judge.prices must be { \"<model>\": { inputPerMTok, outputPerMTok } }");
  for (const [m, p] of Object.entries((raw.prices as Record<string, unknown>) ?? {})) {
    if (!isObject(p)) throw new JudgeConfigError(`judge.prices.${m} must be { inputPerMTok, outputPerMTok }`);
    prices[m] = { inputPerMTok: num(p.inputPerMTok, `prices.${m}.inputPerMTok`, 0, 1e4), outputPerMTok: num(p.outputPerMTok, `prices.${m}.outputPerMTok`, 0, 1e4) };
  }
  if (!prices[raw.model]) throw new JudgeConfigError(`judge.prices has no price for ${raw.model}: without one the spend cap cannot hold`);
  return {
    provider: "anthropic",
    model: raw.model,
    apiKeyEnv: raw.apiKeyEnv,
    when: when as JudgeConfig["when"],
    caps: { callsPerNight: caps.callsPerNight === undefined ? 200 : num(caps.callsPerNight, "caps.callsPerNight", 0, 1e6), spendPerNightUsd: caps.spendPerNightUsd === undefined ? 1 : num(caps.spendPerNightUsd, "caps.spendPerNightUsd", 0, 1e6) },
    prices,
    baseUrl: typeof raw.baseUrl === "string" ? raw.baseUrl.replace(/\/$/, "") : "https://api.anthropic.com",
    timeoutMs: raw.timeoutMs === undefined ? 30_000 : num(raw.timeoutMs, "timeoutMs", 100, 600_000),
    retries: raw.retries === undefined ? 3 : num(raw.retries, "retries", 0, 10),
    maxTokens: raw.maxTokens === undefined ? 200 : num(raw.maxTokens, "maxTokens", 16, 4096),
  };
};
