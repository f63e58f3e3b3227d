import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
// ssh2 is loaded by the host commands when they run, not for `--help`.
const sshHosts = () => import("../../ssh/hosts.ts");
import { defineCommand } from "../command.ts";
import { printResult, table, UsageError } from "../format.ts";

/** Adds an entry to the hosts file, written whole through a temporary file; validated on the next load. */
const addEntry = (file: string, entry: Record<string, unknown>): void => {
  const raw = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { hosts: Array<Record<string, unknown>> }) : { hosts: [] };
  if (raw.hosts.some((h) => h.name === entry.name)) throw new UsageError(`a host named ${String(entry.name)} is already in ${file}`);
  raw.hosts.push(entry);
  writeFileSync(`${file}.tmp`, JSON.stringify(raw, null, 2) + "\n", { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
};

export const hostAdd = defineCommand({
  path: ["host", "add"],
  summary: "add a GPU host reached over SSH to the hosts file (its key is pinned by `host trust`)",
  usage: "sophont host add NAME --host ADDRESS --user USER --key PATH [--port 22] [--workdir DIR] [--gpu cuda|none] [--min-memory GIB] [--passphrase-env VAR] [--json]",
  details: "Keys and passphrases never enter the file: --key names the private key's path, --passphrase-env the variable holding its passphrase.",
  options: {
    host: { type: "string" }, user: { type: "string" }, key: { type: "string" }, port: { type: "string" }, workdir: { type: "string" },
    gpu: { type: "string" }, "min-memory": { type: "string" }, "passphrase-env": { type: "string" }, json: { type: "boolean" },
  },
  run: async (ctx, v, args) => {
    const [name] = args;
    if (!name || args.length > 1 || !v.host || !v.user || !v.key) throw new UsageError("usage: sophont host add NAME --host ADDRESS --user USER --key PATH");
    const { hostsFilePath, findHost, loadHosts } = await sshHosts();
    const file = hostsFilePath(ctx.config.home);
    const gpu = v.gpu === "cuda" ? { kind: "cuda", ...(v["min-memory"] ? { minMemoryGiB: Number(v["min-memory"]) } : {}) } : { kind: "none" };
    addEntry(file, {
      name, host: v.host, port: Number(v.port ?? 22), user: v.user, keyPath: v.key, gpu,
      ...(v.workdir ? { workDir: v.workdir } : {}), ...(v["passphrase-env"] ? { passphraseEnv: v["passphrase-env"] } : {}),
    });
    await findHost(file, name); // validates what was written, with every problem named
    printResult(ctx, v.json, { added: name, file, pinned: false }, () => `added ${name}; pin its host key with \`sophont host trust ${name}\` (compare the fingerprint with the host's own)`);
  },
});

export const hostTrust = defineCommand({
  path: ["host", "trust"],
  summary: "pin the host key a host presents now (an unknown or changed key is refused until then)",
  usage: "sophont host trust NAME [--expect SHA256:...] [--json]",
  details: "With --expect (read off the host's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), a different key is refused.",
  options: { expect: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v, args) => {
    if (args.length !== 1) throw new UsageError("name one host");
    const { trustHost, hostsFilePath } = await sshHosts();
    const { fingerprint, previous } = await trustHost(hostsFilePath(ctx.config.home), args[0]!, v.expect as string | undefined);
    printResult(ctx, v.json, { host: args[0], fingerprint, previous: previous ?? null }, () =>
      previous && previous !== fingerprint ? `${args[0]}: pinned ${fingerprint} (replacing ${previous})` : `${args[0]}: pinned ${fingerprint}`);
  },
});

export const hostList = defineCommand({
  path: ["host", "list"],
  summary: "the hosts the Muscle may train on, with their pinned keys",
  usage: "sophont host list [--json]",
  options: { json: { type: "boolean" } },
  run: async (ctx, v) => {
    const { hostsFilePath, findHost, loadHosts } = await sshHosts();
    const file = hostsFilePath(ctx.config.home);
    if (!existsSync(file)) return printResult(ctx, v.json, { hosts: [] }, () => "no hosts: training runs on this machine (add one with `sophont host add`)");
    const hosts = await loadHosts(file);
    if (v.json) return void ctx.out(JSON.stringify({ hosts }, null, 2));
    ctx.out(table([
      ["name", "address", "work dir", "gpu", "host key"],
      ...hosts.map((h) => [h.name, `${h.user}@${h.host}:${h.port}`, h.workDir, h.gpu.kind === "cuda" ? `cuda${h.gpu.minMemoryGiB ? ` >= ${h.gpu.minMemoryGiB} GiB` : ""}` : "none", h.hostKeyFingerprint ?? "NOT PINNED"]),
    ]));
  },
});
