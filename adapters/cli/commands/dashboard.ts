import { defineCommand, type CliContext, type OptionValues } from "../command.ts";
import { printResult, UsageError } from "../format.ts";
import { openRuntime, type Runtime } from "../runtime.ts";
import { ObjectContentStore } from "../../nats/content-store.ts";
import type { Dashboard } from "../../dashboard/server.ts";
import { refusal } from "../../dashboard/address.ts";

/** The dashboard's flags, shared with `sophont up --dashboard`. */
export const DASHBOARD_OPTIONS = { host: { type: "string" }, port: { type: "string" }, token: { type: "string" } } as const;

/** Where and how it listens, the flags over the config; refused (before anything starts) off loopback without a token. */
export const dashboardSettings = (ctx: CliContext, v: OptionValues): { host: string; port: number; token: string | undefined } => {
  const port = v.port === undefined ? ctx.config.dashboard.port : Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port takes a port number (0 to 65535; 0 picks a free one), got ${v.port}`);
  const s = { host: (v.host as string | undefined) ?? ctx.config.dashboard.host, port, token: (v.token as string | undefined) ?? ctx.config.dashboard.token };
  const refused = refusal(s.host, s.token);
  if (refused) throw new UsageError(refused);
  return s;
};

/** Starts the dashboard on a runtime; a failure to listen is a usage error that says what to do. */
export const serveDashboard = async (ctx: CliContext, rt: Runtime, v: OptionValues): Promise<Dashboard> => {
  const settings = dashboardSettings(ctx, v);
  const { startDashboard, DashboardError } = await import("../../dashboard/server.ts");
  try {
    return await startDashboard({ store: rt.store, content: new ObjectContentStore(rt.nc), airlock: ctx.config.airlock, ...settings });
  } catch (e) {
    if (e instanceof DashboardError) throw new UsageError(e.message);
    throw e;
  }
};

export const dashboard = defineCommand({
  path: ["dashboard"],
  summary: "serve a live, read-only web page of the log: timeline, time slider, diff, drift, the Antechamber, rejections, lineage, training",
  usage: "sophont dashboard [--host 127.0.0.1] [--port 8484] [--token T] [--json]",
  details: [
    "Serves on 127.0.0.1 by default (config.json `dashboard.host`/`port`, SOPHONT_DASHBOARD_HOST/PORT); --port 0 picks a free port.",
    "Any other address needs a token (--token or SOPHONT_DASHBOARD_TOKEN): without one it refuses to start. It only reads the log.",
    "Texts are those agents may read under the airlock; inputs' own texts appear as they are only on loopback, never a private or",
    "forgotten one. `sophont up --dashboard` (or `dashboard.up` in config.json) serves it with the actors. --json prints { url, host, port }.",
  ].join("\n"),
  options: { ...DASHBOARD_OPTIONS, json: { type: "boolean" } },
  run: async (ctx, v): Promise<number> => {
    dashboardSettings(ctx, v);
    const rt = await openRuntime(ctx.config, ctx.err);
    try {
      const d = await serveDashboard(ctx, rt, v);
      printResult(ctx, v.json, { url: d.url, host: d.host, port: d.port }, () => [`dashboard: ${d.url}`, "read-only; Ctrl-C to stop"]);
      await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener("abort", () => resolve(), { once: true })));
      await d.close();
      return 0;
    } finally {
      await rt.close();
    }
  },
});
