// A stand-in of a GPU cloud's REST API (RunPod/Lambda-style), for what cannot run here: create,
// list, get, terminate. Its "instances" are real OpenSSH sshd processes on loopback (startSshd),
// each taking the public key sent at create; a new instance answers "starting" for a few polls.
import { appendFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { startSshd, type Sshd } from "./sshd.ts";

export interface StandInInstance {
  id: string;
  name: string;
  gpuType: string;
  region: string;
  status: "starting" | "running" | "terminated";
  polls: number;
  sshd?: Sshd;
}

export interface GpuCloudStandIn {
  readonly url: string;
  readonly apiKey: string;
  readonly instances: Map<string, StandInInstance>;
  /** GPU types that answer "no capacity" (409). */
  readonly noCapacity: Set<string>;
  /** Terminate calls that answer 500 before one succeeds. */
  failTerminates: number;
  /** Every request's method and path, and whether its key was right. */
  readonly requests: { method: string; path: string; authorised: boolean }[];
  stop(): Promise<void>;
}

export const startGpuCloudStandIn = async (): Promise<GpuCloudStandIn> => {
  const apiKey = `stand-in-key-${Math.random().toString(36).slice(2)}`;
  const instances = new Map<string, StandInInstance>();
  let next = 1;
  const view = (i: StandInInstance) => ({ id: i.id, name: i.name, gpuType: i.gpuType, region: i.region, status: i.status, ...(i.status === "running" && i.sshd ? { ip: i.sshd.host, port: i.sshd.port } : {}) });
  const state: GpuCloudStandIn = {
    url: "", apiKey, instances, noCapacity: new Set(), failTerminates: 0, requests: [],
    stop: async () => {
      await Promise.all([...instances.values()].map((i) => i.sshd?.stop()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => void (async () => {
      const send = (status: number, json: unknown) => (res.writeHead(status, { "content-type": "application/json" }), res.end(JSON.stringify(json)));
      const authorised = req.headers.authorization === `Bearer ${apiKey}`;
      const path = req.url ?? "/";
      state.requests.push({ method: req.method ?? "", path, authorised });
      if (!authorised) return send(401, { error: "bad API key" });
      const id = decodeURIComponent(path.split("/")[2] ?? "");
      if (req.method === "GET" && path === "/instances") return send(200, { instances: [...instances.values()].map(view) });
      if (req.method === "POST" && path === "/instances") {
        const ask = JSON.parse(body) as { name: string; gpuType: string; region: string; sshPublicKey: string };
        if (state.noCapacity.has(ask.gpuType)) return send(409, { error: `no ${ask.gpuType} capacity in ${ask.region}` });
        const sshd = await startSshd();
        appendFileSync(`${sshd.dir}/authorized_keys`, `${ask.sshPublicKey}\n`);
        const i: StandInInstance = { id: `i-${next++}`, name: ask.name, gpuType: ask.gpuType, region: ask.region, status: "starting", polls: 0, sshd };
        instances.set(i.id, i);
        return send(201, view(i));
      }
      const i = instances.get(id);
      if (!i) return send(404, { error: `no instance ${id}` });
      if (req.method === "GET") {
        if (i.status === "starting" && ++i.polls >= 2) i.status = "running";
        return send(200, view(i));
      }
      if (req.method === "DELETE") {
        if (state.failTerminates > 0) return (state.failTerminates--, send(500, { error: "internal error, try again" }));
        if (i.status !== "terminated") await i.sshd?.stop();
        i.status = "terminated";
        return send(200, view(i));
      }
      return send(405, { error: "method not allowed" });
    })());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  return Object.assign(state, { url: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}` });
};
