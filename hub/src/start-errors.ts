/**
 * Start failures the operator fixes from the message alone (the data dir's mode, the key-encryption
 * key, a revoked POWERNODE_ADMIN_TOKEN): entry points print them as one line and exit 2.
 */
import { AdminTokenError } from "./auth/admin-tokens.ts";
import { KeyAtRestError } from "./ca/key-at-rest.ts";
import { DataDirError } from "./data-dir.ts";

/** True for an error whose message says what to fix (see the module comment). */
export function isStartRefusal(e: unknown): e is Error {
  return e instanceof DataDirError || e instanceof KeyAtRestError || e instanceof AdminTokenError;
}
