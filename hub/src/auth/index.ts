/** Credentials the hub checks: operator tokens and bootstrap tokens. */
export {
  type AdminAuth,
  type AdminTokenSetup,
  adminTokenFile,
  createAdminAuth,
  ensureAdminToken,
} from "./admin-tokens.ts";
export {
  BOOTSTRAP_TOKEN_TTL_MS,
  consumeBootstrapToken,
  type IssuedBootstrapToken,
  issueBootstrapToken,
} from "./bootstrap-tokens.ts";
export {
  createNodeIdentityResolver,
  type NodeIdentity,
  type NodeIdentityResolver,
  type PeerCertificate,
} from "./node-identity.ts";
export { hashToken, newToken } from "./tokens.ts";
