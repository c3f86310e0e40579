/**
 * The certs feature: ACME certificates over DNS-01 (CertService for operators) and the renewal job
 * (renew due certificates, retry failed ones after their backoff, retire replaced versions).
 */
import { CertService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createCertService } from "./cert-service.ts";
import { RENEWAL_JOB, runRenewalPass } from "./renewal.ts";

export const certsFeature: Feature = {
  name: "certs",
  services: [
    bindService({
      service: CertService,
      principals: {
        listCertificates: "operator",
        getCertificate: "operator",
        issueCertificate: "operator",
        renewManagedCertificate: "operator",
        revokeCertificate: "operator",
        preflight: "operator",
        createDnsProvider: "operator",
        listDnsProviders: "operator",
        deleteDnsProvider: "operator",
      },
      create: createCertService,
    }),
  ],
  jobs: [
    {
      name: RENEWAL_JOB,
      // The scheduler takes one interval per job; the config's check period applies to the next start.
      everyMs: 3600_000,
      async run(deps, signal) {
        await runRenewalPass(deps, signal);
      },
    },
  ],
};
