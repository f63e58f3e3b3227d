// The local provider: training on this machine, for when no GPU host is configured (the demo, CI).
// Nothing to start or stop; the lease is the work directory.
import type { HostProvider, ProvisionedHost, ProvisionRequest } from "../../actors/muscle/ports.ts";
import { LocalHost } from "./host.ts";

/** HostProvider whose one host is this machine, jobs under `workDir/jobs/<jobId>`. */
export class LocalProvider implements HostProvider {
  readonly kind = "local";

  constructor(private readonly workDir: string) {}

  async provision(_request: ProvisionRequest): Promise<ProvisionedHost> {
    const remote = new LocalHost(this.workDir);
    await remote.connect();
    return { leaseId: `local:${remote.workDir}`, name: "local", workDir: remote.workDir, gpu: { kind: "none" }, remote };
  }

  async release(_host: ProvisionedHost): Promise<void> {}
}
