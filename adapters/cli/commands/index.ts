import type { Command } from "../command.ts";
import { eventsTail } from "./events.ts";
import { ingest } from "./ingest.ts";
import { anchorAdd, ledgerExport } from "./ledger.ts";
import { modelMakeTiny } from "./model.ts";
import { preoccupationSeed } from "./preoccupation.ts";
import { night } from "./night.ts";
import { replay } from "./replay.ts";
import { status } from "./status.ts";
import { traceCommand } from "./trace.ts";
import { up } from "./up.ts";

/** Every `sophont` command; `--help` and the README's CLI reference are made from this list. */
export const commands: ReadonlyArray<Command> = [up, ingest, preoccupationSeed, night, ledgerExport, anchorAdd, eventsTail, status, replay, traceCommand, modelMakeTiny];
