import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { CliContext, Command } from "./command.ts";
import { commands } from "./commands/index.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { NotFoundError, UsageError } from "./format.ts";
import { inSpan } from "../../events/tracing.ts";

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
export const mainHelp = (): string =>
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
export const commandHelp = (c: Command): string =>
  [`usage: ${c.usage}`, "", c.summary, ...(c.details ? ["", c.details] : []), "", "global options:", GLOBAL_HELP].join("\n");

const findCommand = (words: string[]): { command: Command | undefined; rest: string[] } => {
  const sorted = [...commands].sort((a, b) => b.path.length - a.path.length);
  for (const c of sorted) if (c.path.every((w, i) => words[i] === w)) return { command: c, rest: words.slice(c.path.length) };
  return { command: undefined, rest: words };
};

/** Runs the CLI; returns the exit code. Errors are printed with what to do next, never as a stack. */
export const main = async (argv: string[], io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) }): Promise<number> => {
  // Find the command words with every flag of every command known, so option values are not taken for words.
  const allOptions = Object.assign({}, globalOptions, ...commands.map((c) => c.options));
  const words = parseArgs({ args: argv, options: allOptions, allowPositionals: true, strict: false }).positionals;
  const { command } = findCommand(words);
  const withoutPath = command ? removePath(argv, command.path) : argv;
  try {
    const parsed = parseArgs({ args: withoutPath, options: { ...globalOptions, ...(command?.options ?? {}) }, allowPositionals: true, strict: true });
    const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
    if (v.version) {
      io.out(version());
      return 0;
    }
    if (!command) {
      if (words.length > 0) {
        io.err(`sophont: unknown command "${words.join(" ")}"\n`);
        io.err(mainHelp());
        return 2;
      }
      io.out(mainHelp());
      return v.help ? 0 : 2;
    }
    if (v.help) {
      io.out(commandHelp(command));
      return 0;
    }
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
    const telemetry = command.path[0] === "trace" ? undefined : (await import("../telemetry/setup.ts")).startTelemetry({ home: command.traceHome?.(config.home) ?? config.home });
    try {
      const name = `cli ${command.path.join(" ")}`;
      return (await inSpan(name, undefined, { "sophont.actor": "cli", "sophont.cli.args": parsed.positionals.join(" ") }, async () => command.run(ctx, v, parsed.positionals))) ?? 0;
    } finally {
      await telemetry?.shutdown().catch(() => undefined);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError || err.name === "TypeError" && /Unknown option|unexpected argument/i.test(err.message) || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`sophont: ${err.message}`);
      io.err(command ? `usage: ${command.usage}  (sophont ${command.path.join(" ")} --help)` : "see sophont --help");
      return 2;
    }
    if (err instanceof NotFoundError) {
      io.err(`sophont: ${err.message}`);
      return 1;
    }
    if (err instanceof ConfigError) {
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
export const runAsProcess = async (argv: string[]): Promise<never> => {
  // `sophont ... | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => (e.code === "EPIPE" ? process.exit(0) : undefined));
  return process.exit(await main(argv));
};
