/**
 * The facts of a device in claim mode, checked at the edge: the claim endpoint is public, so every
 * field is bounded and validated, and a bad one is refused naming the field (`facts.macs[1]: ...`).
 */
import { Arch, type DeviceFacts } from "@powernode/proto";
import type { DeviceFactsDocument } from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";
import { intField, isUuid, listField, textField } from "../rpc/fields.ts";

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const SERIAL_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const HINT_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** Printable ASCII: shown to operators in a terminal. */
const PRINTABLE_RE = /^[\x20-\x7e]*$/;

const bad = (field: string, why: string) => new DomainError("invalid_argument", `${field}: ${why}`);

function mac(field: string, raw: string): string {
  const v = raw.toLowerCase();
  if (!MAC_RE.test(v)) throw bad(field, `"${raw.slice(0, 32)}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  if (v === "00:00:00:00:00:00" || v === "ff:ff:ff:ff:ff:ff")
    throw bad(field, `${v} is not a unicast address`);
  if (Number.parseInt(v.slice(0, 2), 16) & 1) throw bad(field, `${v} is a multicast address`);
  return v;
}

function printable(field: string, v: string, max: number): string {
  textField(field, v, { max });
  if (!PRINTABLE_RE.test(v)) throw bad(field, "must be printable ASCII");
  return v.trim();
}

/** Validates the reported facts; throws an invalid_argument DomainError naming the first bad field. */
export function parseDeviceFacts(facts: DeviceFacts | undefined): DeviceFactsDocument {
  if (!facts) throw bad("facts", "required");
  listField("facts.macs", facts.macs, 16);
  if (facts.macs.length === 0) throw bad("facts.macs", "at least one MAC address is required");
  const macs = facts.macs.map((m, i) => mac(`facts.macs[${i}]`, m));
  if (new Set(macs).size !== macs.length) throw bad("facts.macs", "lists a MAC address twice");
  const dmiUuid = facts.dmiUuid.trim().toLowerCase();
  if (dmiUuid !== "" && !isUuid(dmiUuid)) throw bad("facts.dmi_uuid", "is not a UUID");
  const serial = facts.serial.trim();
  if (serial !== "" && !SERIAL_RE.test(serial))
    throw bad("facts.serial", "must be 1-64 of A-Z a-z 0-9 . _ : -");
  let arch: DeviceFactsDocument["arch"];
  if (facts.arch === Arch.AMD64) arch = "amd64";
  else if (facts.arch === Arch.ARM64) arch = "arm64";
  else throw bad("facts.arch", "must be ARCH_AMD64 or ARCH_ARM64");
  const platformHint = facts.platformHint;
  if (platformHint !== "" && !HINT_RE.test(platformHint))
    throw bad("facts.platform_hint", "must be 1-32 of a-z 0-9 - (rpi4, rpi5, qemu, ...)");
  return {
    macs,
    dmiUuid,
    serial,
    arch,
    platformHint,
    model: printable("facts.model", facts.model, 128),
    cpus: intField("facts.cpus", facts.cpus, 1, 1024),
    memoryMib: intField("facts.memory_mib", facts.memoryMib, 64, 16 * 1024 * 1024),
    agentVersion: printable("facts.agent_version", facts.agentVersion, 64),
  };
}

/** What identifies the hardware across reboots: the DMI UUID, else the serial, else the first MAC. */
export function deviceKeyOf(f: DeviceFactsDocument): string {
  if (f.dmiUuid !== "") return `dmi:${f.dmiUuid}`;
  if (f.serial !== "") return `serial:${f.serial}`;
  return `mac:${f.macs[0]}`;
}
