import type { Command } from "../command.ts";
import { antechamber } from "./antechamber.ts";
import { centroids } from "./centroids.ts";
import { drift } from "./drift.ts";
import { eventsTail } from "./events.ts";
import { ingest } from "./ingest.ts";
import { anchorAdd, ledgerExport } from "./ledger.ts";
import { mitosisApprove, mitosisDecline } from "./mitosis.ts";
import { modelMakeTiny } from "./model.ts";
import { preoccupationSeed } from "./preoccupation.ts";
import { night } from "./night.ts";
import { replay } from "./replay.ts";
import { status } from "./status.ts";
import { forget } from "./forget.ts";
import { auditAdapterCommand, auditInput } from "./audit.ts";
import { mcp } from "./mcp.ts";
import { agentAdd, agentList, agentRevoke } from "./agent.ts";
import { diff } from "./diff.ts";
import { report } from "./report.ts";
import { demo } from "./demo.ts";
import { traceCommand } from "./trace.ts";
import { up } from "./up.ts";
import { down } from "./down.ts";
import { adapters, train, trainCancel } from "./train.ts";
import { hostAdd, hostList, hostTrust } from "./host.ts";

/** Every `sophont` command; `--help` and the README's CLI reference are made from this list. */
export const commands: ReadonlyArray<Command> = [demo, up, down, ingest, preoccupationSeed, night, ledgerExport, anchorAdd, forget, auditInput, auditAdapterCommand, eventsTail, status, replay, traceCommand, diff, report, mcp, agentAdd, agentList, agentRevoke, modelMakeTiny, antechamber, centroids, drift, mitosisApprove, mitosisDecline, train, trainCancel, adapters, hostAdd, hostTrust, hostList];
