import { AckPolicy, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { COMMAND_PREFIX, EVENT_STREAM } from "../../events/subjects.ts";
import type { AgentIdentity } from "./agents.ts";

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
 * start. Consumers of agents it does not know are left alone (another home may share an external
 * server); `deleteAgentConsumer` removes one on revoke.
 */
export const ensureAgentConsumers = async (jsm: JetStreamManager, agents: ReadonlyArray<Pick<AgentIdentity, "name">>): Promise<void> => {
  const have = new Set<string>();
  for await (const c of jsm.consumers.list(EVENT_STREAM)) if (c.name.startsWith("agent-")) have.add(c.name);
  for (const { name } of agents) {
    if (have.has(agentConsumer(name))) continue;
    await jsm.consumers.add(EVENT_STREAM, {
      durable_name: agentConsumer(name),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 60 * 1e9,
      max_ack_pending: 10_000,
    });
  }
};

/** Deletes a revoked agent's consumer; false when it had none. */
export const deleteAgentConsumer = async (jsm: JetStreamManager, name: string): Promise<boolean> =>
  jsm.consumers.delete(EVENT_STREAM, agentConsumer(name)).catch(() => false);

/** The mirror of the event stream a REPLICA or MCP connection reads, in its own account. */
export const mirrorConfig = (account: typeof REPLICA_ACCOUNT | typeof MCP_ACCOUNT) => ({
  name: EVENT_STREAM,
  mirror: { name: EVENT_STREAM, external: { api: IMPORTED_API, deliver: mirrorDeliver(account) } },
});
