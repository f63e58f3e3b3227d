import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HostsFileError } from "../../../adapters/ssh/errors.ts";
import { findHost, hostsFilePath, loadHosts } from "../../../adapters/ssh/hosts.ts";

const home = mkdtempSync(path.join(os.tmpdir(), "sophont-hosts-"));
const file = hostsFilePath(home);
const write = (content: unknown) => writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
const issuesOf = async (): Promise<readonly string[]> => {
  const error = await loadHosts(file).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(HostsFileError);
  return (error as HostsFileError).issues;
};
const valid = { name: "h100", host: "gpu.example", user: "train", keyPath: "keys/id_ed25519" };
const pin = "SHA256:csm1hsKMSckAEyOsgeP0f4KTx32w2hfCbX74qTf4chM";

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("hosts file", () => {
  it("applies defaults and resolves the key path against the file's directory", async () => {
    write({ hosts: [valid, { ...valid, name: "pinned", port: 2222, hostKeyFingerprint: pin, workDir: "/srv/sophont", gpu: { kind: "cuda", model: "H100", minMemoryGiB: 80 }, passphraseEnv: "H100_KEY_PASS" }] });
    const [plain, pinned] = await loadHosts(file);
    expect(plain).toEqual({ ...valid, port: 22, keyPath: path.join(home, "keys/id_ed25519"), workDir: "sophont", gpu: { kind: "none" } });
    expect(pinned).toMatchObject({ port: 2222, hostKeyFingerprint: pin, workDir: "/srv/sophont", gpu: { kind: "cuda", model: "H100", minMemoryGiB: 80 }, passphraseEnv: "H100_KEY_PASS" });
  });

  it("says when the file is missing or is not JSON or has no hosts list", async () => {
    rmSync(file, { force: true });
    expect(await issuesOf()).toEqual([expect.stringMatching(/no hosts file/)]);
    write("{ hosts: [");
    expect(await issuesOf()).toEqual([expect.stringMatching(/not valid JSON/)]);
    write({ machines: [] });
    expect(await issuesOf()).toEqual([`expected {"hosts": [ ... ]} at the top level`]);
  });

  it("lists every problem at once, each with its path", async () => {
    write({ hosts: [{ ...valid, port: "22x", hostKeyFingerprint: "MD5:aa:bb", gpu: { kind: "tpu", minMemoryGiB: -1 } }, { name: "b", host: "", keyPath: 3 }, "nope"] });
    expect(await issuesOf()).toEqual([
      `hosts[0].port: expected an integer from 1 to 65535, got "22x"`,
      `hosts[0].hostKeyFingerprint: expected "SHA256:" and 43 base64 characters (as ssh-keygen -l prints), got "MD5:aa:bb"`,
      `hosts[0].gpu.kind: expected "cuda" or "none", got "tpu"`,
      `hosts[0].gpu.minMemoryGiB: expected a positive number, got -1`,
      `hosts[1].host: expected a non-empty string, got ""`,
      `hosts[1].user: expected a non-empty string, got undefined`,
      `hosts[1].keyPath: expected a non-empty string, got 3`,
      `hosts[2]: expected an object, got "nope"`,
    ]);
  });

  it("refuses secrets and unknown fields, and duplicate names", async () => {
    write({ hosts: [{ ...valid, passphrase: "hunter2", hostkey: pin }, valid] });
    const issues = await issuesOf();
    expect(issues).toEqual([
      "hosts[0].passphrase: secrets do not belong in the hosts file; name an environment variable in passphraseEnv",
      expect.stringMatching(/^hosts\[0\]\.hostkey: unknown field \(known: name, host, port/),
    ]);
    expect(issues.join("\n")).not.toContain("hunter2");
    write({ hosts: [valid, valid] });
    expect(await issuesOf()).toEqual([`hosts: the name "h100" is used twice`]);
  });

  it("names the known hosts when asked for an unknown one", async () => {
    write({ hosts: [valid] });
    await expect(findHost(file, "a100")).rejects.toThrow(/no host named "a100" \(known: h100\)/);
  });
});
