/** The internal CA: root in the database, node and server certificates, CSR checks. */
export {
  type CertificateAuthority,
  createCertificateAuthority,
  type IssuedCertificate,
  loadOrCreateCa,
  NODE_CERT_DAYS,
  normaliseSerial,
  type ServerIdentity,
} from "./ca.ts";
export { type CsrResult, type ParsedCsr, parseCsr } from "./csr.ts";
export {
  createKeyAtRest,
  isSealed,
  KEK_BYTES,
  type KeyAtRest,
  KeyAtRestError,
  kekFile,
  parseKek,
} from "./key-at-rest.ts";
export {
  CA_KEY_CONTEXT,
  dockerHostKeyContext,
  networkKeyContext,
  openStoredKeys,
  type StoredKeysOpened,
} from "./stored-keys.ts";
