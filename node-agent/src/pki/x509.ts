/**
 * `@peculiar/x509`, loaded after the `reflect-metadata` polyfill it needs (tsyringe throws without it).
 * Import x509 from here, never from the package directly.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

export { x509 };

/** ECDSA P-256 with SHA-256: fast to generate even under QEMU TCG, accepted by the hub. */
export const EC_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** PEM armour for DER bytes. */
export function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
