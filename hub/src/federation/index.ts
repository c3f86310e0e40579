/** Federation: hub-to-hub peerings over mutual TLS (see feature.ts). */
export { federationFeature } from "./feature.ts";
export { type PeerHubIdentity, resolvePeerHub } from "./peer-identity.ts";
export { catalogEntries, fleetSummary, PEER_CATALOG_LIMIT } from "./peer-reads.ts";
export { ACCEPTANCE_TOKEN_TTL_MS, peerKeyContext } from "./peers.ts";
