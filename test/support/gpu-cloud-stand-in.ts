// A stand-in of a GPU cloud's REST API (RunPod/Lambda-style), for what cannot run here: create,
// list, get, terminate instances; create, list, delete persistent network volumes. Its "instances"
// are real OpenSSH sshd processes on loopback (startSshd), each taking the public key sent at
// create; a new instance answers "starting" for a few polls. A volume is a directory that outlives
// instances: "mounted" (owned by the login user) while a running instance was created with it, and
// closed to that user (root's, mode 0700) otherwise, so only an instance that mounts it can see it.
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { startSshd, type Sshd } from "./sshd.ts";

export interface StandInInstance {
  id: string;
  name: string;
  /** The GPU type asked for; "none" for a CPU instance (`cpuType`). */
  gpuType: string;
  cpuType?: string;
  region: string;
  status: "starting" | "running" | "terminated";
  polls: number;
  volumeId?: string;
  /** Index in `requests` of the call that created it. */
  createdAtRequest: number;
  /** Files of the volume's cache (`sha256/<hex>`, by hex) when the instance was created: what a GPU found already staged. */
  volumeBlobsAtCreate: string[];
  sshd?: Sshd;
}

export interface StandInVolume {
  id: string;
  name: string;
  region: string;
  sizeGiB: number;
  /** The directory on this machine; instances see it at `dir` too (the mount path the API reports). */
  dir: string;
  status: "available" | "deleted";
}

export interface GpuCloudStandIn {
  readonly url: string;
  readonly apiKey: string;
  readonly instances: Map<string, StandInInstance>;
  readonly volumes: Map<string, StandInVolume>;
  /** GPU types that answer "no capacity" (409). */
  readonly noCapacity: Set<string>;
  /** Terminate calls that answer 500 before one succeeds. */
  failTerminates: number;
  /** While true, new instances stay "starting" (a slow boot the test ends when it likes). */
  holdStarting: boolean;
  /** Every request's method and path, and whether its key was right. */
  readonly requests: { method: string; path: string; authorised: boolean }[];
  stop(): Promise<void>;
}

/** The base files staged on a volume (the provider keeps its cache at `<mount>/sophont/cache`), by hex. */
const blobsOf = (v: StandInVolume): string[] => {
  const dir = path.join(v.dir, "sophont", "cache", "sha256");
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^[0-9a-f]{64}$/.test(f)) : [];
};

const uidOf = (user: string): number => Number(readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${user}:`))!.split(":")[2]);

export const startGpuCloudStandIn = async (): Promise<GpuCloudStandIn> => {
  const apiKey = `stand-in-key-${Math.random().toString(36).slice(2)}`;
  const instances = new Map<string, StandInInstance>();
  const volumes = new Map<string, StandInVolume>();
  const volumeRoot = mkdtempSync(path.join(os.tmpdir(), "sophont-volumes-"));
  chmodSync(volumeRoot, 0o755);
  let next = 1;
  const mountedBy = (v: StandInVolume) => [...instances.values()].filter((i) => i.volumeId === v.id && i.status !== "terminated");
  // A volume is reachable by the login user only while an instance that mounts it is up.
  let loginUid = 0; // the instances' login user (every stand-in sshd logs in as the same user)
  const remount = (v: StandInVolume) => {
    const uid = mountedBy(v).length > 0 ? loginUid : 0;
    chownSync(v.dir, uid, uid);
    chmodSync(v.dir, 0o700);
  };
  const view = (i: StandInInstance) => ({
    id: i.id, name: i.name, gpuType: i.gpuType, ...(i.cpuType ? { cpuType: i.cpuType } : {}), region: i.region, status: i.status,
    ...(i.volumeId ? { volumeId: i.volumeId, volumeMountPath: volumes.get(i.volumeId)!.dir } : {}),
    ...(i.status === "running" && i.sshd ? { ip: i.sshd.host, port: i.sshd.port } : {}),
  });
  const volumeView = (v: StandInVolume) => ({ id: v.id, name: v.name, region: v.region, sizeGiB: v.sizeGiB, status: v.status });
  const state: GpuCloudStandIn = {
    url: "", apiKey, instances, volumes, noCapacity: new Set(), failTerminates: 0, holdStarting: false, requests: [],
    stop: async () => {
      await Promise.all([...instances.values()].map((i) => i.sshd?.stop()));
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(volumeRoot, { recursive: true, force: true });
    },
  };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => void (async () => {
      const send = (status: number, json: unknown) => (res.writeHead(status, { "content-type": "application/json" }), res.end(JSON.stringify(json)));
      const authorised = req.headers.authorization === `Bearer ${apiKey}`;
      const url = req.url ?? "/";
      const requestIndex = state.requests.push({ method: req.method ?? "", path: url, authorised }) - 1;
      if (!authorised) return send(401, { error: "bad API key" });
      const [, collection = "", rawId = ""] = url.split("/");
      const id = decodeURIComponent(rawId);
      if (collection === "volumes") {
        if (req.method === "GET" && !id) return send(200, { volumes: [...volumes.values()].filter((v) => v.status !== "deleted").map(volumeView) });
        if (req.method === "POST" && !id) {
          const ask = JSON.parse(body) as { name: string; region: string; sizeGiB: number };
          if (!(ask.sizeGiB > 0)) return send(400, { error: "sizeGiB must be positive" });
          const v: StandInVolume = { id: `vol-${next++}`, name: ask.name, region: ask.region, sizeGiB: ask.sizeGiB, dir: "", status: "available" };
          v.dir = path.join(volumeRoot, v.id);
          mkdirSync(v.dir);
          remount(v);
          volumes.set(v.id, v);
          return send(201, volumeView(v));
        }
        const v = volumes.get(id);
        if (!v || v.status === "deleted") return send(404, { error: `no volume ${id}` });
        if (req.method === "GET") return send(200, volumeView(v));
        if (req.method === "DELETE") {
          if (mountedBy(v).length > 0) return send(409, { error: `volume ${id} is attached to ${mountedBy(v).map((i) => i.id).join(", ")}` });
          rmSync(v.dir, { recursive: true, force: true });
          v.status = "deleted";
          return send(200, volumeView(v));
        }
        return send(405, { error: "method not allowed" });
      }
      if (collection !== "instances") return send(404, { error: `no route ${url}` });
      if (req.method === "GET" && !id) return send(200, { instances: [...instances.values()].map(view) });
      if (req.method === "POST" && !id) {
        const ask = JSON.parse(body) as { name: string; gpuType?: string; cpuType?: string; region: string; sshPublicKey: string; volumeId?: string };
        const gpuType = ask.gpuType ?? "none";
        if (state.noCapacity.has(ask.cpuType ?? gpuType)) return send(409, { error: `no ${ask.cpuType ?? gpuType} capacity in ${ask.region}` });
        const volume = ask.volumeId ? volumes.get(ask.volumeId) : undefined;
        if (ask.volumeId && (!volume || volume.status === "deleted")) return send(404, { error: `no volume ${ask.volumeId}` });
        if (volume && volume.region !== ask.region) return send(400, { error: `volume ${volume.id} is in ${volume.region}, not ${ask.region}` });
        const sshd = await startSshd();
        appendFileSync(`${sshd.dir}/authorized_keys`, `${ask.sshPublicKey}\n`);
        const i: StandInInstance = {
          id: `i-${next++}`, name: ask.name, gpuType, ...(ask.cpuType ? { cpuType: ask.cpuType } : {}), region: ask.region, status: "starting", polls: 0, createdAtRequest: requestIndex,
          ...(volume ? { volumeId: volume.id } : {}), volumeBlobsAtCreate: volume ? blobsOf(volume) : [], sshd,
        };
        instances.set(i.id, i);
        loginUid = uidOf(sshd.user);
        if (volume) remount(volume);
        return send(201, view(i));
      }
      const i = instances.get(id);
      if (!i) return send(404, { error: `no instance ${id}` });
      if (req.method === "GET") {
        if (i.status === "starting" && !state.holdStarting && ++i.polls >= 2) i.status = "running";
        return send(200, view(i));
      }
      if (req.method === "DELETE") {
        if (state.failTerminates > 0) return (state.failTerminates--, send(500, { error: "internal error, try again" }));
        if (i.status !== "terminated") await i.sshd?.stop();
        i.status = "terminated";
        const volume = i.volumeId ? volumes.get(i.volumeId) : undefined;
        if (volume && volume.status !== "deleted") remount(volume);
        return send(200, view(i));
      }
      return send(405, { error: "method not allowed" });
    })());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  return Object.assign(state, { url: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}` });
};
