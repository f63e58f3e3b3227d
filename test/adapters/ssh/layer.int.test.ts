import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteHostService, remoteHostLayer } from "../../../adapters/ssh/layer.ts";
import { startSshd, type Sshd } from "../../support/sshd.ts";

describe("the SSH adapter as an Effect layer (real sshd)", () => {
  let sshd: Sshd;
  let home: string;
  const workDir = `sophont-layer-${process.pid}`;
  const hostsFile = (pin?: string) => {
    const file = path.join(home, "hosts.json");
    const host = { name: "box", host: sshd.host, port: sshd.port, user: sshd.user, keyPath: sshd.privateKeyPath, workDir };
    writeFileSync(file, JSON.stringify({ hosts: [pin ? { ...host, hostKeyFingerprint: pin } : host] }));
    return file;
  };

  beforeAll(async () => {
    sshd = await startSshd();
    home = mkdtempSync(path.join(os.tmpdir(), "sophont-layer-"));
  });

  afterAll(async () => {
    rmSync(path.join(sshd.home, workDir), { recursive: true, force: true });
    await sshd?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it("provides a connected RemoteHost for the scope", async () => {
    const program = Effect.gen(function* () {
      const host = yield* RemoteHostService;
      return yield* Effect.promise(() => host.jobStatus("none"));
    });
    const status = await Effect.runPromise(program.pipe(Effect.provide(remoteHostLayer(hostsFile(sshd.hostKeyFingerprint), "box"))));
    expect(status).toMatchObject({ state: "unknown" });
  });

  it("fails with the typed error, catchable by tag", async () => {
    const program = Effect.gen(function* () {
      yield* RemoteHostService;
      return "connected";
    }).pipe(
      Effect.provide(remoteHostLayer(hostsFile(), "box")),
      Effect.catchTag("HostKeyUnknownError", (error) => Effect.succeed(`refused ${error.presented}`)),
    );
    expect(await Effect.runPromise(program)).toBe(`refused ${sshd.hostKeyFingerprint}`);
  });
});
