/**
 * Listening and closing for the hub's `node:http2` TLS listeners (node and operator): the sockets and
 * sessions are tracked so `close()` ends them at once instead of waiting for clients to leave.
 */
import type { Http2SecureServer } from "node:http2";
import type { AddressInfo } from "node:net";

/** Binds `server` to `host:port` (0 picks one); resolves with the bound port and a close function. */
export async function listenTracked(
  server: Http2SecureServer,
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sessions = new Set<{ destroy(): void }>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  const sockets = new Set<{ destroy(): void }>();
  server.on("secureConnection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
        for (const s of sockets) s.destroy();
      }),
  };
}
