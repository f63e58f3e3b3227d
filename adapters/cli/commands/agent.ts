import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { EVENT_STREAM } from "../../../events/subjects.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { IMPORTED_API, agentConsumer, AgentNameError, AGENT_NAME, deleteAgentConsumer } from "../../nats/accounts.ts";
import { agentCommandDocs, agentFileExtras, listAgents, newAgentIdentity, removeAgentFile, writeAgentFile, type AgentIdentity } from "../../nats/agents.ts";
import { defaultNatsConf } from "../../nats/server.ts";
import { reloadServer, writeServerConfig } from "../../nats/server-config.ts";
import { defineCommand, type CliContext } from "../command.ts";
import { UsageError } from "../format.ts";
import { embeddedPort, openRuntime, upgradeHome } from "../runtime.ts";

const oneName = (args: string[]): string => {
  const name = args[0];
  if (!name || args.length > 1 || !AGENT_NAME.test(name)) throw new UsageError("name one agent: 1-64 letters, digits, - and _");
  return name;
};

/**
 * Brings the server in line with the agents on file: the Soul's consumers (made by openRuntime; a
 * revoked agent's deleted here), then the accounts, rewritten beside the running embedded server's nats.conf and
 * reloaded (SIGHUP), which disconnects a revoked agent's live connection. Says what was done.
 */
const applyAgents = async (ctx: CliContext, revoked?: string): Promise<{ reloaded: boolean; url: string; confDir: string; pid?: number }> => {
  const rt = await openRuntime(ctx.config, ctx.err);
  try {
    if (revoked) await deleteAgentConsumer(await jetstreamManager(rt.nc), revoked);
    const version = rt.server.durability?.serverVersion ?? "0.0.0";
    const confDir = rt.server.confPath ? join(rt.server.confPath, "..") : join(ctx.config.home, "nats");
    writeServerConfig(confDir, defaultNatsConf, listAgents(ctx.config.home), version);
    // A server this process started read the new config when it started; one started by another
    // process (`sophont up`) reloads it now. An external server is its operator's to reload.
    const reload = rt.server.embedded && !rt.server.ownedByThisProcess && rt.server.pid !== undefined;
    if (reload) reloadServer(rt.server.pid!);
    return { reloaded: reload, url: rt.server.url, confDir, ...(reload ? { pid: rt.server.pid! } : {}) };
  } finally {
    await rt.close();
  }
};

/**
 * Waits until the server accepts (or refuses) the agent's credentials, so the command's word holds when
 * it returns. nats-server 2.9.10 wires a new account's imports to exports added in the same reload
 * only on the next reload (measured: "no responders" after one SIGHUP, answered after a second), so an
 * added agent is probed through its consumer's info and the server reloaded again until it answers.
 */
const waitForCredentials = async (url: string, a: AgentIdentity, accepted: boolean, pid?: number): Promise<boolean> => {
  for (let i = 0; i < 40; i++) {
    try {
      const nc = await connect({ servers: url.split(","), user: a.user, pass: a.password, name: "sophont-agent-check", reconnect: false, timeout: 2_000 });
      const wired = await nc
        .request(`${IMPORTED_API}.CONSUMER.INFO.${EVENT_STREAM}.${agentConsumer(a.name)}`, "", { timeout: 1_000 })
        .then(() => true, () => false);
      await nc.close();
      if (accepted && wired) return true;
      if (accepted && pid !== undefined && i % 3 === 2) reloadServer(pid);
    } catch {
      if (!accepted) return true;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return false;
};

export const agentAdd = defineCommand({
  path: ["agent", "add"],
  summary: "give an outside agent its own NATS account: read events through its consumer, send the agents' commands, nothing else",
  usage: "sophont agent add NAME [--url nats://HOST:PORT] [--json]",
  details: [
    "Writes $SOPHONT_HOME/agents/NAME.json (mode 0600): the agent's own user and password, the URL, how to",
    "read the events (the durable consumer agent-NAME the Soul makes for it, under the API prefix",
    "$JS.SOPHONT.API) and the commands it may send with an example request each. The agent's account sees",
    "nothing else: no content store, no other consumer, no JetStream of its own; the sender of its commands",
    "is written by the server (agent:NAME). A running embedded server reloads its config at once.",
    "--url defaults to the embedded server's stable address for this home.",
  ].join("\n"),
  options: { url: { type: "string" }, json: { type: "boolean" } },
  run: async (ctx, v, args) => {
    const name = oneName(args);
    upgradeHome(ctx.config.home, ctx.err);
    if (listAgents(ctx.config.home).some((a) => a.name === name)) {
      throw new UsageError(`agent ${name} exists; \`sophont agent revoke ${name}\` first to give it new credentials`);
    }
    const given = (v.url as string | undefined) ?? ctx.config.natsUrl;
    const embedded = given === undefined;
    let url = given ?? `nats://127.0.0.1:${embeddedPort(ctx.config.home)}`;
    const identity = newAgentIdentity(name);
    const file = writeAgentFile(ctx.config.home, identity, agentFileExtras(identity, url, embedded));
    const applied = await applyAgents(ctx);
    // The home's embedded server may sit on another port than the stable one (it was taken, perhaps
    // by another home's server): the file names the one that runs (every later start keeps it current).
    if (embedded && applied.url !== url) {
      url = applied.url;
      writeAgentFile(ctx.config.home, identity, agentFileExtras(identity, url, embedded));
    }
    if (applied.reloaded && !(await waitForCredentials(applied.url, identity, true, applied.pid))) {
      ctx.err(`the server at ${applied.url} does not accept agent ${name} yet; restart \`sophont up\``);
    }
    const commands = agentCommandDocs().map((c) => c.subject);
    if (v.json) return void ctx.out(JSON.stringify({ name, file, user: identity.user, account: identity.account, consumer: agentConsumer(name), url, commands }, null, 2));
    ctx.out(`credentials for agent ${name}: ${file}`);
    ctx.out(`connect to ${url} as user "${identity.user}" (account ${identity.account}); read events from consumer ${agentConsumer(name)} with API prefix $JS.SOPHONT.API`);
    ctx.out(`commands open to agents: ${commands.join(", ")}`);
    if (ctx.config.natsUrl) ctx.out(`an external server: run it with ${join(applied.confDir, "nats.conf")} (and its includes there), or reload it with them`);
  },
});

export const agentList = defineCommand({
  path: ["agent", "list"],
  summary: "the outside agents that have credentials, with their NATS user and consumer",
  usage: "sophont agent list [--json]",
  options: { json: { type: "boolean" } },
  run: async (ctx, v) => {
    upgradeHome(ctx.config.home, ctx.err);
    const agents = listAgents(ctx.config.home).map((a) => ({ name: a.name, user: a.user, account: a.account, consumer: agentConsumer(a.name), created: a.created }));
    if (v.json) return void ctx.out(JSON.stringify(agents, null, 2));
    if (agents.length === 0) return void ctx.out("no agents (add one with `sophont agent add NAME`)");
    for (const a of agents) ctx.out(`${a.name}  user ${a.user}  consumer ${a.consumer}  since ${a.created}`);
  },
});

export const agentRevoke = defineCommand({
  path: ["agent", "revoke"],
  summary: "take an agent's credentials away: its account and consumer go, and a live connection is cut",
  usage: "sophont agent revoke NAME [--json]",
  details: "Removes agents/NAME.json, deletes its consumer, rewrites the server's accounts and reloads a running embedded server: the agent is disconnected at once and cannot connect again.",
  options: { json: { type: "boolean" } },
  run: async (ctx, v, args) => {
    const name = oneName(args);
    upgradeHome(ctx.config.home, ctx.err);
    const before = listAgents(ctx.config.home).find((a) => a.name === name);
    try {
      if (!removeAgentFile(ctx.config.home, name)) throw new UsageError(`no agent ${name} (see \`sophont agent list\`)`);
    } catch (e) {
      throw e instanceof AgentNameError ? new UsageError(e.message) : e;
    }
    const applied = await applyAgents(ctx, name);
    const refused = before && applied.reloaded ? await waitForCredentials(applied.url, before, false) : undefined;
    if (v.json) return void ctx.out(JSON.stringify({ name, revoked: true, reloaded: applied.reloaded, refusedNow: refused ?? null }, null, 2));
    ctx.out(`revoked agent ${name}${applied.reloaded ? ": the server reloaded its accounts and disconnected it" : ""}`);
    if (ctx.config.natsUrl) ctx.out(`an external server: reload it with ${join(applied.confDir, "nats.conf")} to cut a live connection`);
  },
});
