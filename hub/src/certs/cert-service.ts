/** CertService (operators): edge checks, then certificates.ts, dns-providers.ts and preflight.ts. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { CertService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { intField, listField, nameField, textField } from "../rpc/fields.ts";
import {
  activeVersion,
  type CertificateView,
  getCertificate,
  issueCertificate,
  listCertificates,
  renewCertificate,
  revokeCertificate,
} from "./certificates.ts";
import { createDnsProvider, deleteDnsProvider, listDnsProviders } from "./dns-providers.ts";
import { runPreflight } from "./preflight.ts";
import { toProtoCertificate, toProtoProvider } from "./to-proto.ts";

const refField = (field: string, v: string) => textField(field, v, { required: true, max: 253 });

export function createCertService(deps: Deps): ServiceImpl<typeof CertService> {
  const providerNames = async () => new Map((await listDnsProviders(deps)).map((p) => [p.id, p.name]));
  const view = async (v: CertificateView) =>
    toProtoCertificate(deps.config.dataDir, v, (await providerNames()).get(v.cert.dnsProviderId) ?? "");
  return {
    async listCertificates() {
      const names = await providerNames();
      const all = await listCertificates(deps);
      return {
        certificates: all.map((v) =>
          toProtoCertificate(deps.config.dataDir, v, names.get(v.cert.dnsProviderId) ?? ""),
        ),
      };
    },
    async getCertificate(req) {
      const v = await getCertificate(deps, refField("certificate", req.certificate));
      const active = activeVersion(v);
      return {
        certificate: await view(v),
        certificatePem: active?.certPem ?? "",
        chainPem: active?.chainPem ?? "",
      };
    },
    async issueCertificate(req, ctx) {
      const domains = listField("domains", req.domains, 100).map((d, i) =>
        textField(`domains[${i}]`, d, { max: 253 }),
      );
      const v = await issueCertificate(
        deps,
        {
          domains,
          dnsProvider: refField("dns_provider", req.dnsProvider),
          name: textField("name", req.name, { max: 128 }),
        },
        ctx.signal,
      );
      return { certificate: await view(v) };
    },
    async renewManagedCertificate(req, ctx) {
      const r = await renewCertificate(deps, refField("certificate", req.certificate), ctx.signal);
      return { certificate: await view(r.view), previousSerial: r.previousSerial };
    },
    async revokeCertificate(req) {
      const r = await revokeCertificate(
        deps,
        refField("certificate", req.certificate),
        intField("reason", req.reason, 0, 10),
      );
      return { revokedSerials: r.serials };
    },
    async preflight() {
      const r = await runPreflight(deps);
      return { ok: r.ok, checks: r.checks };
    },
    async createDnsProvider(req) {
      const settings: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.settings))
        settings[k] = textField(`settings.${k}`, v, { max: 1024 });
      const p = await createDnsProvider(deps, {
        name: nameField("name", req.name, "provider name"),
        type: textField("type", req.type, { required: true, max: 32 }),
        settings,
        secret: textField("secret", req.secret, { max: 4096 }),
      });
      return { provider: toProtoProvider(p) };
    },
    async listDnsProviders() {
      return { providers: (await listDnsProviders(deps)).map(toProtoProvider) };
    },
    async deleteDnsProvider(req) {
      await deleteDnsProvider(deps, refField("provider", req.provider));
      return {};
    },
  };
}
