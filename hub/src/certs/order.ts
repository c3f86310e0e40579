/**
 * One ACME order, step by step so a failure names its step: `order` (new order, authorizations),
 * `dns-record` (the solver's TXT records, one per authorization), `validate` (challenge answered and
 * valid), `finalize` (CSR of a fresh ECDSA P-256 key, certificate downloaded). The TXT records are
 * removed whatever happens. Nothing is stored here.
 */
import { X509Certificate } from "node:crypto";
import * as acme from "acme-client";
import type { DnsSolver } from "./solvers/solver.ts";

export type OrderStep = "account" | "order" | "dns-record" | "validate" | "finalize" | "store";

/** A failed step of an order; `step` goes to the certificate row and the failed event. */
export class OrderError extends Error {
  constructor(
    readonly step: OrderStep,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${step}: ${message}`, options);
    this.name = "OrderError";
  }
}

export async function atStep<T>(step: OrderStep, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof OrderError) throw e;
    throw new OrderError(step, (e as Error).message, { cause: e });
  }
}

export interface IssuedPems {
  certPem: string;
  chainPem: string;
  keyPem: string;
  /** Hex, lower case. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** Splits the server's PEM bundle into leaf and chain and reads the leaf. */
export function readIssued(bundle: string, keyPem: string): IssuedPems {
  const [leaf, ...chain] = acme.crypto.splitPemChain(bundle);
  if (!leaf) throw new Error("the server returned no certificate");
  const x = new X509Certificate(leaf);
  return {
    certPem: `${leaf.trim()}\n`,
    chainPem: chain.map((c) => `${c.trim()}\n`).join(""),
    keyPem,
    serial: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ""),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
  };
}

/** Orders a certificate for `domains` from `client`, answering DNS-01 with `solver`. */
export async function runOrder(
  client: acme.Client,
  domains: readonly string[],
  solver: DnsSolver,
  signal: AbortSignal,
  /** Told about a TXT record that could not be removed (the order's outcome stands). */
  onCleanupError: (fqdn: string, e: unknown) => void,
): Promise<IssuedPems> {
  const order = await atStep("order", () =>
    client.createOrder({ identifiers: domains.map((value) => ({ type: "dns", value })) }),
  );
  const authzs = await atStep("order", () => client.getAuthorizations(order));
  const created: { fqdn: string; value: string }[] = [];
  try {
    const pending: { challenge: acme.Authorization["challenges"][number] }[] = [];
    for (const authz of authzs) {
      if (authz.status === "valid") continue;
      const challenge = authz.challenges.find((c) => c.type === "dns-01");
      if (!challenge)
        throw new OrderError("order", `the server offers no dns-01 challenge for ${authz.identifier.value}`);
      const value = await atStep("dns-record", () => client.getChallengeKeyAuthorization(challenge));
      const fqdn = `_acme-challenge.${authz.identifier.value.replace(/^\*\./, "")}`;
      await atStep("dns-record", () => solver.createTxt(fqdn, value, signal));
      created.push({ fqdn, value });
      pending.push({ challenge });
    }
    for (const p of pending) {
      await atStep("validate", async () => {
        await client.completeChallenge(p.challenge);
        await client.waitForValidStatus(p.challenge);
      });
    }
    const [key, csr] = await atStep("finalize", async () =>
      acme.crypto.createCsr(
        { commonName: domains[0], altNames: [...domains] },
        await acme.crypto.createPrivateEcdsaKey("P-256"),
      ),
    );
    const finalized = await atStep("finalize", () => client.finalizeOrder(order, csr));
    const bundle = await atStep("finalize", () => client.getCertificate(finalized));
    return atStep("finalize", async () => readIssued(bundle, key.toString()));
  } finally {
    for (const r of created) {
      await solver.removeTxt(r.fqdn, r.value, signal).catch((e) => onCleanupError(r.fqdn, e));
    }
  }
}
