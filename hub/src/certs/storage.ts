/**
 * A certificate's PEM files under the data dir: `certs/<name>/<serial>/{cert,chain,fullchain}.pem`,
 * written to a temporary directory and renamed into place, so a reader sees a whole version or none.
 * The private key is not written: it stays sealed in the database (`acme-cert:<version id>`).
 */
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export function certsRoot(dataDir: string): string {
  return join(resolve(dataDir), "certs");
}

export function certDir(dataDir: string, name: string): string {
  return join(certsRoot(dataDir), name);
}

export function versionDir(dataDir: string, name: string, serial: string): string {
  return join(certDir(dataDir, name), serial);
}

/** Writes one version's files (whole or not at all); returns its directory. */
export function writeVersionFiles(
  dataDir: string,
  name: string,
  v: { serial: string; certPem: string; chainPem: string },
): string {
  const dir = versionDir(dataDir, name, v.serial);
  mkdirSync(certDir(dataDir, name), { recursive: true, mode: 0o700 });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { mode: 0o700 });
  try {
    writeFileSync(join(tmp, "cert.pem"), v.certPem, { mode: 0o644 });
    writeFileSync(join(tmp, "chain.pem"), v.chainPem, { mode: 0o644 });
    writeFileSync(join(tmp, "fullchain.pem"), v.certPem + v.chainPem, { mode: 0o644 });
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

export function removeVersionFiles(dataDir: string, name: string, serial: string): void {
  rmSync(versionDir(dataDir, name, serial), { recursive: true, force: true });
}

export function removeCertFiles(dataDir: string, name: string): void {
  rmSync(certDir(dataDir, name), { recursive: true, force: true });
}

/** Preflight: the certificate directory can be made and written (a probe file is written and removed). */
export function checkStorageWritable(dataDir: string): string {
  const root = certsRoot(dataDir);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  accessSync(root, constants.W_OK);
  const probe = join(root, `.preflight-${process.pid}`);
  writeFileSync(probe, "ok\n");
  rmSync(probe);
  if (existsSync(probe)) throw new Error(`${probe}: could not be removed`);
  return `${root} writable`;
}
