// A real OpenSSH sshd on loopback for integration tests and benchmarks: its own host key, its own
// authorised key and a dedicated user whose shell is /bin/sh (root's login shell start-up costs
// over a second per command here, which would dominate every remote step).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import os from "node:os";
import path from "node:path";

/** A running sshd and the means to break it in the ways the tests need. */
export interface Sshd {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** The user's home; a good place for work directories. */
  readonly home: string;
  readonly privateKeyPath: string;
  /** The host key's fingerprint as OpenSSH prints it (`SHA256:...`). */
  readonly hostKeyFingerprint: string;
  /** The host's public key line (`ssh-ed25519 AAAA...`), e.g. for a known_hosts file. */
  readonly hostPublicKey: string;
  /** Scratch directory of this sshd (config, keys); removed by stop(). */
  readonly dir: string;
  stop(): Promise<void>;
  /** Kills the per-connection sshd processes, as a dropped link would; the listener stays up. */
  killSessions(): void;
  /** Replaces the host key and restarts the listener on the same port; returns the new fingerprint. */
  rotateHostKey(): Promise<string>;
}

export interface SshdOptions {
  /** The login user; created with /bin/sh as its shell when missing (we run as root). */
  readonly user?: string;
}

const DEFAULT_USER = "sophont-ssh";

/** OpenSSH's SHA256 fingerprint of a public key line: unpadded base64 of sha256(key blob). */
export const fingerprintOf = (publicKeyLine: string): string => {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
};

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });

/** The user's home directory, or undefined when there is no such user. */
const homeOf = (user: string): string | undefined =>
  readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${user}:`))?.split(":")[5];

const ensureUser = (user: string): string => {
  if (!homeOf(user)) {
    try {
      execFileSync("useradd", ["--create-home", "--shell", "/bin/sh", user], { stdio: "pipe" });
    } catch (error) {
      // Another test file may have created it at the same moment; only a still-missing user is fatal.
      if (!homeOf(user)) throw error;
    }
  }
  // useradd leaves the password "!" (locked); without PAM sshd refuses locked accounts even for keys.
  execFileSync("usermod", ["-p", "*", user], { stdio: "pipe" });
  return homeOf(user)!;
};

const keygen = (file: string, comment: string): string => {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { stdio: "pipe" });
  return readFileSync(`${file}.pub`, "utf8").trim();
};

// StrictModes off: the keys live in a temp directory owned by root, not in the user's ~/.ssh.
const configText = (dir: string, port: number, user: string): string => `Port ${port}
ListenAddress 127.0.0.1
HostKey ${dir}/host_ed25519
PidFile ${dir}/sshd.pid
AuthorizedKeysFile ${dir}/authorized_keys
AllowUsers ${user}
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
UseDNS no
MaxSessions 64
MaxStartups 64:30:128
LogLevel ERROR
Subsystem sftp internal-sftp
`;

/** Pids of every sshd process below `root` (the per-connection monitors and their session children). */
const sshdDescendants = (root: number): number[] => {
  const children = new Map<number, number[]>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, close));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we listed /proc.
    }
  }
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      if (names.get(child) !== "sshd") continue; // user processes (detached jobs) are not ours to kill
      found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
};

const bannerAt = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("SSH-"));
    });
    socket.once("error", () => resolve(false));
  });

/** Starts the listener and resolves once it answers with an SSH banner (at LogLevel ERROR it logs nothing). */
const launch = (dir: string, port: number): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    writeFileSync(`${dir}/sshd_config`, configText(dir, port, readFileSync(`${dir}/user`, "utf8")));
    const child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", `${dir}/sshd_config`], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      child.kill("SIGKILL");
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`sshd did not start within 10 s: ${log}`)), 10_000);
    child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.once("error", fail);
    child.once("exit", (code) => fail(new Error(`sshd exited with ${code}: ${log}`)));
    void (async () => {
      while (!settled && !(await bannerAt(port))) await new Promise((r) => setTimeout(r, 25));
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      // A test process that dies without stop() must not leave its sshd behind.
      const reap = (): void => void child.kill("SIGKILL");
      process.once("exit", reap);
      child.once("exit", () => process.removeListener("exit", reap));
      resolve(child);
    })();
  });

const stopChild = (proc: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGTERM");
  });

/** A free port can be taken between our probe and sshd's bind; a few tries make that harmless. */
const launchOnFreePort = async (dir: string): Promise<{ child: ChildProcess; port: number }> => {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return { child: await launch(dir, port), port };
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
};

/** Starts sshd on a free loopback port; call stop() when done. */
export const startSshd = async (options: SshdOptions = {}): Promise<Sshd> => {
  const user = options.user ?? DEFAULT_USER;
  const home = ensureUser(user);
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(path.join(os.tmpdir(), "sophont-sshd-"));
  // sshd reads authorized_keys as the login user, so the directory and that file must be readable.
  chmodSync(dir, 0o755);
  writeFileSync(`${dir}/user`, user);
  let hostPublicKey = keygen(`${dir}/host_ed25519`, "sophont-test-host");
  writeFileSync(`${dir}/authorized_keys`, keygen(`${dir}/client_ed25519`, "sophont-test-client") + "\n", { mode: 0o644 });
  const launched = await launchOnFreePort(dir);
  const port = launched.port;
  let child = launched.child;
  const killSessions = (): void => {
    for (const pid of sshdDescendants(child.pid!)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  return {
    host: "127.0.0.1",
    port,
    user,
    home,
    privateKeyPath: `${dir}/client_ed25519`,
    get hostKeyFingerprint() { return fingerprintOf(hostPublicKey); },
    get hostPublicKey() { return hostPublicKey; },
    dir,
    killSessions,
    async stop() {
      killSessions();
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
    async rotateHostKey() {
      // sshd reads host keys only at start, so a new key means a new listener on the same port.
      killSessions();
      await stopChild(child);
      hostPublicKey = keygen(`${dir}/host_ed25519`, "sophont-test-host-rotated");
      child = await launch(dir, port);
      return fingerprintOf(hostPublicKey);
    },
  };
};
