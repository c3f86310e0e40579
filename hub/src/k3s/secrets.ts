/**
 * A cluster's secrets at rest: the kubeconfig and both tokens are sealed with the hub's key-encryption
 * key, each bound to its row and column (`k3s-cluster:<id>:<column>`), and only opened to answer a
 * caller allowed to see them (GetKubeconfig, a member node's JoinRequest).
 */
import { randomBytes } from "node:crypto";
import type { KeyAtRest } from "../ca/key-at-rest.ts";
import { type K3sSecretColumn, k3sSecretContext } from "../ca/stored-keys.ts";

export function sealSecret(
  keys: KeyAtRest,
  clusterId: string,
  column: K3sSecretColumn,
  value: string,
): string {
  return keys.seal(value, k3sSecretContext(clusterId, column));
}

export function openSecret(
  keys: KeyAtRest,
  clusterId: string,
  column: K3sSecretColumn,
  sealed: string,
): string {
  return keys.open(sealed, k3sSecretContext(clusterId, column));
}

/**
 * A fresh cluster secret for the token k3s is started with before a server has reported its own
 * `K10...` form (k3s accepts any string as `--token`; the full form adds the cluster CA's hash).
 */
export function newClusterSecret(): string {
  return `pn-${randomBytes(24).toString("base64url")}`;
}
