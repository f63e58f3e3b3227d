// The GPU cloud's REST API as the provider uses it: bearer key from the environment at each call
// (never kept, never logged), JSON both ways, and deletes retried with backoff until they hold.

/** An instance as the API lists it; `volumeMountPath` is where a volume it was created with is mounted. */
export interface ApiInstance {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly region: string;
  readonly ip?: string;
  readonly port?: number;
  readonly volumeId?: string;
  readonly volumeMountPath?: string;
}

export interface ApiVolume {
  readonly id: string;
  readonly name: string;
  readonly region: string;
  readonly sizeGiB: number;
  readonly status: string;
}

export const tagged = (message: string, tag: string) => Object.assign(new Error(message), { _tag: tag });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class CloudApi {
  constructor(private readonly name: string, private readonly url: string, private readonly keyEnv: string) {}

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const key = process.env[this.keyEnv];
    if (!key) throw tagged(`set ${this.keyEnv} to the ${this.name} API key`, "AuthenticationError");
    const res = await fetch(`${this.url}${path}`, {
      method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown = null;
    try { json = JSON.parse(text); } catch { json = { error: text.slice(0, 200) }; }
    if (res.status === 401 || res.status === 403) throw tagged(`${this.name} refused the API key in ${this.keyEnv} (${res.status})`, "AuthenticationError");
    return { status: res.status, json };
  }

  async instances(): Promise<ApiInstance[]> {
    const r = await this.call("GET", "/instances");
    if (r.status !== 200) throw new Error(`${this.name}: listing instances answered ${r.status}`);
    return (r.json as { instances?: ApiInstance[] }).instances ?? [];
  }

  async volumes(): Promise<ApiVolume[]> {
    const r = await this.call("GET", "/volumes");
    if (r.status !== 200) throw new Error(`${this.name}: listing volumes answered ${r.status}`);
    return ((r.json as { volumes?: ApiVolume[] }).volumes ?? []).filter((v) => v.status !== "deleted");
  }

  /** A DELETE retried (8 tries, backoff to 30 s) until it holds; a thing already gone (404) counts as done. */
  async retried(method: string, path: string, what: string, otherwise: string): Promise<{ failedTries: number }> {
    let failedTries = 0;
    for (;;) {
      const r = await this.call(method, path).catch((e: unknown) => {
        if ((e as { _tag?: string })._tag === "AuthenticationError") throw e;
        return { status: 0, json: { error: String(e) } };
      });
      if (r.status === 200 || r.status === 204 || r.status === 404) return { failedTries };
      if (++failedTries >= 8) throw new Error(`${this.name}: ${what} failed ${failedTries} times (last ${r.status}: ${String((r.json as { error?: unknown }).error ?? "")}); ${otherwise}`);
      await sleep(Math.min(30_000, 200 * 2 ** failedTries));
    }
  }
}
