/** Addresses the SDWAN compile derives from ids: `n` 16-bit groups of sha256(text), deterministic. */
import { createHash } from "node:crypto";

export const hashGroups = (text: string, n: number): number[] => {
  const b = createHash("sha256").update(text).digest();
  return Array.from({ length: n }, (_, i) => b.readUInt16BE(i * 2));
};
