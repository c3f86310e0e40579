/**
 * The OS side of K3s on a node: files in the composed root (config.yaml and the token file written,
 * the kubeconfig and node-token k3s writes read back), whether the root has the k3s binary, and the
 * k3s process (chrooted into the composed root like every module service).
 */
import { accessSync, constants, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./files.ts";
import type { ModuleSys } from "./module-sys.ts";

export interface K3sOs {
  /** True when `<root><binary>` exists and is executable. */
  hasBinary(root: string, binary: string): boolean;
  /** The text of `<root><path>`, or undefined when it is not there. */
  readFile(root: string, path: string): string | undefined;
  /** Writes `<root><path>` atomically unless it holds `text` already; true when it wrote. */
  writeFile(root: string, path: string, text: string, mode: number): boolean;
  removeFile(root: string, path: string): void;
  spawnService: ModuleSys["spawnService"];
}

export function createK3sOs(sys: Pick<ModuleSys, "spawnService">): K3sOs {
  const readFile = (root: string, path: string) => {
    try {
      return readFileSync(join(root, path), "utf8");
    } catch {
      return undefined;
    }
  };
  return {
    hasBinary(root, binary) {
      try {
        accessSync(join(root, binary), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    },
    readFile,
    writeFile(root, path, text, mode) {
      if (readFile(root, path) === text) return false;
      writeFileAtomic(join(root, path), text, mode);
      return true;
    },
    removeFile: (root, path) => rmSync(join(root, path), { force: true }),
    spawnService: (o) => sys.spawnService(o),
  };
}
