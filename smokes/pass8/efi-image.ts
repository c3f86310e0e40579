/**
 * Pass 8, single tier: the x86-efi disk image (pnctl image build) boots under OVMF from the image
 * alone (no -kernel). First in claim mode: reproducible (built twice, one sha256), it prints a claim
 * code, is confirmed and enrolls. Then with an `identity.cfg` on its boot partition (the third
 * identity source): an instance made beforehand, its bootstrap token in the file; the node enrolls as
 * that instance with nothing on its cmdline or in fw-cfg.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Arch, NodeState } from "@powernode/proto";
import { cliFor } from "../../hub/src/cli/test-cli.ts";
import { TCG_KERNEL_ARGS } from "../../hub/src/providers/qemu/argv.ts";
import type { SmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { waitFor } from "../lib/wait.ts";
import { identityCfg } from "./identity-image.ts";
import { diskAndNicArgv, pflashArgv, q35Argv } from "./q35.ts";

type Accel = "kvm" | "tcg";

/** Boots `image` under OVMF (a fresh copy of the vars), serial to a kept log; killed when the pass ends. */
function bootUnderOvmf(t: PassContext, image: string, name: string, accel: Accel, mac: string) {
  const vars = join(t.outDir, `${name}.OVMF_VARS.fd`);
  writeFileSync(vars, readFileSync("/usr/share/OVMF/OVMF_VARS_4M.fd"));
  const serial = join(t.outDir, `${name}.serial.log`);
  t.keepOnFailure(`${name} serial log`, serial);
  const vm = Bun.spawn(
    [
      ...q35Argv(accel, serial),
      ...pflashArgv("/usr/share/OVMF/OVMF_CODE_4M.fd", vars),
      ...diskAndNicArgv(image, mac),
    ],
    { stdout: "ignore", stderr: "ignore" },
  );
  t.defer(() => {
    vm.kill();
  });
  const read = () => {
    try {
      return readFileSync(serial, "utf8");
    } catch {
      return "";
    }
  };
  return { vm, serial, read, started: Date.now() };
}

const running = (s: SmokeHub, id: string, serial: string) =>
  waitFor(
    `instance ${id} RUNNING (serial log ${serial})`,
    async () => ((await s.fleet.getNode({ id })).node?.state === NodeState.RUNNING ? true : undefined),
    { timeoutMs: 180_000, intervalMs: 500 },
  );

export async function efiImageNodes(t: PassContext, s: SmokeHub, accel: Accel): Promise<void> {
  const pnctl = cliFor(() => s.hub);
  const tcgArgs = accel === "tcg" ? ["--cmdline", TCG_KERNEL_ARGS.amd64.join(" ")] : [];
  const image = join(t.outDir, "x86-efi.img");
  const build = (out: string, extra: string[]) =>
    pnctl("image", "build", "--platform", "x86-efi", "--out", out, ...extra, ...tcgArgs, "--json");
  const claimArgs = ["--claim-url", s.hub.nodeUrl];
  const built = await t.step("pnctl image build --platform x86-efi (claim mode, the hub's CA)", async () => {
    const r = await build(image, claimArgs);
    if (r.code !== 0) throw new Error(r.err);
    return JSON.parse(r.out) as { sha256: string; sizeBytes: number };
  });
  await t.check("the image is reproducible: built again, the same sha256", async () => {
    const r = await build(join(t.outDir, "x86-efi-again.img"), claimArgs);
    const again = JSON.parse(r.out) as { sha256: string };
    if (again.sha256 !== built.sha256) throw new Error(`${again.sha256} != ${built.sha256}`);
    return `sha256 ${built.sha256.slice(0, 16)}..., ${(built.sizeBytes / 1024 / 1024).toFixed(0)} MiB`;
  });

  const claimNode = bootUnderOvmf(t, image, "efi-node", accel, "52:54:00:08:0e:f1");
  const code = await t.step("the image boots under OVMF (no -kernel) and prints a claim code", () =>
    waitFor(
      `a claim code in ${claimNode.serial}`,
      () => {
        if (claimNode.vm.exitCode !== null) throw new Error(`qemu exited ${claimNode.vm.exitCode}`);
        return /claim code: ([2-9A-Z]{4}-[2-9A-Z]{4})/.exec(claimNode.read())?.[1];
      },
      { timeoutMs: accel === "kvm" ? 120_000 : 300_000, intervalMs: 500 },
    ),
  );
  const codeSeconds = ((Date.now() - claimNode.started) / 1000).toFixed(1);
  const r = await pnctl("claims", "confirm", code, "--name", "efi-node", "--json");
  if (r.code !== 0) throw new Error(`pnctl claims confirm: ${r.err}`);
  const id = (JSON.parse(r.out) as { instance: { id: string } }).instance.id;
  await t.check("confirmed: the disk-image node enrolls and heartbeats (RUNNING)", async () => {
    await running(s, id, claimNode.serial);
    return `code ${code} after ${codeSeconds} s, RUNNING ${((Date.now() - claimNode.started) / 1000).toFixed(1)} s after QEMU started`;
  });
  claimNode.vm.kill();

  // The third identity source: identity.cfg on the boot partition, nothing on the cmdline.
  const made = await s.provision.createInstance({ name: "efi-identity", arch: Arch.AMD64, provider: "none" });
  const instance = made.instance?.id ?? "";
  const cfg = join(t.outDir, "identity.cfg");
  writeFileSync(cfg, identityCfg("the disk-image node (pass 8)", s, instance, made.bootstrapToken));
  const withIdentity = join(t.outDir, "x86-efi-identity.img");
  await t.step("pnctl image build --identity-file identity.cfg (no claim URL)", async () => {
    const b = await build(withIdentity, ["--identity-file", cfg]);
    if (b.code !== 0) throw new Error(b.err);
    return JSON.parse(b.out) as { sha256: string };
  });
  const idNode = bootUnderOvmf(t, withIdentity, "efi-identity-node", accel, "52:54:00:08:0e:f2");
  await t.check(
    "the image's identity.cfg is read from its boot partition: it enrolls as that instance",
    async () => {
      await running(s, instance, idNode.serial);
      if (/claim code:/.test(idNode.read())) throw new Error("the node went into claim mode");
      return `instance ${instance} RUNNING ${((Date.now() - idNode.started) / 1000).toFixed(1)} s after QEMU started`;
    },
  );
  idNode.vm.kill();
}
