import { expect, test } from "bun:test";
import { parseErofsExtents } from "./module-files.ts";

const DUMP = `Path : /84/2ff945fd11149096ec9f65e2292df55f8dc4d9b9ba4a017f7a155a5bff77eb
Size: 1264552  On-disk size: 1264552  regular file

 Ext:   logical offset   |  length :     physical offset    |  length
   0:        0.. 1261568 | 1261568 :     929792..   2191360 | 1261568
   1:  1261568.. 1264552 |    2984 :    2191392..   2194376 |    2984
/84/2ff945fd11149096ec9f65e2292df55f8dc4d9b9ba4a017f7a155a5bff77eb: 2 extents found
`;

test("parseErofsExtents reads dump.erofs -e extent lines", () => {
  expect(parseErofsExtents(DUMP)).toEqual([
    { logical: 0, physical: 929792, length: 1261568 },
    { logical: 1261568, physical: 2191392, length: 2984 },
  ]);
});

test("parseErofsExtents refuses a compressed extent", () => {
  expect(() => parseErofsExtents("   0:        0.. 8192 | 8192 :     4096..   6000 | 8192")).toThrow(
    /uncompressed/,
  );
});
