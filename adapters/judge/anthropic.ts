// The frontier judge on the Anthropic Messages API, through the egress module (the only way out):
// the text is admitted by the airlock first (redacted, or not sent at all), each attempt is an
// EgressRecorded, timeouts / 429 / 5xx are retried with backoff, and every failure, cap or refusal
// falls back to the local verdict with the reason. The key is read from the named variable and sent
// in a header; it is never recorded.
import { sha256Hex, type Egress } from "../egress/egress.ts";
import type { JudgeConfig } from "./config.ts";
import type { CoherenceJudge } from "../../actors/salience/ports.ts";

/** What the decision event records of the judge that spoke (never the key). */
export interface JudgeRecord {
  readonly judge: "anthropic" | "local";
  readonly model: string;
  /** sha256 of the request body sent (null: none was sent). */
  readonly requestSha256: string | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly attempts: number;
  readonly costUsd: number;
  /** The local verdict's confidence that decided whether to ask. */
  readonly confidence: number;
  /** Why the local verdict stands (null when the frontier judge spoke). */
  readonly fallback: string | null;
}

export type Verdict = { readonly coherent: boolean; readonly reason: string; readonly record: JudgeRecord } | { readonly record: JudgeRecord };

const SYSTEM = "You judge whether a text is coherent natural language worth learning from. Answer with JSON only: {\"coherent\": true|false, \"reason\": \"one short sentence\"}.";

export interface JudgeOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** First backoff delay (default 500 ms), doubled per retry, capped at 8 s. */
  readonly backoffMs?: number;
}

export class AnthropicJudge implements CoherenceJudge {
  private night: string | undefined;
  private calls = 0;
  private spend = 0;
  /** Worst-case cost of the calls in flight. */
  private reserved = 0;

  constructor(readonly config: JudgeConfig, private readonly egress: Egress, private readonly options: JudgeOptions = {}) {}

  /** Caps count per night: a new night id starts them again. */
  private forNight(nightId: string): void {
    if (this.night !== nightId) (this.night = nightId), (this.calls = 0), (this.spend = 0), (this.reserved = 0);
  }

  get usage() {
    return { calls: this.calls, spendUsd: this.spend };
  }

  private local(confidence: number, fallback: string, extra: Partial<JudgeRecord> = {}): Verdict {
    return { record: { judge: "local", model: this.config.model, requestSha256: null, inputTokens: 0, outputTokens: 0, attempts: 0, costUsd: 0, confidence, fallback, ...extra } };
  }

  /** Whether a local verdict this sure is put to the judge (config `when`: always, or below a confidence). */
  asks(confidence: number): boolean {
    return this.config.when === "always" || confidence < this.config.when.below;
  }

  /** The frontier verdict on one text, or the local verdict's record with the reason it stands. */
  async verdict(nightId: string, inputId: string | null, text: string, confidence: number): Promise<Verdict> {
    this.forNight(nightId);
    const key = (this.options.env ?? process.env)[this.config.apiKeyEnv];
    if (!key) return this.local(confidence, `no API key in $${this.config.apiKeyEnv}`);
    const admitted = await this.egress.admit("judge", text, inputId);
    if (admitted.text === null) return this.local(confidence, inputId !== null && this.egress.mode("judge") !== "nothing" ? "private input: its text never leaves" : `the airlock sends no text to the judge (policy ${this.egress.policyVersion})`);
    const body = JSON.stringify({ model: this.config.model, max_tokens: this.config.maxTokens, system: SYSTEM, messages: [{ role: "user", content: `Text:\n<<<\n${admitted.text}\n>>>` }] });
    const requestSha256 = sha256Hex(body);
    // The caps are checked and the call reserved with no await in between: a night judges a batch's
    // inputs concurrently, and each must see the calls and the worst-case spend of those in flight.
    const worst = this.worstCost(body);
    if (this.calls >= this.config.caps.callsPerNight) return this.local(confidence, `cap: ${this.calls} judge calls this night (caps.callsPerNight ${this.config.caps.callsPerNight})`);
    if (this.spend + this.reserved + worst > this.config.caps.spendPerNightUsd) return this.local(confidence, `cap: $${(this.spend + this.reserved).toFixed(4)} spent or in flight this night, and this call may cost up to $${worst.toFixed(4)} (caps.spendPerNightUsd ${this.config.caps.spendPerNightUsd})`);
    this.calls++;
    this.reserved += worst;
    try {
      return await this.ask(nightId, inputId, body, requestSha256, admitted.redactions, key, confidence);
    } finally {
      this.reserved = Math.max(0, this.reserved - worst);
    }
  }

  /** The most a call can cost: every byte of the request a token (tokenizers give fewer), and max_tokens out. */
  private worstCost(body: string): number {
    const price = this.config.prices[this.config.model]!;
    return (Buffer.byteLength(body) * price.inputPerMTok + this.config.maxTokens * price.outputPerMTok) / 1e6;
  }

  private async ask(nightId: string, inputId: string | null, body: string, requestSha256: string, redactions: Readonly<Record<string, number>>, key: string, confidence: number): Promise<Verdict> {
    let last = "";
    for (let attempt = 1; attempt <= this.config.retries + 1; attempt++) {
      try {
        const res = await this.egress.post("judge", `${this.config.baseUrl}/v1/messages`, body, {
          headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
          signal: AbortSignal.timeout(this.config.timeoutMs),
          key: `judge:${nightId}:${inputId ?? requestSha256}:${attempt}`,
          purpose: `verdict on input ${inputId ?? "(none)"} in night ${nightId} (attempt ${attempt})`,
          redactions, texts: 1, withheld: 0,
        });
        if (res.status === 429 || res.status >= 500) {
          last = `HTTP ${res.status}`;
          await res.body?.cancel();
          await this.backoff(attempt, res.headers.get("retry-after"));
          continue;
        }
        if (!res.ok) return this.local(confidence, `the judge refused the request: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`, { requestSha256, attempts: attempt });
        return this.read(await res.json(), confidence, requestSha256, attempt);
      } catch (e) {
        last = (e as Error).name === "TimeoutError" ? `timed out after ${this.config.timeoutMs} ms` : (e as Error).message;
        await this.backoff(attempt, null);
      }
    }
    return this.local(confidence, `the judge failed ${this.config.retries + 1} time(s), last: ${last}`, { requestSha256, attempts: this.config.retries + 1 });
  }

  private async backoff(attempt: number, retryAfter: string | null): Promise<void> {
    if (attempt > this.config.retries) return;
    const base = this.options.backoffMs ?? 500;
    const told = retryAfter !== null && Number.isFinite(Number(retryAfter)) ? Number(retryAfter) * 1000 : 0;
    await new Promise((r) => setTimeout(r, Math.min(8_000, Math.max(told, base * 2 ** (attempt - 1)))));
  }

  private read(json: unknown, confidence: number, requestSha256: string, attempts: number): Verdict {
    const m = json as { model?: string; content?: Array<{ type: string; text?: string }>; usage?: { input_tokens?: number; output_tokens?: number } };
    const inputTokens = m.usage?.input_tokens ?? 0;
    const outputTokens = m.usage?.output_tokens ?? 0;
    const price = this.config.prices[this.config.model]!;
    const costUsd = (inputTokens * price.inputPerMTok + outputTokens * price.outputPerMTok) / 1e6;
    this.spend += costUsd;
    const record = { judge: "anthropic" as const, model: m.model ?? this.config.model, requestSha256, inputTokens, outputTokens, attempts, costUsd, confidence, fallback: null };
    const text = m.content?.find((c) => c.type === "text")?.text ?? "";
    try {
      const v = JSON.parse(text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1)) as { coherent?: unknown; reason?: unknown };
      if (typeof v.coherent !== "boolean") throw new Error("no boolean coherent");
      return { coherent: v.coherent, reason: typeof v.reason === "string" ? v.reason.slice(0, 300) : "", record };
    } catch (e) {
      return { record: { ...record, judge: "local", fallback: `the judge's answer did not parse (${(e as Error).message})` } };
    }
  }
}
