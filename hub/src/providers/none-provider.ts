/**
 * The built-in "none" provider: bare metal or external machines. It records only; the operator hands
 * the bootstrap token (returned by CreateInstance / IssueBootstrapToken) to the machine.
 */
import type { InstanceProvider } from "./provider.ts";

/** Creates the "none" provider. */
export function createNoneProvider(): InstanceProvider {
  return {
    name: "none",
    start: async () => ({}),
    stop: async () => {},
    destroy: async () => {},
    status: async () => "unknown",
  };
}
