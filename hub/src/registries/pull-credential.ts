/**
 * The pull credential a node gets for one location of its desired state (RegistryNodeService). The
 * node must have been sent that registry for that repository. A registry in token mode (its `/v2/`
 * challenges `Bearer realm=...`) gets the stored credential traded by the hub for a token scoped to
 * `repository:<repo>:pull`, so the node never holds the long-lived secret; a registry that speaks
 * only Basic (distribution with htpasswd) can only be answered with the stored credential itself,
 * which is why docs/oci.md tells operators to give nodes a read-only account there.
 */
import { parseChallenge, type RegistryCredential } from "@powernode/oci";
import { EVENTS } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { getDesiredState } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { getRegistry, openCredential } from "./registries.ts";

export type PullCredential =
  | { kind: "none" }
  | { kind: "basic"; username: string; password: string; expiresAt: Date }
  | { kind: "bearer"; token: string; expiresAt: Date };

/** How long a node may keep a basic credential before it asks again. */
const BASIC_TTL_MS = 3_600_000;
const PROBE_TIMEOUT_MS = 10_000;

/** Trades `cred` for a pull token at the registry's realm, or says the registry wants Basic. */
async function exchange(
  url: string,
  repository: string,
  cred: RegistryCredential,
  fetchFn: typeof fetch,
  now: Date,
): Promise<{ token: string; expiresAt: Date } | "basic"> {
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  const ping = await fetchFn(`${url}/v2/`, { signal });
  await ping.body?.cancel();
  const challenge = parseChallenge(ping.headers.get("www-authenticate"));
  if (ping.status !== 401 || challenge?.scheme !== "bearer" || !challenge.params.realm) return "basic";
  const realm = new URL(challenge.params.realm, url);
  if (challenge.params.service) realm.searchParams.set("service", challenge.params.service);
  realm.searchParams.set("scope", `repository:${repository}:pull`);
  const headers: Record<string, string> =
    cred.kind === "basic"
      ? { authorization: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString("base64")}` }
      : { authorization: `Bearer ${cred.token}` };
  const res = await fetchFn(realm, { headers, signal });
  if (!res.ok) {
    await res.body?.cancel();
    throw new DomainError(
      "precondition",
      `registry token endpoint ${realm.origin}${realm.pathname}: HTTP ${res.status}`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as {
    token?: unknown;
    access_token?: unknown;
    expires_in?: unknown;
  };
  const token = typeof body.token === "string" ? body.token : body.access_token;
  if (typeof token !== "string" || token === "")
    throw new DomainError(
      "precondition",
      `registry token endpoint ${realm.origin}${realm.pathname}: no token in the answer`,
    );
  // The spec's default lifetime is 60 s when the server names none.
  const ttl = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 60;
  return { token, expiresAt: new Date(now.getTime() + ttl * 1000) };
}

/** The credential for `nodeId` to pull `repository` from `host`. */
export async function pullCredentialFor(
  deps: Pick<Deps, "db" | "keys" | "events" | "now" | "log">,
  nodeId: string,
  host: string,
  repository: string,
  fetchFn: typeof fetch = fetch,
): Promise<PullCredential> {
  const state = await getDesiredState(deps.db, nodeId);
  const sent = (state.modules?.assignments ?? []).some((a) =>
    a.locations.some((l) => l.credentialHost === host && l.ociReference.includes(`/${repository}@`)),
  );
  if (!sent)
    throw new DomainError(
      "permission",
      `host: this node was not sent ${repository} from ${host.slice(0, 200)} (its desired state names no such location)`,
    );
  const row = await getRegistry(deps.db, host);
  if (!row) throw new DomainError("not_found", `host: no registry ${host}`);
  const cred = openCredential(deps.keys, row);
  if (!cred) return { kind: "none" };
  const now = deps.now();
  try {
    const got = await exchange(row.url, repository, cred, fetchFn, now);
    if (got !== "basic") return { kind: "bearer", ...got };
  } catch (e) {
    if (e instanceof DomainError) {
      // The registry refused the stored credential: the operator has something to fix.
      await deps.events.emit(
        EVENTS.registryCredentialFailed,
        { registry: host, repository, error: e.message.slice(0, 500) },
        { nodeId },
      );
      throw e;
    }
    // The hub cannot reach the registry (it may sit where only nodes can): the node tries itself.
    deps.log.warn("registry: probing for a token endpoint failed; handing the credential as it is", {
      registry: host,
      err: e,
    });
  }
  return cred.kind === "basic"
    ? {
        kind: "basic",
        username: cred.username,
        password: cred.password,
        expiresAt: new Date(now.getTime() + BASIC_TTL_MS),
      }
    : { kind: "bearer", token: cred.token, expiresAt: new Date(now.getTime() + BASIC_TTL_MS) };
}
