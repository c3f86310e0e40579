/**
 * A real hub for a smoke: in process, temporary database and data dir, operator clients with the admin
 * token, removed when the pass ends.
 */
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type RunningHub, type StartHubOptions, startHub } from "@powernode/hub";
import {
  AgentService,
  CatalogService,
  CertService,
  FederationService,
  FleetService,
  K3sService,
  NetworkService,
  ProvisionService,
  SdwanService,
  TokenService,
} from "@powernode/proto";
import type { PassContext } from "./pass.ts";

export interface SmokeHub {
  hub: RunningHub;
  fleet: Client<typeof FleetService>;
  provision: Client<typeof ProvisionService>;
  network: Client<typeof NetworkService>;
  catalog: Client<typeof CatalogService>;
  tokens: Client<typeof TokenService>;
  certs: Client<typeof CertService>;
  agents: Client<typeof AgentService>;
  sdwan: Client<typeof SdwanService>;
  k3s: Client<typeof K3sService>;
  federation: Client<typeof FederationService>;
}

/** Operator clients (Connect protocol over HTTP/1.1) for a hub URL and token. */
export function operatorClients(httpUrl: string, token: string, ca?: string): Omit<SmokeHub, "hub"> {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({
    baseUrl: httpUrl,
    httpVersion: "1.1",
    interceptors: [bearer],
    ...(ca ? { nodeOptions: { ca } } : {}),
  });
  return {
    fleet: createClient(FleetService, transport),
    provision: createClient(ProvisionService, transport),
    network: createClient(NetworkService, transport),
    catalog: createClient(CatalogService, transport),
    tokens: createClient(TokenService, transport),
    certs: createClient(CertService, transport),
    agents: createClient(AgentService, transport),
    sdwan: createClient(SdwanService, transport),
    k3s: createClient(K3sService, transport),
    federation: createClient(FederationService, transport),
  };
}

/** Starts a hub for the pass and registers its shutdown. */
export async function startSmokeHub(t: PassContext, opts: StartHubOptions = {}): Promise<SmokeHub> {
  const hub = await startHub(opts);
  t.defer(() => hub.stop());
  t.info(`hub: ${hub.httpUrl} (operator), ${hub.mtlsUrl} (mTLS), nodes use ${hub.nodeUrl}`);
  return { hub, ...operatorClients(hub.httpUrl, hub.adminToken, hub.operatorTls ? hub.caPem : undefined) };
}
