import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AckPolicy, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { COMMAND_PREFIX, EVENT_STREAM } from "../../events/subjects.ts";
import { commands as commandDefs } from "../../events/commands.ts";

/**
 * Who may talk to Sophont's NATS server, as NATS accounts (nats-server 2.9+).
 *
 * Permissions inside one account cannot stop a user from subscribing to `_INBOX.>` (where every
 * JetStream delivery of that account travels) or from creating a consumer whose config delivers
 * anything anywhere, so every outside party gets an account of its own and sees only what the
 * SOPHONT account exports to it:
 *  - agent NAME (account AGENT_NAME): its commands, imported as `sophont.cmd.>` from the SOPHONT
 *    account's `sophont.cmd.agent.NAME.>` (the server writes the sender into the subject and, with
 *    `share`, attaches `Nats-Request-Info`), and the pull API of one durable consumer the Soul made
 *    for it on the event stream. The account has no JetStream: it creates no consumer, reads no
 *    content store.
 *  - the replica and the MCP server (accounts REPLICA and MCP): a mirror of the event stream in their
 *    own JetStream, fed through the create-consumer API of that one stream; the MCP account also
 *    imports `sophont.cmd.mcp.>` as `sophont.cmd.>`.
 * The SOPHONT account's exports and the agents' accounts change with `sophont agent add|revoke`;
 * they are written beside the server's nats.conf (which includes them) and take effect on a reload.
 */

/** Account names (nats.conf's static ones, and the agents'). */
export const SOPHONT_ACCOUNT = "SOPHONT";
export const REPLICA_ACCOUNT = "REPLICA";
export const MCP_ACCOUNT = "MCP";
export const agentAccount = (name: string): string => `AGENT_${name}`;
export const agentUser = (name: string): string => `agent-${name}`;
/** The durable consumer the Soul makes for an agent on the event stream. */
export const agentConsumer = (name: string): string => `agent-${name}`;
/** The JetStream API prefix an agent, the replica and the MCP server use for what they import. */
export const IMPORTED_API = "$JS.SOPHONT.API";
/** Where an agent's commands arrive in the SOPHONT account: the server puts the name there. */
export const agentCommandPrefix = (name: string): string => `${COMMAND_PREFIX}.agent.${name}`;
export const MCP_COMMAND_PREFIX = `${COMMAND_PREFIX}.mcp`;
/** The deliver subjects of the mirrors' consumers. */
const mirrorDeliver = (account: string): string => `sophont.mirror.${account.toLowerCase()}`;

export const AGENT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export class AgentNameError extends Error {
  override readonly name = "AgentNameError";
}

/** One outside agent's identity, kept in $SOPHONT_HOME/agents/NAME.json (mode 0600). */
export interface AgentIdentity {
  readonly name: string;
  readonly user: string;
  readonly password: string;
  readonly account: string;
  readonly created: string;
}

const agentsDir = (home: string): string => join(home, "agents");
const agentFile = (home: string, name: string): string => join(agentsDir(home), `${name}.json`);

const checkName = (name: string): void => {
  if (!AGENT_NAME.test(name)) throw new AgentNameError(`agent name ${JSON.stringify(name)}: use 1-64 letters, digits, - and _`);
};

/** nats-server reads an unquoted config token oddly; a password of a letter and hex digits is always a string. */
export const newPassword = (): string => `pw${randomBytes(20).toString("hex")}`;

/** The agents this home knows, by name. Files that are not agent identities are skipped: they grant nothing. */
export const listAgents = (home: string): AgentIdentity[] => {
  const dir = agentsDir(home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => {
      try {
        return JSON.parse(readFileSync(join(dir, f), "utf8")) as Partial<AgentIdentity>;
      } catch {
        return {}; // not an identity (unreadable or not JSON): it grants nothing
      }
    })
    .filter((a): a is AgentIdentity => typeof a.name === "string" && AGENT_NAME.test(a.name) && a.user === agentUser(a.name) && typeof a.password === "string")
    .sort((a, b) => a.name.localeCompare(b.name));
};

/** Writes an agent's file: its identity plus whatever the caller adds for the agent to read (URL, subjects). */
export const writeAgentFile = (home: string, identity: AgentIdentity, extra: Record<string, unknown> = {}): string => {
  checkName(identity.name);
  mkdirSync(agentsDir(home), { recursive: true, mode: 0o700 });
  const file = agentFile(home, identity.name);
  writeFileSync(file, JSON.stringify({ ...identity, ...extra }, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
};

export const newAgentIdentity = (name: string, now = new Date()): AgentIdentity => {
  checkName(name);
  return { name, user: agentUser(name), password: newPassword(), account: agentAccount(name), created: now.toISOString() };
};

/** Forgets an agent's identity; false when there was none. */
export const removeAgentFile = (home: string, name: string): boolean => {
  checkName(name);
  const file = agentFile(home, name);
  if (!existsSync(file)) return false;
  rmSync(file);
  return true;
};

const q = (s: string): string => JSON.stringify(s);

/** The SOPHONT account's exports: the mirrors' feed for REPLICA and MCP, MCP's commands, and each agent's share. */
export const renderExports = (agents: ReadonlyArray<Pick<AgentIdentity, "name">>): string => {
  const lines = [
    "# Written by sophont (adapters/nats/accounts.ts) from the agents in $SOPHONT_HOME/agents; do not edit.",
    "exports: [",
    "  # The event stream's mirrors in REPLICA and MCP: create-consumer on SOPHONT_EVENTS only (no other",
    "  # stream, no other API), their deliveries and flow control.",
    `  { service: ${q(`$JS.API.CONSUMER.CREATE.${EVENT_STREAM}`)}, accounts: [${REPLICA_ACCOUNT}, ${MCP_ACCOUNT}] }`,
    `  { service: ${q(`$JS.FC.${EVENT_STREAM}.>`)}, accounts: [${REPLICA_ACCOUNT}, ${MCP_ACCOUNT}] }`,
    `  { stream: ${q(`${mirrorDeliver(REPLICA_ACCOUNT)}.>`)}, accounts: [${REPLICA_ACCOUNT}] }`,
    `  { stream: ${q(`${mirrorDeliver(MCP_ACCOUNT)}.>`)}, accounts: [${MCP_ACCOUNT}] }`,
    `  { service: ${q(`${MCP_COMMAND_PREFIX}.>`)}, accounts: [${MCP_ACCOUNT}] }`,
  ];
  for (const { name } of agents) {
    const acc = agentAccount(name);
    const c = agentConsumer(name);
    lines.push(
      `  # agent ${name}: its commands, and its one consumer on the events`,
      `  { service: ${q(`${agentCommandPrefix(name)}.>`)}, accounts: [${acc}] }`,
      `  { service: ${q(`$JS.API.CONSUMER.INFO.${EVENT_STREAM}.${c}`)}, accounts: [${acc}] }`,
      `  { service: ${q(`$JS.API.CONSUMER.MSG.NEXT.${EVENT_STREAM}.${c}`)}, accounts: [${acc}], response_type: stream }`,
      `  { service: ${q(`$JS.ACK.${EVENT_STREAM}.${c}.>`)}, accounts: [${acc}] }`,
    );
  }
  lines.push("]");
  return lines.join("\n") + "\n";
};

/** One account per agent, its user and its imports; nothing else reaches it. */
export const renderAgentAccounts = (agents: ReadonlyArray<AgentIdentity>): string => {
  const lines = ["# Written by sophont (adapters/nats/accounts.ts) from the agents in $SOPHONT_HOME/agents; do not edit."];
  for (const a of agents) {
    const c = agentConsumer(a.name);
    const from = (subject: string, to?: string, share = false) =>
      `    { service: { account: ${SOPHONT_ACCOUNT}, subject: ${q(subject)} }${to ? `, to: ${q(to)}` : ""}${share ? ", share: true" : ""} }`;
    lines.push(
      `${a.account} {`,
      `  users: [ { user: ${q(a.user)}, password: ${q(a.password)} } ]`,
      "  imports: [",
      from(`${agentCommandPrefix(a.name)}.>`, `${COMMAND_PREFIX}.>`, true),
      from(`$JS.API.CONSUMER.INFO.${EVENT_STREAM}.${c}`, `${IMPORTED_API}.CONSUMER.INFO.${EVENT_STREAM}.${c}`),
      from(`$JS.API.CONSUMER.MSG.NEXT.${EVENT_STREAM}.${c}`, `${IMPORTED_API}.CONSUMER.MSG.NEXT.${EVENT_STREAM}.${c}`),
      from(`$JS.ACK.${EVENT_STREAM}.${c}.>`),
      "  ]",
      "}",
    );
  }
  return lines.join("\n") + "\n";
};

/**
 * The Soul makes each agent's consumer (agents cannot): durable, explicit acks, every event from the
 * start. Consumers of agents no longer known are deleted.
 */
export const ensureAgentConsumers = async (jsm: JetStreamManager, agents: ReadonlyArray<Pick<AgentIdentity, "name">>): Promise<void> => {
  const want = new Set(agents.map((a) => agentConsumer(a.name)));
  const have = new Set<string>();
  for await (const c of jsm.consumers.list(EVENT_STREAM)) if (c.name.startsWith("agent-")) have.add(c.name);
  for (const name of want) {
    if (have.has(name)) continue;
    await jsm.consumers.add(EVENT_STREAM, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 60 * 1e9,
      max_ack_pending: 10_000,
    });
  }
  for (const name of have) if (!want.has(name)) await jsm.consumers.delete(EVENT_STREAM, name).catch(() => undefined);
};

/** The mirror of the event stream a REPLICA or MCP connection reads, in its own account. */
export const mirrorConfig = (account: typeof REPLICA_ACCOUNT | typeof MCP_ACCOUNT) => ({
  name: EVENT_STREAM,
  mirror: { name: EVENT_STREAM, external: { api: IMPORTED_API, deliver: mirrorDeliver(account) } },
});

/** A documented agent command: its subject as the agent publishes it and a request the wire accepts. */
export interface AgentCommandDoc {
  readonly type: string;
  readonly subject: string;
  readonly description: string;
  readonly example: { readonly id: string; readonly command: Record<string, string> };
}

const EXAMPLES: Record<string, Record<string, string>> = {
  ApproveMitosis: { type: "ApproveMitosis", proposalId: "mitosis-ac-2026-11-04-0" },
  DeclineMitosis: { type: "DeclineMitosis", proposalId: "mitosis-ac-2026-11-04-0", reason: "a hobby, not a field" },
};

/** The commands open to agents (and to the MCP server), each with an example request. */
export const agentCommandDocs = (): AgentCommandDoc[] =>
  commandDefs
    .filter((c) => c.forAgents)
    .map((c) => ({ type: c.type, subject: c.subject, description: c.description, example: { id: `${c.type}-1`, command: EXAMPLES[c.type] ?? { type: c.type } } }));

/** What an agent's file tells the agent besides its identity: where to connect, how to read, what to send. */
export const agentFileExtras = (identity: Pick<AgentIdentity, "name">, url: string) => ({
  url,
  read: {
    apiPrefix: IMPORTED_API,
    stream: EVENT_STREAM,
    consumer: agentConsumer(identity.name),
    how: `jetstream(nc, { apiPrefix: "${IMPORTED_API}" }).consumers.get("${EVENT_STREAM}", "${agentConsumer(identity.name)}"), then next/fetch/consume and ack each message; the consumer is durable, made by Sophont, and yours alone`,
  },
  commands: agentCommandDocs(),
});

/**
 * Moves a home from the shared `agent` user (before per-agent accounts) to one identity per agent:
 * every agent file with `user: "agent"` gets a new user and password. Returns what to tell the user,
 * once (the files no longer look old afterwards), or undefined when there was nothing to move.
 */
export const upgradeSharedAgentRole = (home: string, urlOf: (old: Record<string, unknown>) => string): string | undefined => {
  const dir = agentsDir(home);
  const secretsFile = join(home, "secrets", "nats.json");
  const sharedPassword = existsSync(secretsFile) && (JSON.parse(readFileSync(secretsFile, "utf8")) as { agent?: unknown }).agent !== undefined;
  const moved: string[] = [];
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".json"))) {
      let old: Record<string, unknown>;
      try {
        old = JSON.parse(readFileSync(join(dir, f), "utf8")) as Record<string, unknown>;
      } catch {
        continue;
      }
      const name = typeof old.name === "string" ? old.name : f.slice(0, -5);
      if (old.user !== "agent" || !AGENT_NAME.test(name)) continue;
      const identity = newAgentIdentity(name);
      writeAgentFile(home, identity, agentFileExtras(identity, urlOf(old)));
      moved.push(name);
    }
  }
  if (!sharedPassword && moved.length === 0) return undefined;
  return (
    "NATS credentials upgraded: every outside agent now has an account of its own, and the shared `agent` user and its password no longer work." +
    (moved.length ? ` New credentials for ${moved.join(", ")} in ${dir}/; give each agent its new file.` : "")
  );
};
