// The POSIX sh scripts run on the host. Each is one brace group, so a script cut short by a dropped
// link is a syntax error that runs nothing rather than half a job start. Every value is quoted.
//
// Job directory layout (all state a reconnect or a restarted Muscle needs lives here):
//   .started/  created atomically by the one start that launches the job (the idempotency guard)
//   run.sh     the wrapper: writes pid, runs the command, writes exit
//   pid        pid of the wrapper = id of the job's process group (setsid)
//   log        stdout and stderr, appended
//   exit       exit code, written when the command returns
//   cancelled  written by cancel before it kills the group

import type { JobStatus } from "../../actors/muscle/ports.ts";

/** Quotes a string for POSIX sh: the result is always exactly that one word. */
export const shQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

const group = (lines: readonly string[]): string => `{\n${lines.join("\n")}\n}\n`;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Job ids become directory names, so only a safe alphabet is allowed. */
export const assertJobId = (jobId: string): void => {
  if (!JOB_ID.test(jobId)) throw new TypeError(`invalid job id ${JSON.stringify(jobId)}: use letters, digits, '.', '_', '-' (max 128)`);
};

/** `mkdir -p` and print the absolute, resolved path. */
export const ensureDirScript = (dir: string): string =>
  group([`mkdir -p ${shQuote(dir)} && cd ${shQuote(dir)} && pwd -P`]);

/**
 * Prints the file's sha256 (hex) and then its size on the next line. OpenSSL comes first because it
 * uses the CPU's SHA extensions: 0.15 s for 200 MiB here where coreutils' sha256sum takes 0.75 s,
 * which was most of the verification cost of an upload. sha256sum and shasum are the fallbacks.
 */
const hashLines = (file: string): string[] => [
  `f=${shQuote(file)}`,
  `[ -f "$f" ] || { echo "no such file: $f" >&2; exit 2; }`,
  `if command -v openssl >/dev/null 2>&1 && h=$(openssl dgst -sha256 -r < "$f" 2>/dev/null) && [ -n "$h" ]; then :`,
  `elif command -v sha256sum >/dev/null 2>&1; then h=$(sha256sum < "$f")`,
  `else h=$(shasum -a 256 < "$f"); fi`,
  `h=\${h%% *}`,
  `echo "$h"`,
  `wc -c < "$f" | tr -d ' '`,
];

export const hashScript = (file: string): string => group(hashLines(file));

/** Hashes the uploaded temp file and moves it into place only when it matches `expected`. */
export const commitUploadScript = (temp: string, final: string, expected: string): string =>
  group([
    ...hashLines(temp),
    `if [ "$h" = ${shQuote(expected)} ]; then mv -f "$f" ${shQuote(final)}; else rm -f "$f"; fi`,
  ]);

/** The wrapper run under setsid: its pid is the process group's id. */
export const wrapperScript = (jobDir: string, command: string, cwd: string, env: Readonly<Record<string, string>>): string => {
  const exports = Object.entries(env).map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw new TypeError(`invalid environment variable name ${JSON.stringify(name)}`);
    return `${name}=${shQuote(value)}; export ${name}`;
  });
  return [
    `d=${shQuote(jobDir)}`,
    `echo $$ > "$d/pid.tmp" && mv -f "$d/pid.tmp" "$d/pid"`,
    `cd ${shQuote(cwd)} || { echo "cannot cd to ${cwd.replace(/[^\w./-]/g, "?")}"; echo 126 > "$d/exit"; exit 126; }`,
    ...exports,
    `/bin/sh -c ${shQuote(command)}`,
    `code=$?`,
    `echo "$code" > "$d/exit.tmp" && mv -f "$d/exit.tmp" "$d/exit"`,
    "",
  ].join("\n");
};

/** Launches the wrapper once per job directory, then prints `started|attached <pid>`. */
export const startScript = (jobDir: string, wrapper: string): string =>
  group([
    `d=${shQuote(jobDir)}`,
    `mkdir -p "$d" || exit 2`,
    `if mkdir "$d/.started" 2>/dev/null; then`,
    `  printf '%s' ${shQuote(wrapper)} > "$d/run.sh"`,
    `  setsid /bin/sh "$d/run.sh" < /dev/null >> "$d/log" 2>&1 &`,
    `  outcome=started`,
    `else`,
    `  outcome=attached`,
    `fi`,
    // The wrapper writes its own pid (setsid may fork, so $! is not trusted); wait up to 10 s for it.
    `i=0`,
    `while [ ! -s "$d/pid" ] && [ ! -f "$d/exit" ]; do`,
    `  i=$((i + 1)); [ "$i" -gt 200 ] && { echo "job was marked started but wrote no pid" >&2; exit 3; }`,
    `  sleep 0.05 2>/dev/null || sleep 1`,
    `done`,
    `echo "$outcome $(cat "$d/pid" 2>/dev/null || echo 0)"`,
  ]);

// Whether process group $1 has a member that is not a zombie. Exited members stay zombies until
// their new parent reaps them, and some init processes (containers, microVMs) reap only every second
// or so; `kill -0` alone would count those. Where /proc is missing, kill -0 is all there is.
const aliveFunction = [
  `alive() {`,
  `  g=$1`,
  `  kill -0 "-$g" 2>/dev/null || return 1`,
  `  [ -r /proc/self/stat ] || return 0`,
  `  for f in /proc/[0-9]*/stat; do`,
  `    line=`,
  `    { read -r line < "$f"; } 2>/dev/null || continue`,
  `    set -f; set -- \${line##*) }; set +f`,
  `    [ "$3" = "$g" ] && [ "$1" != Z ] && return 0`,
  `  done`,
  `  return 1`,
  `}`,
];

/** Prints one of: `cancelled`, `exited <code>`, `running <pid>`, `lost`, `none`. */
/** What statusScript printed, as a JobStatus (the same on every host kind). */
export const parseStatus = (output: string): JobStatus => {
  const [state, value] = output.trim().split(" ");
  switch (state) {
    case "running": return { state: "running", pid: Number(value) };
    case "exited": return { state: "exited", code: Number(value) };
    case "cancelled": return { state: "cancelled" };
    case "lost": return { state: "unknown", reason: "the job's processes are gone and it wrote no exit code" };
    default: return { state: "unknown", reason: "no such job on this host" };
  }
};

export const statusScript = (jobDir: string): string =>
  group([
    ...aliveFunction,
    `d=${shQuote(jobDir)}`,
    `p=$(cat "$d/pid" 2>/dev/null)`,
    `if [ -f "$d/cancelled" ]; then echo cancelled`,
    `elif [ -f "$d/exit" ]; then echo "exited $(cat "$d/exit")"`,
    // A group id is alive while any member lives, so children outliving the wrapper still count.
    `elif [ -n "$p" ] && alive "$p"; then echo "running $p"`,
    // Checked again: the job may have written its code and ended between the two checks above.
    `elif [ -f "$d/exit" ]; then echo "exited $(cat "$d/exit")"`,
    `elif [ -d "$d/.started" ]; then echo lost`,
    `else echo none; fi`,
  ]);

/** TERM to the whole group, KILL after the grace period; a job that already ended is left alone. */
export const cancelScript = (jobDir: string, graceMs: number): string =>
  group([
    ...aliveFunction,
    `d=${shQuote(jobDir)}`,
    `p=$(cat "$d/pid" 2>/dev/null)`,
    `if [ -f "$d/exit" ] || [ -z "$p" ]; then exit 0; fi`,
    `: > "$d/cancelled"`,
    `kill -TERM "-$p" 2>/dev/null || exit 0`,
    `i=0`,
    `while alive "$p" && [ "$i" -lt ${Math.ceil(graceMs / 100)} ]; do sleep 0.1 2>/dev/null || sleep 1; i=$((i + 1)); done`,
    `kill -KILL "-$p" 2>/dev/null`,
    `exit 0`,
  ]);

/** One `name, memory MiB` line per GPU; nothing when the host has no nvidia-smi. */
export const gpuScript = (): string =>
  group([
    `command -v nvidia-smi >/dev/null 2>&1 || exit 0`,
    `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`,
  ]);

/** Parses gpuScript's output. */
export const parseGpus = (stdout: string): { name: string; memoryMiB: number }[] =>
  stdout.split("\n").flatMap((line) => {
    const match = /^(.+),\s*(\d+)\s*$/.exec(line.trim());
    return match ? [{ name: match[1]!.trim(), memoryMiB: Number(match[2]) }] : [];
  });

/** Removes a directory that must lie strictly inside the work directory. */
export const cleanupScript = (dir: string): string => group([`rm -rf -- ${shQuote(dir)}`]);
