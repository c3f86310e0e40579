/**
 * Pass 8's disk images with an `identity.cfg` on their boot partition (an instance made beforehand,
 * its bootstrap token in the file), and the wait for such a node to enroll as that instance.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Arch, NodeState } from "@powernode/proto";
import { cliFor } from "../../hub/src/cli/test-cli.ts";
import type { SmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { waitFor } from "../lib/wait.ts";

export const identityCfg = (what: string, s: SmokeHub, instance: string, bootstrapToken: string): string =>
  [
    `# identity for ${what}`,
    `instance_uuid=${instance}`,
    `bootstrap_token=${bootstrapToken}`,
    `platform_url=${s.hub.nodeUrl}`,
    `ca_pem=${Buffer.from(s.hub.caPem).toString("base64")}`,
    "",
  ].join("\n");

/** An arm64 instance (provider none) and `pnctl image build --platform <p> --identity-file` for it. */
export async function arm64IdentityImage(
  t: PassContext,
  s: SmokeHub,
  platform: "rpi4" | "arm64-efi",
  what: string,
): Promise<{ instance: string; image: string }> {
  const pnctl = cliFor(() => s.hub);
  const made = await s.provision.createInstance({ name: platform, arch: Arch.ARM64, provider: "none" });
  const instance = made.instance?.id ?? "";
  const cfg = join(t.outDir, `${platform}-identity.cfg`);
  writeFileSync(cfg, identityCfg(what, s, instance, made.bootstrapToken));
  const image = join(t.outDir, `${platform}.img`);
  await t.step(`pnctl image build --platform ${platform} --identity-file identity.cfg`, async () => {
    const r = await pnctl(
      "image",
      "build",
      "--platform",
      platform,
      "--out",
      image,
      "--identity-file",
      cfg,
      "--json",
    );
    if (r.code !== 0) throw new Error(r.err);
    return JSON.parse(r.out) as { sha256: string };
  });
  return { instance, image };
}

/** Waits for `instance` to be RUNNING (never through claim mode); fails at once if QEMU exits. */
export async function enrolledFromIdentity(
  s: SmokeHub,
  instance: string,
  vm: { exitCode: number | null },
  serial: string,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    `instance ${instance} RUNNING (serial log ${serial})`,
    async () => {
      if (vm.exitCode !== null) throw new Error(`qemu exited ${vm.exitCode} (serial log ${serial})`);
      return (await s.fleet.getNode({ id: instance })).node?.state === NodeState.RUNNING ? true : undefined;
    },
    { timeoutMs, intervalMs: 1000 },
  );
  if (/claim code:/.test(readFileSync(serial, "utf8"))) throw new Error("the node went into claim mode");
}
