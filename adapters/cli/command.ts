import type { ParseArgsConfig } from "node:util";
import type { Config } from "./config.ts";

export interface CliContext {
  readonly config: Config;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Aborted on Ctrl-C / SIGTERM: long commands stop cleanly. */
  readonly signal: AbortSignal;
}

export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** One `sophont` command: its words, its help, its flags and what it does. */
export interface Command {
  readonly path: ReadonlyArray<string>;
  readonly summary: string;
  readonly usage: string;
  /** More lines for `--help`: what it does, examples. */
  readonly details?: string;
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  /** The home whose trace file gets this command's spans, when not the configured one (the demo's own home). */
  readonly traceHome?: (home: string) => string;
  run(ctx: CliContext, values: OptionValues, positionals: string[]): Promise<number | void>;
}

export const defineCommand = (c: Command): Command => c;

/** What `--help` and flag parsing need of a command: everything but what it does. */
export type CommandSpec = Pick<Command, "path" | "summary" | "usage" | "details" | "options">;

/**
 * The commands as the compiled CLI knows them without importing any (adapters/cli/build.mjs writes
 * them), and how to load the one that runs.
 */
export interface CommandManifest {
  readonly specs: ReadonlyArray<CommandSpec>;
  load(spec: CommandSpec): Promise<Command>;
}
