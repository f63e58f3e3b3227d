import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

/** A tool an MCP client may call: its JSON Schema input and what it does. */
export interface Tool {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Record<string, unknown>;
  call(args: Record<string, unknown>): Promise<unknown>;
}

interface Request {
  readonly jsonrpc: "2.0";
  readonly id?: number | string | null;
  readonly method: string;
  readonly params?: Record<string, unknown>;
}

const SUPPORTED = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/**
 * A Model Context Protocol server over stdio: newline-delimited JSON-RPC 2.0 with `initialize`,
 * `tools/list`, `tools/call` and `ping`. Written here (it is small) rather than pulled in as a dependency.
 */
export const serveMcp = (tools: ReadonlyArray<Tool>, io: { input: Readable; output: Writable; version: string; log?: (s: string) => void }): Promise<void> => {
  const send = (msg: unknown): void => void io.output.write(JSON.stringify(msg) + "\n");
  const reply = (id: Request["id"], result: unknown) => send({ jsonrpc: "2.0", id, result });
  const fail = (id: Request["id"], code: number, message: string) => send({ jsonrpc: "2.0", id: id ?? null, error: { code, message } });
  const byName = new Map(tools.map((t) => [t.name, t]));

  const handle = async (req: Request): Promise<void> => {
    switch (req.method) {
      case "initialize": {
        const asked = String(req.params?.protocolVersion ?? SUPPORTED[0]);
        return reply(req.id, {
          protocolVersion: SUPPORTED.includes(asked) ? asked : SUPPORTED[0],
          capabilities: { tools: { listChanged: false } },
          serverInfo: { name: "sophont", version: io.version },
          instructions: "Sophont's event log: tail events, read ledgers, centroids and audits, approve or decline a mitosis.",
        });
      }
      case "notifications/initialized":
      case "notifications/cancelled":
        return;
      case "ping":
        return reply(req.id, {});
      case "tools/list":
        return reply(req.id, { tools: tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema })) });
      case "tools/call": {
        const tool = byName.get(String(req.params?.name));
        if (!tool) return fail(req.id, -32602, `unknown tool ${String(req.params?.name)}; tools: ${tools.map((t) => t.name).join(", ")}`);
        try {
          const out = await tool.call((req.params?.arguments as Record<string, unknown>) ?? {});
          return reply(req.id, { content: [{ type: "text", text: typeof out === "string" ? out : JSON.stringify(out, null, 2) }], isError: false });
        } catch (e) {
          // A tool's failure is an answer the model reads, not a protocol error.
          return reply(req.id, { content: [{ type: "text", text: (e as Error).message }], isError: true });
        }
      }
      default:
        if (req.id !== undefined) fail(req.id, -32601, `method not found: ${req.method}`);
    }
  };

  return new Promise((resolve) => {
    const rl = createInterface({ input: io.input });
    rl.on("line", (line): void => {
      if (!line.trim()) return;
      let req: Request;
      try {
        req = JSON.parse(line) as Request;
      } catch {
        fail(null, -32700, "parse error: each message is one line of JSON");
        return;
      }
      handle(req).catch((e: Error) => fail(req.id, -32603, e.message));
    });
    rl.on("close", () => resolve());
  });
};
