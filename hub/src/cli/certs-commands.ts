/**
 * `pnctl certs ...`: ACME certificates and the DNS providers answering their challenges. Secrets
 * (API tokens, TSIG secrets) come from a file or the environment, never from argv.
 */
import { existsSync, readFileSync } from "node:fs";
import { CertificateStatus, CertService, type ManagedCertificate } from "@powernode/proto";
import { flag } from "./args.ts";
import {
  CliError,
  type CommandContext,
  type CommandGroup,
  fields,
  required,
  table,
  ts,
  UsageError,
  unknownVerb,
} from "./shared.ts";

const STATUS: Record<CertificateStatus, string> = {
  [CertificateStatus.UNSPECIFIED]: "unknown",
  [CertificateStatus.PENDING]: "pending",
  [CertificateStatus.VALID]: "valid",
  [CertificateStatus.FAILED]: "failed",
};

function view(c: ManagedCertificate) {
  return {
    id: c.id,
    name: c.name,
    domains: c.domains.join(","),
    dnsProvider: c.dnsProvider,
    status: STATUS[c.status],
    serial: c.active?.serial ?? "",
    notAfter: ts(c.active?.notAfter),
    renewAfter: ts(c.renewAfter),
    renewAfterSource: c.renewAfterSource,
    versions: c.versions.length,
    failures: c.failures,
    failedStep: c.failedStep,
    lastError: c.lastError,
    nextAttemptAt: ts(c.nextAttemptAt),
    dir: c.active?.dir ?? "",
  };
}

/** `k=v,k=v` into a map; throws naming the bad pair. */
export function parseSettings(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? "").split(",").filter(Boolean)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--settings: "${pair}" is not key=value`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

function secretOf(ctx: CommandContext): string {
  const file = flag(ctx.args, "secret-file");
  if (file) {
    if (!existsSync(file)) throw new CliError(`--secret-file: ${file} does not exist`);
    return readFileSync(file, "utf8").trim();
  }
  return ctx.env.POWERNODE_DNS_SECRET ?? "";
}

async function dns(ctx: CommandContext): Promise<number> {
  const certs = ctx.client(CertService);
  const [sub, name] = ctx.rest;
  switch (sub) {
    case "ls": {
      const rows = (await certs.listDnsProviders({})).providers.map((p) => ({
        name: p.name,
        type: p.type,
        settings: Object.entries(p.settings)
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
        secret: p.hasSecret,
      }));
      ctx.print(rows, () =>
        table([
          ["NAME", "TYPE", "SECRET", "SETTINGS"],
          ...rows.map((r) => [r.name, r.type, r.secret ? "yes" : "no", r.settings]),
        ]),
      );
      return 0;
    }
    case "add": {
      if (!name) throw new UsageError("certs dns add: missing <name>");
      const type = flag(ctx.args, "type");
      if (!type)
        throw new UsageError(
          "certs dns add: missing --type (rfc2136, cloudflare, hetzner, digitalocean, challtestsrv)",
        );
      const r = await certs.createDnsProvider({
        name,
        type,
        settings: parseSettings(flag(ctx.args, "settings")),
        secret: secretOf(ctx),
      });
      ctx.print(r.provider, () => [`DNS provider ${name} (${type}) added`]);
      return 0;
    }
    case "rm": {
      if (!name) throw new UsageError("certs dns rm: missing <name>");
      await certs.deleteDnsProvider({ provider: name });
      ctx.print({ removed: name }, () => [`DNS provider ${name} removed`]);
      return 0;
    }
    default:
      throw new UsageError(`certs dns: unknown "${sub ?? ""}" (ls, add, rm)`);
  }
}

export const certsCommands: CommandGroup = {
  name: "certs",
  usage: `  certs ls | show <name>          (ACME certificates: status, serial, renewal, last failure)
  certs issue <domain>... --dns <provider> [--name N]  (order now: names and *. wildcards, DNS-01)
  certs renew <name>              (a new certificate now; the old one retires after the grace)
  certs revoke <name> [--reason N]  (revoke at the ACME server, remove files and rows; N: RFC 5280 code)
  certs preflight                 (renewal job, storage, account, each DNS provider: ok/FAIL; exit 1 on FAIL)
  certs dns ls | rm <name>        (DNS providers)
  certs dns add <name> --type T [--settings k=v,...] [--secret-file F]  (secret also from $POWERNODE_DNS_SECRET)`,
  async run(ctx) {
    const certs = ctx.client(CertService);
    switch (ctx.verb) {
      case "ls": {
        const rows = (await certs.listCertificates({})).certificates.map(view);
        ctx.print(rows, () =>
          table([
            ["NAME", "STATUS", "SERIAL", "NOT AFTER", "RENEW AFTER", "DOMAINS", "LAST ERROR"],
            ...rows.map((r) => [
              r.name,
              r.status,
              r.serial || "-",
              r.notAfter,
              r.renewAfter,
              r.domains,
              r.lastError || "-",
            ]),
          ]),
        );
        return 0;
      }
      case "show": {
        const r = await certs.getCertificate({ certificate: required(ctx, 0, "name") });
        const v = r.certificate ? view(r.certificate) : {};
        ctx.print({ ...v, certificatePem: r.certificatePem, chainPem: r.chainPem }, () => fields(v));
        return 0;
      }
      case "issue": {
        const domains = ctx.rest;
        if (domains.length === 0) throw new UsageError("certs issue: missing <domain>");
        const dnsProvider = flag(ctx.args, "dns");
        if (!dnsProvider) throw new UsageError("certs issue: missing --dns <provider>");
        const r = await certs.issueCertificate({ domains, dnsProvider, name: flag(ctx.args, "name") ?? "" });
        const v = r.certificate ? view(r.certificate) : undefined;
        ctx.print(v, () => [
          `issued ${v?.name}: serial ${v?.serial}, not after ${v?.notAfter}, files in ${v?.dir}`,
        ]);
        return 0;
      }
      case "renew": {
        const r = await certs.renewManagedCertificate({ certificate: required(ctx, 0, "name") });
        const v = r.certificate ? view(r.certificate) : undefined;
        ctx.print({ ...v, previousSerial: r.previousSerial }, () => [
          `renewed ${v?.name}: serial ${v?.serial}${r.previousSerial ? ` (replaces ${r.previousSerial}, kept until the switch-over grace ends)` : ""}`,
        ]);
        return 0;
      }
      case "revoke": {
        const reasonRaw = flag(ctx.args, "reason") ?? "0";
        if (!/^\d+$/.test(reasonRaw)) throw new UsageError(`--reason: "${reasonRaw}" is not a number`);
        const name = required(ctx, 0, "name");
        const r = await certs.revokeCertificate({ certificate: name, reason: Number(reasonRaw) });
        ctx.print(r, () => [
          `revoked ${name}: serials ${r.revokedSerials.join(", ") || "(none issued)"}; files and rows removed`,
        ]);
        return 0;
      }
      case "preflight": {
        const r = await certs.preflight({});
        ctx.print(r, () => r.checks.map((c) => `${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`));
        return r.ok ? 0 : 1;
      }
      case "dns":
        return dns(ctx);
      default:
        return unknownVerb(ctx, certsCommands);
    }
  },
};
