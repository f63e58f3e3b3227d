// A rented GPU per job over a RunPod/Lambda-style REST API: create an instance with a GPU type and an
// image, poll until SSH answers, pin its host key on first contact (such APIs return no host key, so
// the first key seen is trusted and recorded), terminate when the job is over. The API key is read
// from the environment at each call and never written to events, logs or errors.
import { readFileSync } from "node:fs";
import type { HostProvider, ProvisionedHost, ProvisionRequest, RentedInstance } from "../../actors/muscle/ports.ts";
import { SshRemoteHost, type SshRemoteHostOptions } from "../ssh/client.ts";
import { scanHostKey } from "../ssh/hosts.ts";

/** A GPU type in a region at a price: tried in order until one has capacity. */
export interface Offer {
  readonly gpuType: string;
  readonly region: string;
  readonly pricePerHour: number;
}

export interface CloudOptions {
  readonly name: string;
  readonly apiUrl: string;
  /** The environment variable holding the API key (the key itself never lives in files). */
  readonly apiKeyEnv: string;
  readonly image: string;
  readonly offers: readonly Offer[];
  readonly user: string;
  readonly keyPath: string;
  readonly workDir?: string;
  /** Most a job may cost (price per hour x its deadline), and most all jobs may cost per UTC day. */
  readonly maxCostPerJob: number;
  readonly maxCostPerDay: number;
  /** Spent today so far (from the log's InstanceTerminated events); the composition root binds it. */
  readonly spentToday?: () => Promise<number>;
  readonly pollMs?: number;
  readonly readyTimeoutMs?: number;
  readonly ssh?: SshRemoteHostOptions;
}

interface ApiInstance {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly ip?: string;
  readonly port?: number;
}

const tagged = (message: string, tag: string) => Object.assign(new Error(message), { _tag: tag });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** HostProvider renting one instance per job, named `sophont-<jobId>` so a restarted Muscle finds it again. */
export class CloudGpuProvider implements HostProvider {
  readonly kind: string;

  constructor(private readonly o: CloudOptions) {
    this.kind = `cloud:${o.name}`;
  }

  private async api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const key = process.env[this.o.apiKeyEnv];
    if (!key) throw tagged(`set ${this.o.apiKeyEnv} to the ${this.o.name} API key`, "AuthenticationError");
    const res = await fetch(`${this.o.apiUrl}${path}`, {
      method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown = null;
    try { json = JSON.parse(text); } catch { json = { error: text.slice(0, 200) }; }
    if (res.status === 401 || res.status === 403) throw tagged(`${this.o.name} refused the API key in ${this.o.apiKeyEnv} (${res.status})`, "AuthenticationError");
    return { status: res.status, json };
  }

  /** The instances this provider made (by name), as the API lists them. */
  async instances(): Promise<ApiInstance[]> {
    const r = await this.api("GET", "/instances");
    if (r.status !== 200) throw new Error(`${this.o.name}: listing instances answered ${r.status}`);
    return ((r.json as { instances?: ApiInstance[] }).instances ?? []).filter((i) => i.name.startsWith("sophont-"));
  }

  async provision(request: ProvisionRequest): Promise<ProvisionedHost & { readonly instance: RentedInstance }> {
    const name = `sophont-${request.jobId}`;
    const attempts: { gpuType: string; region: string; error: string }[] = [];
    // A restarted Muscle finds the instance it created before it died, instead of renting a second.
    let found = (await this.instances()).find((i) => i.name === name && i.status !== "terminated");
    let offer: Offer | undefined = found ? this.o.offers[0] : undefined;
    const hours = (request.deadlineMs ?? 3_600_000) / 3_600_000;
    const spent = (await this.o.spentToday?.()) ?? 0;
    for (const candidate of found ? [] : this.o.offers) {
      const worst = candidate.pricePerHour * hours;
      if (worst > this.o.maxCostPerJob) { attempts.push({ ...pick(candidate), error: `up to ${worst.toFixed(2)} for the job exceeds the cap of ${this.o.maxCostPerJob} per job` }); continue; }
      if (spent + worst > this.o.maxCostPerDay) { attempts.push({ ...pick(candidate), error: `${spent.toFixed(2)} spent today + up to ${worst.toFixed(2)} exceeds the cap of ${this.o.maxCostPerDay} per day` }); continue; }
      const r = await this.api("POST", "/instances", { name, gpuType: candidate.gpuType, region: candidate.region, image: this.o.image, sshPublicKey: readFileSync(`${this.o.keyPath}.pub`, "utf8").trim() });
      if (r.status === 200 || r.status === 201) { found = r.json as ApiInstance; offer = candidate; break; }
      attempts.push({ ...pick(candidate), error: `${r.status}: ${String((r.json as { error?: unknown }).error ?? "")}` });
    }
    if (!found || !offer) {
      const why = attempts.map((a) => `${a.gpuType} in ${a.region}: ${a.error}`).join("; ");
      throw tagged(`no GPU could be rented from ${this.o.name}: ${why}`, attempts.every((a) => /cap of/.test(a.error)) ? "CostCapError" : "CapacityError");
    }
    const createdAt = Date.now();
    let remote: SshRemoteHost, fingerprint: string;
    try {
      const up = await this.untilSsh(found.id);
      // First contact: the key presented now is pinned for every later connection of this lease.
      fingerprint = await scanHostKey(up.ip!, up.port!);
      remote = new SshRemoteHost({
        name, host: up.ip!, port: up.port!, user: this.o.user, keyPath: this.o.keyPath, hostKeyFingerprint: fingerprint, workDir: this.o.workDir ?? "sophont", gpu: { kind: "none" },
      }, this.o.ssh);
      await remote.connect();
    } catch (error) {
      // An instance that never became usable is not left billing.
      await this.terminate(found.id).catch(() => undefined);
      throw error;
    }
    return {
      leaseId: found.id, name, workDir: remote.workDirectory, gpu: { kind: "cuda" }, remote,
      instance: { provider: this.o.name, instanceId: found.id, gpuType: offer.gpuType, region: offer.region, pricePerHour: offer.pricePerHour, hostKeyFingerprint: fingerprint, createdAt, attempts },
    };
  }

  private async untilSsh(id: string): Promise<ApiInstance> {
    const end = Date.now() + (this.o.readyTimeoutMs ?? 600_000);
    for (;;) {
      const r = await this.api("GET", `/instances/${encodeURIComponent(id)}`);
      const i = r.json as ApiInstance;
      if (r.status === 200 && i.status === "running" && i.ip && i.port) {
        const answers = await scanHostKey(i.ip, i.port, 5_000).then(() => true, () => false);
        if (answers) return i;
      }
      if (Date.now() > end) throw tagged(`${this.o.name} instance ${id} did not answer on SSH in time`, "ConnectionError");
      await sleep(this.o.pollMs ?? 2_000);
    }
  }

  /** Terminates (never stops: a stopped instance still bills its disk); retried, and an instance already gone counts as terminated. */
  async terminate(instanceId: string): Promise<{ failedTries: number }> {
    let failedTries = 0;
    for (;;) {
      const r = await this.api("DELETE", `/instances/${encodeURIComponent(instanceId)}`).catch((e: unknown) => ({ status: 0, json: { error: String(e) } }));
      if (r.status === 200 || r.status === 204 || r.status === 404) return { failedTries };
      if (++failedTries >= 8) throw new Error(`${this.o.name}: terminating ${instanceId} failed ${failedTries} times (last ${r.status}); terminate it by hand`);
      await sleep(Math.min(30_000, 200 * 2 ** failedTries));
    }
  }

  async release(host: ProvisionedHost): Promise<{ failedTries: number }> {
    await host.remote.close().catch(() => undefined);
    return this.terminate(host.leaseId);
  }

  releaseById(leaseId: string): Promise<{ failedTries: number }> {
    return this.terminate(leaseId);
  }

  /** Instances this provider made whose job is not live; the Muscle terminates them on start. */
  async strays(live: ReadonlySet<string>): Promise<{ leaseId: string; jobId: string }[]> {
    return (await this.instances())
      .filter((i) => i.status !== "terminated" && !live.has(i.name.slice("sophont-".length)))
      .map((i) => ({ leaseId: i.id, jobId: i.name.slice("sophont-".length) }));
  }
}

const pick = (o: Offer) => ({ gpuType: o.gpuType, region: o.region });
