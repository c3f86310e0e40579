/** Certificate and DNS provider rows as the API's messages. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CertificateStatus,
  CertificateVersionState,
  type DnsProvider,
  type ManagedCertificate,
} from "@powernode/proto";
import type { CertificateView, VersionRow } from "./certificates.ts";
import type { DnsProviderRow } from "./dns-providers.ts";
import { versionDir } from "./storage.ts";

const ts = (d: Date | null) => (d ? timestampFromDate(d) : undefined);

const STATUS = {
  pending: CertificateStatus.PENDING,
  valid: CertificateStatus.VALID,
  failed: CertificateStatus.FAILED,
};

function toProtoVersion(dataDir: string, name: string, v: VersionRow) {
  return {
    serial: v.serial,
    state: v.state === "active" ? CertificateVersionState.ACTIVE : CertificateVersionState.RETIRING,
    notBefore: ts(v.notBefore),
    notAfter: ts(v.notAfter),
    retireAt: ts(v.retireAt),
    dir: versionDir(dataDir, name, v.serial),
  };
}

export function toProtoCertificate(
  dataDir: string,
  view: CertificateView,
  providerName: string,
): MessageInitShape<GenMessage<ManagedCertificate>> {
  const { cert, versions } = view;
  const active = versions.find((v) => v.state === "active");
  return {
    id: cert.id,
    name: cert.name,
    domains: cert.domains,
    dnsProvider: providerName,
    status: STATUS[cert.status],
    active: active ? toProtoVersion(dataDir, cert.name, active) : undefined,
    versions: versions.map((v) => toProtoVersion(dataDir, cert.name, v)),
    renewAfter: ts(cert.renewAfter),
    renewAfterSource: cert.renewAfterSource ?? "",
    failures: cert.failures,
    lastError: cert.lastError ?? "",
    failedStep: cert.failedStep ?? "",
    nextAttemptAt: ts(cert.nextAttemptAt),
    createdAt: ts(cert.createdAt),
    updatedAt: ts(cert.updatedAt),
  };
}

export function toProtoProvider(p: DnsProviderRow): MessageInitShape<GenMessage<DnsProvider>> {
  return {
    id: p.id,
    name: p.name,
    type: p.type,
    settings: p.settings,
    hasSecret: p.secret !== null,
    createdAt: ts(p.createdAt),
  };
}
