import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HubConfig } from "../config.ts";
import { createLogger } from "../log.ts";
import { netbootRoutes } from "./netboot-routes.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const images = mkdtempSync(join(tmpdir(), "netboot-"));
mkdirSync(join(images, "amd64/kernel-initrd"), { recursive: true });
writeFileSync(join(images, "amd64/kernel-initrd/kernel"), "KERNEL");
writeFileSync(join(images, "amd64/kernel-initrd/initramfs.cpio.zst"), "INITRAMFS");
const app = netbootRoutes(
  {
    config: { nodeHttpUrl: "http://10.0.2.2:8080", nodeUrl: "https://10.0.2.2:8443" } as HubConfig,
    ca: { certPem: PEM } as never,
    log: createLogger({ level: "error" }),
  },
  images,
);
const get = (path: string) => app.handle(new Request(`http://localhost${path}`));

describe("netboot routes", () => {
  test("the script, generic or for a MAC", async () => {
    const r = await get("/boot/ipxe?mac=52:54:00:AA:BB:CC");
    expect(r.status).toBe(200);
    const s = await r.text();
    expect(s.startsWith("#!ipxe\n")).toBe(true);
    expect(s).toContain("52:54:00:aa:bb:cc");
    expect(s).toContain("powernode.claim_url=https://10.0.2.2:8443");
    expect((await get("/boot/ipxe")).status).toBe(200);
  });
  test("a bad MAC is a 400 naming it", async () => {
    const r = await get("/boot/ipxe?mac=nope");
    expect(r.status).toBe(400);
    expect(await r.text()).toBe('mac: "nope" is not a MAC address\n');
  });
  test("boot files per arch; missing ones are a 404 naming the build command", async () => {
    expect(await (await get("/boot/amd64/kernel")).text()).toBe("KERNEL");
    expect(await (await get("/boot/amd64/initramfs")).text()).toBe("INITRAMFS");
    const missing = await get("/boot/arm64/kernel");
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain("bun initramfs/build.ts --arch arm64");
    expect((await get("/boot/riscv/kernel")).status).toBe(404);
    expect((await get("/boot/amd64/..%2f..%2fetc%2fpasswd")).status).toBe(404);
  });
});
