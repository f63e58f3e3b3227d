// A real OTLP/HTTP receiver on loopback: it accepts what OpenTelemetry's exporters send
// (POST /v1/traces, protobuf or JSON) and keeps every request body as received, so a test can look
// for text in the bytes that left (OTLP's protobuf keeps strings as UTF-8, uncompressed by default).
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface OtlpRequest {
  readonly body: Buffer;
  readonly contentType: string;
}

export interface OtlpReceiver {
  /** The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  readonly url: string;
  readonly requests: OtlpRequest[];
  /** Every body since request `from`, decompressed, as one string (for substring checks). */
  text(from?: number): string;
  stop(): Promise<void>;
}

export const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

export const startOtlpReceiver = async (): Promise<OtlpReceiver> => {
  const requests: OtlpRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces") return void (res.writeHead(404), res.end());
      const raw = Buffer.concat(chunks);
      const body = req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
      const contentType = String(req.headers["content-type"] ?? "");
      requests.push({ body, contentType });
      // An empty ExportTraceServiceResponse: full success.
      if (contentType.includes("json")) return void (res.writeHead(200, { "content-type": "application/json" }), res.end("{}"));
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    text: (from = 0) => requests.slice(from).map((r) => r.body.toString("utf8")).join("\n"),
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
};
