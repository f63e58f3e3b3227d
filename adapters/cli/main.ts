import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { CliContext, Command, CommandManifest, CommandSpec } from "./command.ts";
import { NotFoundError, UsageError } from "./format.ts";

const globalOptions = {
  home: { type: "string" },
  "nats-url": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

const GLOBAL_HELP = [
  "  --home DIR        Sophont's home: config.json, secrets, the embedded server's store (SOPHONT_HOME, default ~/.sophont)",
  "  --nats-url URL    use this NATS server instead of the embedded one (SOPHONT_NATS_URL)",
  "  -h, --help        this help",
].join("\n");

const version = (): string => (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** `sophont --help`: every command with its summary. */
export const mainHelp = (commands: ReadonlyArray<CommandSpec>): string =>
  [
    "sophont: a local LLM that improves itself safely and can prove every step it took",
    "",
    "usage: sophont <command> [options]",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.path.join(" ").padEnd(16)} ${c.summary}`),
    "",
    "global options:",
    GLOBAL_HELP,
    "",
    "`sophont <command> --help` tells more about one command.",
  ].join("\n");

/** `sophont <command> --help`. */
export const commandHelp = (c: CommandSpec): string =>
  [`usage: ${c.usage}`, "", c.summary, ...(c.details ? ["", c.details] : []), "", "global options:", GLOBAL_HELP].join("\n");

const findCommand = <C extends CommandSpec>(commands: ReadonlyArray<C>, words: string[]): { command: C | undefined; rest: string[] } => {
  const sorted = [...commands].sort((a, b) => b.path.length - a.path.length);
  for (const c of sorted) if (c.path.every((w, i) => words[i] === w)) return { command: c, rest: words.slice(c.path.length) };
  return { command: undefined, rest: words };
};

/** Every command, imported (from the sources: the compiled CLI passes a manifest instead). */
const importedCommands = async (): Promise<CommandManifest> => {
  const { commands } = await import("./commands/index.ts");
  return { specs: commands, load: async (spec) => spec as Command };
};

/**
 * Runs the CLI; returns the exit code. Errors are printed with what to do next, never as a stack.
 * With a manifest (the compiled CLI's), only the command that runs is imported.
 */
export const main = async (argv: string[], io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) }, manifest?: CommandManifest): Promise<number> => {
  const { specs: commands, load } = manifest ?? (await importedCommands());
  // Find the command words with every flag of every command known, so option values are not taken for words.
  const allOptions = Object.assign({}, globalOptions, ...commands.map((c) => c.options));
  const words = parseArgs({ args: argv, options: allOptions, allowPositionals: true, strict: false }).positionals;
  const { command: spec } = findCommand(commands, words);
  const withoutPath = spec ? removePath(argv, spec.path) : argv;
  try {
    const parsed = parseArgs({ args: withoutPath, options: { ...globalOptions, ...(spec?.options ?? {}) }, allowPositionals: true, strict: true });
    const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
    if (v.version) {
      io.out(version());
      return 0;
    }
    if (!spec) {
      if (words.length > 0) {
        io.err(`sophont: unknown command "${words.join(" ")}"\n`);
        io.err(mainHelp(commands));
        return 2;
      }
      io.out(mainHelp(commands));
      return v.help ? 0 : 2;
    }
    if (v.help) {
      io.out(commandHelp(spec));
      return 0;
    }
    // Imported here, not at the top: `--help` needs neither the config's validators nor a command.
    const [command, { loadConfig }, { inSpan }] = await Promise.all([load(spec), import("./config.ts"), import("../../events/tracing.ts")]);
    const config = loadConfig({ home: v.home as string | undefined, natsUrl: v["nats-url"] as string | undefined });
    for (const note of config.notes) io.err(`note: ${note}`);
    const controller = new AbortController();
    // The first Ctrl-C / SIGTERM stops cleanly; a second one, of either kind, exits at once.
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) {
        io.err(`sophont: ${signal} again: exiting without waiting`);
        process.exit(signal === "SIGINT" ? 130 : 143);
      }
      controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const ctx: CliContext = { config, out: io.out, err: io.err, signal: controller.signal };
    const telemetry = command.path[0] === "trace" || process.env.OTEL_SDK_DISABLED === "true" ? undefined : await (await import("../telemetry/setup.ts")).startTelemetry({ home: command.traceHome?.(config.home) ?? config.home, airlock: config.airlock });
    try {
      const name = `cli ${command.path.join(" ")}`;
      return (await inSpan(name, undefined, { "sophont.actor": "cli", "sophont.cli.args": parsed.positionals.join(" "), ...(v.private === true ? { "sophont.private": true } : {}) }, async () => command.run(ctx, v, parsed.positionals))) ?? 0;
    } finally {
      await telemetry?.shutdown().catch(() => undefined);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError || err.name === "TypeError" && /Unknown option|unexpected argument/i.test(err.message) || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`sophont: ${err.message}`);
      io.err(spec ? `usage: ${spec.usage}  (sophont ${spec.path.join(" ")} --help)` : "see sophont --help");
      return 2;
    }
    if (err instanceof NotFoundError) {
      io.err(`sophont: ${err.message}`);
      return 1;
    }
    if (err.name === "ConfigError") {
      io.err(`sophont: configuration: ${err.message}`);
      return 2;
    }
    io.err(`sophont: ${err.message}`);
    if (process.env.SOPHONT_DEBUG) io.err(String(err.stack));
    else io.err("(set SOPHONT_DEBUG=1 for the stack trace)");
    return 1;
  }
};

const removePath = (argv: string[], path: ReadonlyArray<string>): string[] => {
  const out = [...argv];
  for (const w of path) out.splice(out.indexOf(w), 1);
  return out;
};

/** The process entry (bin.mjs calls it, however the command was reached: npx, a global install, a symlink). */
export const runAsProcess = async (argv: string[], manifest?: CommandManifest): Promise<never> => {
  // `sophont ... | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => (e.code === "EPIPE" ? process.exit(0) : undefined));
  const code = await main(argv, undefined, manifest);
  // main has let go of its signal handlers: a Ctrl-C while the output drains still exits as one, never by
  // the signal's default (which would leave no exit code).
  process.on("SIGINT", () => process.exit(130));
  process.on("SIGTERM", () => process.exit(143));
  // Writes to a pipe are asynchronous: exiting at once would cut `sophont events tail --json | jq`
  // at the pipe's 64 KiB. An empty write calls back once everything queued before it is written.
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((res) => (s.writableLength === 0 ? res() : s.write("", () => res())))));
  return process.exit(code);
};
