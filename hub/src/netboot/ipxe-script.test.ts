import { describe, expect, test } from "bun:test";
import { claimCmdline, ipxeScript } from "./ipxe-script.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const input = { bootBaseUrl: "http://10.0.2.2:8080/", claimUrl: "https://10.0.2.2:8443", caPem: PEM };

describe("ipxeScript", () => {
  test("per arch: kernel and initramfs from the hub, a claim-mode cmdline, a retry path", () => {
    const s = ipxeScript({ ...input, mac: "52:54:00:12:34:56" });
    const lines = s.split("\n");
    expect(lines[0]).toBe("#!ipxe");
    expect(lines).toContain(
      "initrd --name initramfs http://10.0.2.2:8080/boot/amd64/initramfs || goto retry",
    );
    expect(lines).toContain(
      "initrd --name initramfs http://10.0.2.2:8080/boot/arm64/initramfs || goto retry",
    );
    const kernel = lines.find((l) => l.startsWith("kernel http://10.0.2.2:8080/boot/amd64/kernel "));
    expect(kernel).toBeDefined();
    expect(s).toContain("52:54:00:12:34:56");
    expect(s).not.toContain("bootstrap_token");
  });

  test("the cmdline parses (as the agent parses it) back to the claim URL and the CA", () => {
    for (const arch of ["amd64", "arm64"] as const) {
      const line = claimCmdline(input, arch);
      const p = Object.fromEntries(
        line.split(" ").map((w) => [w.split("=")[0]?.replace("powernode.", ""), w.slice(w.indexOf("=") + 1)]),
      );
      expect(p.claim_url).toBe("https://10.0.2.2:8443");
      expect(Buffer.from(p.ca_pem ?? "", "base64").toString()).toBe(PEM);
      // x86 COMMAND_LINE_SIZE is 2048; a P-256 CA certificate leaves room.
      expect(line.length).toBeLessThan(2048);
    }
  });
});
