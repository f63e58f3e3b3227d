import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { main } from "../../../adapters/cli/main.ts";
import { loadConfig } from "../../../adapters/cli/config.ts";
import { embeddedPort, openRuntime } from "../../../adapters/cli/runtime.ts";

// Every client finds its own home's server: a home's stable port (hashed from its path into 1,000)
// may be held by another home's server, and then `agent add` must not send the agent there.

const home = mkdtempSync(join(tmpdir(), "sophont-agent-url-"));
const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const srv = createServer((s) => s.destroy());
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
let squatter: Server | undefined;
afterAll(async () => {
  await new Promise((r) => (squatter ? squatter.close(r) : r(undefined)));
  rmSync(home, { recursive: true, force: true });
});

describe("an agent's URL when the home's stable port is taken", () => {
  it("names the server this home runs, and follows it when a later start takes another port", async () => {
    delete process.env.SOPHONT_NATS_URL;
    delete process.env.SOPHONT_NATS_PORT;
    const stable = `nats://127.0.0.1:${embeddedPort(home)}`;
    // What another home's server on the same hashed port looks like from here: the port is busy.
    squatter = await listen(embeddedPort(home));
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(["agent", "add", "carol", "--home", home], { out: (s) => out.push(s), err: (s) => err.push(s) }), err.join("\n")).toBe(0);
    const file = join(home, "agents", "carol.json");
    const first = JSON.parse(readFileSync(file, "utf8")) as { url: string; user: string; password: string };
    expect(first.url).not.toBe(stable);

    // The next start takes another free port: the file follows it, and the agent connects there.
    const rt = await openRuntime(loadConfig({ home }, {}), (s) => err.push(s));
    try {
      const now = JSON.parse(readFileSync(file, "utf8")) as { url: string; user: string; password: string };
      expect(now.url).toBe(rt.server.url);
      expect(now.url).not.toBe(stable);
      const nc = await connect({ servers: now.url, user: now.user, pass: now.password, reconnect: false, timeout: 5_000 });
      await nc.close();
    } finally {
      await rt.close();
    }
  }, 120_000);
});
