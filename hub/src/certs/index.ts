/** ACME certificates: the feature, the domain calls smokes and the operator listener use. */
export { type AcmeConfig, DEFAULT_ACME, parseAcmeConfig } from "./acme-config.ts";
export {
  activeVersion,
  type CertificateView,
  getCertificate,
  issueCertificate,
  listCertificates,
  openKey,
  renewCertificate,
  revokeCertificate,
} from "./certificates.ts";
export { certsFeature } from "./feature.ts";
export { runPreflight } from "./preflight.ts";
export { RENEWAL_JOB, runRenewalPass } from "./renewal.ts";
export { certDir, versionDir } from "./storage.ts";
