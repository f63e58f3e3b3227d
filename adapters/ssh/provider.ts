// The static SSH host: a machine that is always there, named in the hosts file. Provisioning looks
// it up and proves it answers; releasing only closes our connection (the machine is not ours to stop).
import type { GpuExpectation, GpuInfo, HostProvider, ProvisionedHost, ProvisionRequest } from "../../actors/muscle/ports.ts";
import { SshRemoteHost, type SshRemoteHostOptions } from "./client.ts";
import { GpuExpectationError, HostsFileError } from "./errors.ts";
import { findHost, loadHosts } from "./hosts.ts";

/** Whether one of the GPUs found is the expected model (by substring) with enough memory. */
export const meets = (found: readonly GpuInfo[], expected: GpuExpectation): boolean =>
  expected.kind === "none" ||
  found.some((gpu) =>
    (expected.model === undefined || gpu.name.toLowerCase().includes(expected.model.toLowerCase())) &&
    gpu.memoryMiB >= (expected.minMemoryGiB ?? 0) * 1024 * 0.95, // cards report a little under their nominal size
  );

/** HostProvider over the hosts file; a request without a host name takes the first host whose GPU fits. */
export class StaticSshProvider implements HostProvider {
  readonly kind = "static-ssh";

  constructor(private readonly hostsFile: string, private readonly options: SshRemoteHostOptions = {}) {}

  async provision(request: ProvisionRequest): Promise<ProvisionedHost> {
    const entry = request.hostName ? await findHost(this.hostsFile, request.hostName) : await this.pick(request);
    const remote = new SshRemoteHost(entry, this.options);
    await remote.connect();
    const expected = request.gpu ?? entry.gpu;
    if (expected.kind === "cuda") {
      const found = await remote.gpus();
      if (!meets(found, expected)) {
        await remote.close();
        throw new GpuExpectationError({ host: entry.name, expected, found });
      }
    }
    return { leaseId: entry.name, name: entry.name, workDir: remote.workDirectory, gpu: entry.gpu, remote, ...(entry.bases ? { bases: entry.bases } : {}) };
  }

  async release(host: ProvisionedHost): Promise<void> {
    await host.remote.close().catch(() => undefined);
  }

  private async pick(request: ProvisionRequest) {
    const hosts = await loadHosts(this.hostsFile);
    const wanted = request.gpu?.kind ?? "none";
    const fit = hosts.find((h) => wanted === "none" || (h.gpu.kind === "cuda" && (h.gpu.minMemoryGiB ?? 0) >= (request.gpu?.minMemoryGiB ?? 0)));
    if (!fit) throw new HostsFileError({ file: this.hostsFile, issues: [`no host matches the requested GPU ${JSON.stringify(request.gpu)}`] });
    return fit;
  }
}
