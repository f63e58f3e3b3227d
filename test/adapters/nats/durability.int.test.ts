import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { defaultNatsConf } from "../../../adapters/nats/server.ts";
import { embeddedDurability, INCLUDED_FILES, natsServerVersion, supportsSyncAlways, writeServerConfig } from "../../../adapters/nats/server-config.ts";
import { EVENT_STREAM } from "../../../events/subjects.ts";
import { startTestNats, type TestNats } from "../../support/nats.ts";

// What an acknowledged event survives, on the server that is installed (Debian's 2.9.10 in CI).

const version = natsServerVersion()!;
const dir = mkdtempSync(join(tmpdir(), "sophont-durability-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the durability setting follows the server's version", () => {
  it("writes sync_interval: always only where the server has it, and 2.9 would refuse it", () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    const conf = writeServerConfig(join(dir, "here"), defaultNatsConf, [], version);
    const written = readFileSync(join(dir, "here", INCLUDED_FILES.durability), "utf8");
    expect(written.includes("sync_interval: always")).toBe(supportsSyncAlways(version));
    const env = { ...process.env, SOPHONT_NATS_HOST: "127.0.0.1", SOPHONT_NATS_PORT: "4999", SOPHONT_NATS_STORE: join(dir, "s"), SOPHONT_SOUL_PASSWORD: "a", SOPHONT_REPLICA_PASSWORD: "b", SOPHONT_MCP_PASSWORD: "c" };
    expect(spawnSync("nats-server", ["-c", conf, "-t"], { env, encoding: "utf8" }).status).toBe(0);
    // The setting is not optional decoration: on a server without it, it stops the server from starting.
    writeServerConfig(join(dir, "later"), defaultNatsConf, [], "2.10.0");
    expect(readFileSync(join(dir, "later", INCLUDED_FILES.durability), "utf8")).toMatch(/^sync_interval: always$/m);
    const t = spawnSync("nats-server", ["-c", join(dir, "later", "nats.conf"), "-t"], { env, encoding: "utf8" });
    if (!supportsSyncAlways(version)) expect(t.stderr + t.stdout).toMatch(/unknown field "sync_interval"/);
    else expect(t.status).toBe(0);
  });

  it("says in words what is at risk", () => {
    expect(embeddedDurability("2.9.10").summary).toMatch(/OS crash or power cut can lose events acknowledged in the last ~2 minutes.*loses nothing/);
    expect(embeddedDurability("2.10.7")).toMatchObject({ syncEveryWrite: true });
  });
});

describe("a kill -9 of nats-server", () => {
  let nats: TestNats;
  beforeAll(async () => {
    nats = await startTestNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("loses no acknowledged event (the OS still has the file's pages; only fsync is deferred)", async () => {
    const js = jetstream(await nats.connect());
    let last = 0;
    await Promise.all(Array.from({ length: 2000 }, (_, i) => js.publish(`sophont.evt.durability.k${i}`, "{}").then((a) => void (last = Math.max(last, a.seq)))));
    process.kill(nats.server.pid, "SIGKILL");
    await nats.restart();
    const after = await (await jetstreamManager(await nats.connect())).streams.info(EVENT_STREAM);
    expect(after.state.last_seq).toBe(last);
    writeFileSync(join(dir, "kill.txt"), `${last} acked, ${after.state.last_seq} after kill -9\n`);
  });
});
