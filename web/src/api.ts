/**
 * The hub API as the console reaches it: generated Connect clients over fetch (`@connectrpc/connect-web`)
 * at the page's own origin (http or https alike), every call carrying the operator token from session
 * storage. A call the hub refuses as unauthenticated signs the operator out.
 */
import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  CatalogService,
  ClaimService,
  FederationService,
  FleetService,
  NetworkService,
  ProvisionService,
} from "@powernode/proto/browser";

const KEY = "powernode.operatorToken";

/** The operator token lives in sessionStorage only: gone with the tab, never in a URL. */
export const session = {
  token: (): string | undefined => sessionStorage.getItem(KEY) ?? undefined,
  signIn: (token: string) => sessionStorage.setItem(KEY, token),
  signOut: () => sessionStorage.removeItem(KEY),
};

export interface Api {
  fleet: Client<typeof FleetService>;
  provision: Client<typeof ProvisionService>;
  catalog: Client<typeof CatalogService>;
  network: Client<typeof NetworkService>;
  claims: Client<typeof ClaimService>;
  federation: Client<typeof FederationService>;
}

/** The base URL of the hub: where the page came from (no host or scheme of its own). */
function baseUrl(): string {
  return new URL(".", location.href).href.replace(/\/$/, "");
}

/**
 * Clients with `token()` as bearer; `onUnauthenticated` runs when the hub refuses it (expired,
 * revoked), and the error is rethrown for the caller.
 */
export function createApi(
  token: () => string | undefined,
  onUnauthenticated: (e: ConnectError) => void,
): Api {
  const auth: Interceptor = (next) => async (req) => {
    const t = token();
    if (t) req.header.set("authorization", `Bearer ${t}`);
    try {
      return await next(req);
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code === Code.Unauthenticated) onUnauthenticated(e);
      throw err;
    }
  };
  const transport = createConnectTransport({ baseUrl: baseUrl(), interceptors: [auth] });
  return {
    fleet: createClient(FleetService, transport),
    provision: createClient(ProvisionService, transport),
    catalog: createClient(CatalogService, transport),
    network: createClient(NetworkService, transport),
    claims: createClient(ClaimService, transport),
    federation: createClient(FederationService, transport),
  };
}

/** The hub's database driver from `/healthz` (`pglite` or `postgres`), undefined when it does not say. */
export async function hubDatabase(): Promise<string | undefined> {
  const r = await fetch(`${baseUrl()}/healthz`);
  const body = (await r.json().catch(() => ({}))) as { database?: unknown };
  return typeof body.database === "string" ? body.database : undefined;
}

/** A one-off check of a candidate token before it is kept: resolves, or rejects with the hub's refusal. */
export async function checkToken(candidate: string): Promise<void> {
  const api = createApi(
    () => candidate,
    () => {},
  );
  await api.fleet.listNodes({ pageSize: 1 });
}

/** The message to show for a failed call: the hub's own (it names the field), else the error's. */
export function errorText(err: unknown): string {
  if (err instanceof ConnectError || (err instanceof Error && err.name === "ConnectError"))
    return `${Code[ConnectError.from(err).code]}: ${ConnectError.from(err).rawMessage}`;
  return err instanceof Error ? err.message : String(err);
}

export { Code, ConnectError };
