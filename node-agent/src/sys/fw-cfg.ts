/**
 * Reads the identity QEMU passes through fw-cfg (`-fw_cfg name=opt/com.powernode/<key>,file=...`),
 * visible once the qemu_fw_cfg module is loaded.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The fw-cfg keys the agent reads. */
export const FW_CFG_KEYS = ["instance_uuid", "bootstrap_token", "platform_url", "ca_pem", "ip"] as const;

/** The directory holding the powernode fw-cfg entries under a sysfs root. */
export function fwCfgDir(sysRoot = "/sys"): string {
  return join(sysRoot, "firmware/qemu_fw_cfg/by_name/opt/com.powernode");
}

/** The powernode fw-cfg entries, or undefined when there are none (not QEMU, or the module is missing). */
export function readFwCfgIdentity(sysRoot = "/sys"): Record<string, string> | undefined {
  const dir = fwCfgDir(sysRoot);
  if (!existsSync(dir)) return undefined;
  const out: Record<string, string> = {};
  for (const key of FW_CFG_KEYS) {
    const file = join(dir, key, "raw");
    if (existsSync(file)) out[key] = readFileSync(file, "utf8");
  }
  return out;
}
