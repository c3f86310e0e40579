/**
 * The iPXE script the hub serves at `/boot/ipxe` (pure: tested without a hub). Every machine that
 * boots it gets the hub's kernel and initramfs for its arch and a cmdline that puts it in claim mode
 * (decision 0023): the hub's TLS listener and its CA, so an unknown machine reports itself and
 * waits for an operator. No identity is served, not even for known MACs (decision 0025).
 */

export interface IpxeScriptInput {
  /** Where the machine fetches the kernel and initramfs (`http://host:port`, the operator listener). */
  bootBaseUrl: string;
  /** The hub's TLS listener as nodes reach it (`POWERNODE_NODE_URL`). */
  claimUrl: string;
  caPem: string;
  /** The MAC iPXE booted from, for the script's comment and the node's log. */
  mac?: string;
}

/** iPXE's `${buildarch}` -> the hub's arch names. */
export const IPXE_ARCHES = { x86_64: "amd64", arm64: "arm64" } as const;

/** The kernel arguments of a claim-mode netboot. */
export function claimCmdline(
  input: Pick<IpxeScriptInput, "claimUrl" | "caPem">,
  arch: "amd64" | "arm64",
): string {
  const console = arch === "amd64" ? "console=ttyS0,115200" : "console=ttyAMA0";
  const ca = Buffer.from(input.caPem, "utf8").toString("base64");
  return `${console} panic=-1 powernode.claim_url=${input.claimUrl} powernode.ca_pem=${ca}`;
}

/** The script: picks the arch, fetches kernel + initramfs, boots; retries the fetch on failure. */
export function ipxeScript(input: IpxeScriptInput): string {
  const base = input.bootBaseUrl.replace(/\/+$/, "");
  return [
    "#!ipxe",
    `# powernode netboot${input.mac ? ` for ${input.mac}` : ""}: claim mode (no identity is served here)`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an iPXE variable, expanded by iPXE
    "iseq ${buildarch} arm64 && goto arm64 || goto amd64",
    ...(["amd64", "arm64"] as const).flatMap((arch) => [
      `:${arch}`,
      `kernel ${base}/boot/${arch}/kernel initrd=initramfs ${claimCmdline(input, arch)} || goto retry`,
      `initrd --name initramfs ${base}/boot/${arch}/initramfs || goto retry`,
      "boot || goto retry",
    ]),
    ":retry",
    "echo powernode: fetching the boot files failed; retrying in 10 s",
    "sleep 10",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an iPXE variable (this script's URL)
    "chain --replace ${0} || reboot",
    "",
  ].join("\n");
}
