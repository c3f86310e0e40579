/**
 * What the K3s checks of pass 2 share: a hub with operator clients, nodes enrolled over mTLS (optionally
 * members of a network: their SDWAN peer) with a K3sNodeService client on their own certificate, the
 * k3s section a node is sent, and refusals as Connect errors.
 */
import { type Client, createClient } from "@connectrpc/connect";
import { K3sNodeService, type K3sSection, K3sService, NetworkService } from "@powernode/proto";
import {
  type EnrolledTestNode,
  enrollTestNode,
  nodeTransport,
  operatorClient,
} from "../../hub/test/harness.ts";
import type { SmokeHub } from "../lib/hub.ts";

export interface K3sSmokeNode extends EnrolledTestNode {
  name: string;
  /** Its overlay /128 when it joined a network. */
  address: string;
  k3s: Client<typeof K3sNodeService>;
  /** The k3s section of the node's current desired state, read from its own WatchDesiredState. */
  section(): Promise<K3sSection | undefined>;
}

export interface K3sSmokeEnv {
  s: SmokeHub;
  k3s: Client<typeof K3sService>;
  net: Client<typeof NetworkService>;
  stamp: string;
  node(name: string, network?: string): Promise<K3sSmokeNode>;
}

export function k3sSmokeEnv(s: SmokeHub): K3sSmokeEnv {
  const net = operatorClient(s.hub, NetworkService);
  const stamp = Date.now().toString(36);
  return {
    s,
    k3s: operatorClient(s.hub, K3sService),
    net,
    stamp,
    async node(name, network) {
      const full = `${name}-${stamp}`;
      const n = await enrollTestNode(s.hub, full);
      const address = network
        ? ((await net.joinNetwork({ network, nodeId: n.id })).member?.address ?? "")
        : "";
      return {
        ...n,
        name: full,
        address,
        k3s: createClient(K3sNodeService, nodeTransport(s.hub, n)),
        async section() {
          const abort = new AbortController();
          try {
            for await (const r of n.client.watchDesiredState({ knownVersion: 0n }, { signal: abort.signal }))
              return r.state?.k3s;
          } finally {
            abort.abort();
          }
          return undefined;
        },
      };
    },
  };
}

export { refusal } from "../lib/refusal.ts";

/**
 * Throws `what: got <actual>, want <expected>` unless they are equal (as JSON); returns the value as
 * text (the check's detail).
 */
export function expectEqual(what: string, actual: unknown, expected: unknown): string {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, want ${e}`);
  return typeof actual === "string" ? actual : a;
}
