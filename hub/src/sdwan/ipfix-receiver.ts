/**
 * The hub's IPFIX collector socket (RFC 7011 over UDP, POWERNODE_IPFIX_PORT on the listen host): every
 * datagram goes to the hub's flow store. Started with the hub's listeners, closed at stop.
 */
import type { Deps } from "../deps.ts";
import type { FeatureListener } from "../feature.ts";
import { flowStoreOf } from "./flow-store.ts";

export const startIpfixReceiver: FeatureListener = async (deps: Deps) => {
  const port = deps.config.ipfixPort;
  if (port === undefined) return undefined;
  const store = flowStoreOf(deps);
  const host = deps.config.listenHost;
  const socket = await Bun.udpSocket({
    hostname: host,
    port,
    socket: {
      data(_s, data, peerPort, address) {
        const from = `${address.includes(":") ? `[${address}]` : address}:${peerPort}`;
        store.ingest(new Uint8Array(data), from).catch((err) => {
          deps.log.warn("ipfix: a datagram was not recorded", { from, error: err });
        });
      },
    },
  }).catch((err: unknown) => {
    const code = (err as { code?: string }).code ?? String(err);
    throw new Error(
      `POWERNODE_IPFIX_PORT: cannot listen on UDP ${host}:${port} (${code}); set another port, 0 for any free one, or off`,
    );
  });
  store.listen = `${host.includes(":") ? `[${host}]` : host}:${socket.port}`;
  deps.log.info("ipfix collector listening", { listen: store.listen });
  return {
    close: async () => {
      socket.close();
      store.listen = "";
    },
  };
};
