/**
 * The plain-HTTP boot listener (POWERNODE_BOOT_HTTP_PORT, decision 0026): only the features' `bootHttp`
 * plugins (netboot's `/boot/ipxe`, kernel and initramfs), for firmware that cannot check the hub's
 * certificate. Nothing else answers there: no API, no token is ever accepted on it.
 */
import { Elysia } from "elysia";
import type { Deps } from "./deps.ts";
import type { Feature } from "./feature.ts";

/** A started boot listener. */
export interface BootListener {
  port: number;
  close(): Promise<void>;
}

/** Starts the boot listener on `config.listenHost:bootHttpPort`, or returns undefined when none is configured. */
export function startBootListener(
  deps: Deps,
  features: readonly Feature[],
  shutdown: AbortSignal,
): BootListener | undefined {
  const { bootHttpPort, listenHost } = deps.config;
  if (bootHttpPort === undefined) return undefined;
  let app = new Elysia();
  for (const f of features) for (const plugin of f.bootHttp ?? []) app = app.use(plugin(deps, shutdown));
  app.all("*", () => new Response("not found: this listener serves /boot/ only\n", { status: 404 }));
  app.listen({ port: bootHttpPort, hostname: listenHost });
  const port = app.server?.port;
  if (port === undefined) throw new Error(`boot listener did not start on ${listenHost}:${bootHttpPort}`);
  return {
    port,
    close: async () => {
      await app.stop(true);
    },
  };
}
