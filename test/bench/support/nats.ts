import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats, ensureInfrastructure } from "../../../adapters/nats/connection.ts";
import { startEmbeddedServer } from "../../../adapters/nats/server.ts";

/** A nats-server of its own for a benchmark: Sophont's nats.conf, a temp store, the soul user. */
export const benchNats = async () => {
  const dir = mkdtempSync(join(tmpdir(), "sophont-bench-"));
  const secrets = { soul: "pwbench", replica: "pwreplica", mcp: "pwmcp" };
  const server = await startEmbeddedServer({ storeDir: join(dir, "store"), secrets });
  const nc = await connectNats({ url: server.url, user: "soul", pass: secrets.soul, name: "bench" });
  await ensureInfrastructure(nc);
  return {
    nc,
    stop: async () => {
      await nc.drain().catch(() => undefined);
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
