/**
 * The exact bytes a node signs when it answers an attestation challenge, shared by the agent (signer)
 * and the hub (verifier) so the two can never disagree on the encoding.
 */

/** One observed module, as in ModuleObservation. */
export interface AttestedModule {
  name: string;
  version: string;
  metadataDigest: string;
  verityRootHash: string;
  state: string;
}

/**
 * `powernode-attest-v1\n<nonce hex>\n<boot id>\n` then one line per module sorted by name:
 * `<name> <version> <metadata digest> <verity root hash> <state>\n` (digests lowercase hex).
 */
export function attestationPayload(
  nonce: Uint8Array,
  bootId: string,
  modules: readonly AttestedModule[],
): Uint8Array {
  const hex = [...nonce].map((b) => b.toString(16).padStart(2, "0")).join("");
  const lines = [...modules]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(
      (m) =>
        `${m.name} ${m.version} ${m.metadataDigest.toLowerCase()} ${m.verityRootHash.toLowerCase()} ${m.state}\n`,
    );
  return new TextEncoder().encode(`powernode-attest-v1\n${hex}\n${bootId}\n${lines.join("")}`);
}
