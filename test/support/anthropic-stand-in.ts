// A stand-in for the Anthropic Messages API (which cannot run here): a small HTTP server on
// loopback speaking its shape (POST /v1/messages, x-api-key, anthropic-version; a message with
// content blocks and usage), with scripted failures: 429, 500, and answers that never come.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type Behaviour = "ok" | "429" | "500" | "timeout" | "garbage";

export interface MessagesStandIn {
  readonly url: string;
  /** Every request body received, in order, and its headers (the key included: the test checks it arrived). */
  readonly requests: Array<{ body: string; headers: IncomingMessage["headers"] }>;
  /** Behaviours for the next requests (then "ok"). */
  script(...b: Behaviour[]): void;
  /** The verdict "ok" answers with, or a function of the user message's text (a judge that quotes it). */
  answer: { coherent: boolean; reason: string } | ((text: string) => { coherent: boolean; reason: string });
  stop(): Promise<void>;
}

export const startMessagesStandIn = async (expectedKey: string): Promise<MessagesStandIn> => {
  const queue: Behaviour[] = [];
  const requests: MessagesStandIn["requests"] = [];
  const hanging = new Set<() => void>();
  const self = { answer: { coherent: true, reason: "reads as plain English prose" } } as MessagesStandIn;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", (): void => {
      requests.push({ body, headers: req.headers });
      const send = (status: number, json: unknown): void => void (res.writeHead(status, { "content-type": "application/json" }), res.end(JSON.stringify(json)));
      if (req.method !== "POST" || req.url !== "/v1/messages") return send(404, { type: "error", error: { type: "not_found_error", message: "no such route" } });
      if (req.headers["x-api-key"] !== expectedKey) return send(401, { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } });
      if (!req.headers["anthropic-version"]) return send(400, { type: "error", error: { type: "invalid_request_error", message: "anthropic-version header is required" } });
      const b = queue.shift() ?? "ok";
      if (b === "429") return (res.setHeader("retry-after", "0"), send(429, { type: "error", error: { type: "rate_limit_error", message: "rate limited" } }));
      if (b === "500") return send(500, { type: "error", error: { type: "api_error", message: "internal error" } });
      if (b === "timeout") return void hanging.add(() => res.destroy());
      const parsed = JSON.parse(body) as { model: string; messages: Array<{ content: string }> };
      const asked = parsed.messages.map((m) => m.content).join("\n");
      const text = b === "garbage" ? "I think it is fine." : JSON.stringify(typeof self.answer === "function" ? self.answer(asked) : self.answer);
      return send(200, {
        id: `msg_${requests.length}`, type: "message", role: "assistant", model: parsed.model, stop_reason: "end_turn", stop_sequence: null,
        content: [{ type: "text", text }],
        usage: { input_tokens: Math.ceil(body.length / 4), output_tokens: Math.ceil(text.length / 4) },
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(self, {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...b: Behaviour[]) => void queue.push(...b),
    stop: async () => {
      hanging.forEach((h) => h());
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
};
