/** Addresses only this machine can reach: the dashboard serves them without a token. */
export const isLoopback = (host: string): boolean => host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);

/** Why the dashboard may not listen there as asked (undefined: it may). */
export const refusal = (host: string, token: string | undefined): string | undefined =>
  isLoopback(host) || token
    ? undefined
    : `refusing to serve the dashboard on ${host} without a token: anyone who reaches that address would read the log. Set SOPHONT_DASHBOARD_TOKEN (or pass --token), or keep the default host 127.0.0.1`;
