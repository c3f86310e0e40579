/**
 * The few libc calls the agent needs as PID 1, through `bun:ffi`: waitpid (zombie reaping), prctl
 * (child subreaper, for tests), mount(2), finit_module(2) and execve(2) (agent self-update). Loaded lazily, so code paths that never
 * touch the kernel (the in-process session) never open libc.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  6: "ENXIO",
  8: "ENOEXEC",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  15: "ENOTBLK",
  10: "ECHILD",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  20: "ENOTDIR",
  22: "EINVAL",
  38: "ENOSYS",
  30: "EROFS",
  61: "ENODATA",
  95: "EOPNOTSUPP",
};

/** A failed libc call, with the errno and its symbolic name. */
export class LibcError extends Error {
  readonly kind = "libc";
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${errnoName(errno)} (errno ${errno})`);
    this.name = "LibcError";
  }
}

/** The symbolic name of an errno ("EEXIST"), or "errno N" for ones the agent never expects. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

function open() {
  return dlopen("libc.so.6", {
    waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    prctl: {
      args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64],
      returns: FFIType.i32,
    },
    mount: {
      args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr],
      returns: FFIType.i32,
    },
    umount2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    syscall: { args: [FFIType.i64, FFIType.i64, FFIType.ptr, FFIType.i64], returns: FFIType.i64 },
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

let lib: ReturnType<typeof open> | undefined;
function libc(): ReturnType<typeof open> {
  lib ??= open();
  return lib;
}

function errno(): number {
  const p = libc().symbols.__errno_location();
  return p === null ? 0 : read.i32(p, 0);
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}

export const WNOHANG = 1;

/** waitpid(pid, &status, flags): the reaped pid (0 when nothing is ready), or throws LibcError. */
export function waitpid(pid: number, flags: number): { pid: number; status: number } {
  const status = new Int32Array(1);
  const r = libc().symbols.waitpid(pid, ptr(status), flags);
  if (r < 0) throw new LibcError(`waitpid(${pid})`, errno());
  return { pid: r, status: status[0] ?? 0 };
}

const PR_SET_CHILD_SUBREAPER = 36;

/** Makes this process adopt orphaned descendants, as PID 1 does (used by the reaper test). */
export function setChildSubreaper(): void {
  if (libc().symbols.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) !== 0) {
    throw new LibcError("prctl(PR_SET_CHILD_SUBREAPER)", errno());
  }
}

export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_RELATIME = 1 << 21;

/** mount(2). `data` is the comma-separated option string ("mode=0755"). */
export function mount(source: string, target: string, fstype: string, flags: number, data?: string): void {
  const d = data === undefined ? null : ptr(cstr(data));
  const r = libc().symbols.mount(ptr(cstr(source)), ptr(cstr(target)), ptr(cstr(fstype)), flags, d);
  if (r !== 0) throw new LibcError(`mount ${fstype} on ${target}`, errno());
}

export const MS_RDONLY = 1;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MNT_DETACH = 2;

/** umount2(2); `MNT_DETACH` for a lazy unmount. */
export function umount2(target: string, flags: number): void {
  const r = libc().symbols.umount2(ptr(cstr(target)), flags);
  if (r !== 0) throw new LibcError(`umount ${target}`, errno());
}

/**
 * ioctl(fd, request, arg): the result (>= 0), or throws LibcError. `arg` is a buffer the kernel reads
 * and writes (struct ioctls), or null (number-only ioctls such as LOOP_CTL_GET_FREE).
 */
export function ioctl(fd: number, request: number, arg: Uint8Array | null, what: string): number {
  const r = libc().symbols.ioctl(fd, request, arg === null ? null : ptr(arg));
  if (r < 0) throw new LibcError(what, errno());
  return r;
}

const SYS_FINIT_MODULE: Record<string, number> = { x64: 313, arm64: 273 };
/** Lets the kernel decompress a .ko.xz / .ko.zst itself (Linux >= 6.4 with CONFIG_MODULE_DECOMPRESS). */
export const MODULE_INIT_COMPRESSED_FILE = 4;

/** finit_module(fd, "", flags) through syscall(2) (glibc has no wrapper). */
export function finitModule(fd: number, flags: number): void {
  const nr = SYS_FINIT_MODULE[process.arch];
  if (nr === undefined) throw new Error(`finit_module: unsupported arch ${process.arch}`);
  const r = libc().symbols.syscall(nr, fd, ptr(cstr("")), flags);
  if (Number(r) !== 0) throw new LibcError("finit_module", errno());
}

/** A NULL-terminated `char *[]` of C strings; `keep` holds the buffers alive while the array is used. */
function cstrArray(list: readonly string[]): { array: BigUint64Array; keep: Buffer[] } {
  const keep = list.map(cstr);
  const array = new BigUint64Array(list.length + 1);
  keep.forEach((b, i) => {
    array[i] = BigInt(ptr(b));
  });
  return { array, keep };
}

/**
 * execve(2): replaces this process (same pid, mounts, open descriptors without O_CLOEXEC) with `path`.
 * Returns only on failure, by throwing LibcError.
 */
export function execve(
  path: string,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): never {
  const a = cstrArray(argv);
  const e = cstrArray(Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])));
  const file = cstr(path);
  libc().symbols.execve(ptr(file), ptr(a.array), ptr(e.array));
  // Still here: it failed (the buffers above stayed referenced until this point).
  throw new LibcError(`execve ${path} (${a.keep.length} args, ${e.keep.length} env)`, errno());
}
