/**
 * Kernel fscrypt (linux/fscrypt.h) through ioctl: add a v2 master key to a filesystem, set a v2 policy
 * (AES-256-XTS contents, AES-256-CTS names, 32-byte name padding) on an empty directory, read a
 * directory's policy. The struct builders and parsers are pure; the ioctls need CAP_SYS_ADMIN and a
 * filesystem made with the `encrypt` feature (the /persist disk of a persistent instance).
 */
import { closeSync, constants as fsConstants, openSync } from "node:fs";
import { ioctl, LibcError } from "./libc.ts";

/** _IOR('f', 19, struct fscrypt_policy_v1): the kernel reads the version byte, then a v2 policy. */
export const FS_IOC_SET_ENCRYPTION_POLICY = 0x800c6613;
/** _IOWR('f', 22, __u8[9]). */
export const FS_IOC_GET_ENCRYPTION_POLICY_EX = 0xc0096616;
/** _IOWR('f', 23, struct fscrypt_add_key_arg): 80 bytes, the raw key follows. */
export const FS_IOC_ADD_ENCRYPTION_KEY = 0xc0506617;

const KEY_SPEC_TYPE_IDENTIFIER = 2;
const MODE_AES_256_XTS = 1;
const MODE_AES_256_CTS = 4;
const POLICY_FLAGS_PAD_32 = 0x03;
const ADD_KEY_ARG_SIZE = 80;
const POLICY_V2_SIZE = 24;
const ENODATA = 61;
/** The platform's value (x86-64 0o200000, arm64 0o40000: there 0o200000 is O_DIRECT, EINVAL on a directory). */
const { O_DIRECTORY } = fsConstants;

/** struct fscrypt_add_key_arg for a v2 key (spec type identifier, the kernel fills it in) + the raw key. */
export function addKeyArg(key: Uint8Array): Uint8Array {
  if (key.length < 16 || key.length > 64) throw new Error(`fscrypt key: ${key.length} bytes, need 16..64`);
  const buf = new Uint8Array(ADD_KEY_ARG_SIZE + key.length);
  const v = new DataView(buf.buffer);
  v.setUint32(0, KEY_SPEC_TYPE_IDENTIFIER, true);
  v.setUint32(40, key.length, true); // raw_size
  buf.set(key, ADD_KEY_ARG_SIZE);
  return buf;
}

/** The key identifier (hex, 16 bytes) the kernel wrote into an add-key argument. */
export function keyIdentifierOf(arg: Uint8Array): string {
  return Buffer.from(arg.subarray(8, 24)).toString("hex");
}

/** struct fscrypt_policy_v2 for `identifier` (hex). */
export function policyV2(identifier: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/.test(identifier))
    throw new Error(`fscrypt key identifier ${JSON.stringify(identifier)}`);
  const buf = new Uint8Array(POLICY_V2_SIZE);
  buf.set([2, MODE_AES_256_XTS, MODE_AES_256_CTS, POLICY_FLAGS_PAD_32]);
  buf.set(Buffer.from(identifier, "hex"), 8);
  return buf;
}

/** Parses struct fscrypt_get_policy_ex_arg: a v2 policy's key identifier, or why not one. */
export function parsePolicyEx(buf: Uint8Array): { version: number; identifier?: string } {
  const version = buf[8] ?? 0;
  if (version !== 2) return { version };
  return { version, identifier: Buffer.from(buf.subarray(8 + 8, 8 + 24)).toString("hex") };
}

function withFd<T>(path: string, flags: number, fn: (fd: number) => T): T {
  const fd = openSync(path, flags);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

export interface Fscrypt {
  /** Adds the key to the filesystem of `path` (again is fine); returns its identifier (hex). */
  addKey(path: string, key: Uint8Array): string;
  /** The identifier of the v2 policy on directory `dir`; undefined when it has none. */
  policyOf(dir: string): string | undefined;
  /** Sets a v2 policy with the key `identifier` on `dir`, which must be empty. */
  setPolicy(dir: string, identifier: string): void;
}

export const fscrypt: Fscrypt = {
  addKey(path, key) {
    const arg = addKeyArg(key);
    withFd(path, O_DIRECTORY, (fd) => ioctl(fd, FS_IOC_ADD_ENCRYPTION_KEY, arg, "FS_IOC_ADD_ENCRYPTION_KEY"));
    arg.fill(0, ADD_KEY_ARG_SIZE);
    return keyIdentifierOf(arg);
  },
  policyOf(dir) {
    const buf = new Uint8Array(8 + POLICY_V2_SIZE);
    new DataView(buf.buffer).setBigUint64(0, BigInt(POLICY_V2_SIZE), true);
    try {
      withFd(dir, O_DIRECTORY, (fd) =>
        ioctl(fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, buf, "FS_IOC_GET_ENCRYPTION_POLICY_EX"),
      );
    } catch (err) {
      if (err instanceof LibcError && err.errno === ENODATA) return undefined;
      throw err;
    }
    const p = parsePolicyEx(buf);
    if (!p.identifier) throw new Error(`${dir}: fscrypt policy version ${p.version}, not 2`);
    return p.identifier;
  },
  setPolicy(dir, identifier) {
    withFd(dir, O_DIRECTORY, (fd) =>
      ioctl(fd, FS_IOC_SET_ENCRYPTION_POLICY, policyV2(identifier), "FS_IOC_SET_ENCRYPTION_POLICY"),
    );
  },
};
