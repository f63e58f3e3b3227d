// The dashboard's HTTP server: a page, its script, the views as of any point of the log, a diff, and
// the log itself as server-sent events. It only reads: no route appends, and anything but GET/HEAD is
// refused. Loopback by default; any other address needs a token (refused at start without one).
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { EventStore } from "../../events/store.ts";
import { diffBetween } from "../../projections/diff.ts";
import type { AirlockPolicy } from "../egress/policy.ts";
import { agentsTextView, type TextView } from "../report/rejections.ts";
import { isLoopback, refusal } from "./address.ts";
import { liveLine } from "./live.ts";
import { APP_CSS, APP_JS, pageHtml } from "./page.ts";
import { diffHtml, viewsAt, type Views } from "./views.ts";

export class DashboardError extends Error {
  override readonly name = "DashboardError";
}

export interface DashboardOptions {
  readonly store: EventStore;
  readonly content: { get(sha256: string): Promise<Uint8Array | undefined> };
  readonly airlock: AirlockPolicy;
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly token?: string | undefined;
}

export interface Dashboard {
  /** Where to open it (with the token, when there is one). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}


const COOKIE = "sophont_dashboard";
const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

const tokenOf = (req: IncomingMessage, url: URL): string | undefined =>
  url.searchParams.get("token") ??
  /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ??
  (req.headers.cookie ?? "").split(/;\s*/).find((c) => c.startsWith(`${COOKIE}=`))?.slice(COOKIE.length + 1);

const send = (res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff", "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'", "referrer-policy": "no-referrer", ...extra });
  res.end(body);
};
const json = (res: ServerResponse, v: unknown) => send(res, 200, "application/json; charset=utf-8", JSON.stringify(v));

/** A whole number from the query within [0, max], or the default. */
const seqParam = (url: URL, name: string, max: number, dflt: number): number => {
  const v = Number(url.searchParams.get(name) ?? dflt);
  return Number.isInteger(v) ? Math.max(0, Math.min(max, v)) : dflt;
};

/** Starts the dashboard. Throws DashboardError (refusing to start) for a non-loopback address without a token. */
export const startDashboard = async (o: DashboardOptions): Promise<Dashboard> => {
  const loopback = isLoopback(o.host);
  const refused = refusal(o.host, o.token);
  if (refused) throw new DashboardError(refused);
  let textCache: { at: number; view: Promise<TextView> } | undefined;
  // Private and forgotten inputs are re-read at most every 2 s: a forgotten text disappears quickly.
  const text = () => (textCache && Date.now() - textCache.at < 2_000 ? textCache.view : (textCache = { at: Date.now(), view: agentsTextView(o.store, o.airlock) }).view);
  const cache = new Map<number, { at: number; views: Promise<Views> }>();
  const inputTexts = new Map<string, string>();
  const views = (seq: number) => {
    const hit = cache.get(seq);
    if (hit && Date.now() - hit.at < 2_000) return hit.views;
    const v = viewsAt({ store: o.store, text, content: o.content, rawInputs: loopback, textCache: inputTexts }, seq);
    cache.set(seq, { at: Date.now(), views: v });
    if (cache.size > 64) cache.delete(cache.keys().next().value!);
    return v;
  };
  const closing = new AbortController();
  let port = o.port;

  const events = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const last = await o.store.lastSeq();
    const resume = Number(req.headers["last-event-id"]);
    const from = Number.isInteger(resume) && resume > 0 ? resume + 1 : seqParam(url, "from", last + 1, Math.max(1, last - 199));
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-content-type-options": "nosniff" });
    res.write(`retry: 1000\n: from ${from}\n\n`);
    const stop = new AbortController();
    const onClose = () => stop.abort();
    req.on("close", onClose);
    closing.signal.addEventListener("abort", onClose, { once: true });
    const beat = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
    try {
      for await (const e of o.store.read({ from: { seq: Math.max(1, from) }, follow: true, signal: stop.signal })) {
        res.write(`id: ${e.seq}\ndata: ${JSON.stringify(liveLine(e, await text()))}\n\n`);
      }
    } catch {
      // The reader went away, or the dashboard stops: the follow ends with the signal.
    } finally {
      clearInterval(beat);
      req.off("close", onClose);
      res.end();
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "the dashboard is read-only: GET only\n", { allow: "GET, HEAD" });
    const hostHeader = req.headers.host ?? "";
    // On loopback, a page from elsewhere must not reach it under another name (DNS rebinding).
    if (loopback && !/^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/.test(hostHeader)) return send(res, 421, "text/plain", "unexpected Host header: open the dashboard at its loopback address\n");
    const url = new URL(req.url ?? "/", "http://dashboard.local");
    const given = tokenOf(req, url);
    if (o.token && !(given && same(given, o.token))) return send(res, 401, "text/plain", "this dashboard needs its token: open the URL `sophont dashboard` printed (…/?token=…)\n");
    const cookie: Record<string, string> = o.token ? { "set-cookie": `${COOKIE}=${o.token}; HttpOnly; SameSite=Strict; Path=/` } : {};
    switch (url.pathname) {
      case "/":
        return send(res, 200, "text/html; charset=utf-8", pageHtml(await o.store.lastSeq()), cookie);
      case "/app.js":
        return send(res, 200, "text/javascript; charset=utf-8", APP_JS);
      case "/app.css":
        return send(res, 200, "text/css; charset=utf-8", APP_CSS);
      case "/api/head":
        return json(res, { lastSeq: await o.store.lastSeq() });
      case "/api/views": {
        const last = await o.store.lastSeq();
        return json(res, { lastSeq: last, ...(await views(seqParam(url, "at", last, last))) });
      }
      case "/api/diff": {
        const last = await o.store.lastSeq();
        const [from, to] = [seqParam(url, "from", last, 0), seqParam(url, "to", last, last)];
        return json(res, { from, to, html: diffHtml(from, to, await diffBetween(o.store, { seq: from }, { seq: to })) });
      }
      case "/api/events":
        return events(req, res, url);
      default:
        return send(res, 404, "text/plain", "not found\n");
    }
  };

  const server = createServer((req, res) => {
    route(req, res).catch((e: Error) => {
      if (!res.headersSent) send(res, 500, "text/plain", `the dashboard could not read the log: ${e.message}\n`);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(new DashboardError(e.code === "EADDRINUSE" ? `port ${o.port} on ${o.host} is taken: pass --port N (0 picks a free one)` : `cannot listen on ${o.host}:${o.port}: ${e.message}`)));
    server.listen(o.port, o.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const shown = o.host.includes(":") ? `[${o.host}]` : o.host;
  return {
    url: `http://${shown}:${port}/${o.token ? `?token=${encodeURIComponent(o.token)}` : ""}`,
    host: o.host,
    port,
    close: async () => {
      closing.abort();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
};
