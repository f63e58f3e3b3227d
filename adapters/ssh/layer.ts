// The SSH adapter as Effect services, for a composition root written with layers: the connection is
// acquired for the layer's scope and closed with it (detached jobs keep running on the host).
import { Context, Effect, Layer } from "effect";
import type { HostProvider, RemoteHost } from "../../actors/muscle/ports.ts";
import { SshRemoteHost, type SshRemoteHostOptions } from "./client.ts";
import type { SshError } from "./errors.ts";
import { findHost } from "./hosts.ts";
import { StaticSshProvider } from "./provider.ts";

const SSH_ERROR_TAGS = new Set<string>([
  "HostKeyUnknownError", "HostKeyMismatchError", "AuthenticationError", "ConnectionError",
  "GpuExpectationError", "TransferVerificationError", "RemoteCommandError", "HostsFileError",
]);

/** Our typed failures go to the error channel; anything else is a bug and becomes a defect. */
const asSshError = (error: unknown): SshError => {
  if (typeof error === "object" && error !== null && SSH_ERROR_TAGS.has((error as { _tag?: string })._tag ?? "")) return error as SshError;
  throw error;
};

/** The Muscle's remote host as an Effect service. */
export class RemoteHostService extends Context.Service<RemoteHostService, RemoteHost>()("sophont/ssh/RemoteHost") {}

/** The Muscle's host provider as an Effect service. */
export class HostProviderService extends Context.Service<HostProviderService, HostProvider>()("sophont/ssh/HostProvider") {}

/** Connects to the named host of the hosts file (pinned key checked) and closes it with the scope. */
export const remoteHost = (hostsFile: string, name: string, options?: SshRemoteHostOptions) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const host = new SshRemoteHost(await findHost(hostsFile, name), options);
        await host.connect();
        return host;
      },
      catch: asSshError,
    }),
    (host) => Effect.promise(() => host.close()),
  );

/** RemoteHostService for the named host, connected for the layer's scope. */
export const remoteHostLayer = (hostsFile: string, name: string, options?: SshRemoteHostOptions): Layer.Layer<RemoteHostService, SshError> =>
  Layer.effect(RemoteHostService, remoteHost(hostsFile, name, options));

/** HostProviderService over the hosts file (static SSH hosts, the only real provider for now). */
export const staticSshProviderLayer = (hostsFile: string, options?: SshRemoteHostOptions): Layer.Layer<HostProviderService> =>
  Layer.succeed(HostProviderService, new StaticSshProvider(hostsFile, options));
