import { describe, expect, test } from "bun:test";
import { parseKernelCmdline, powernodeParams } from "./cmdline.ts";

describe("parseKernelCmdline", () => {
  test.each([
    [
      "console=ttyS0 quiet",
      [
        ["console", "ttyS0"],
        ["quiet", ""],
      ],
    ],
    [
      '  a=1   b="x y"  ',
      [
        ["a", "1"],
        ["b", "x y"],
      ],
    ],
    [
      '"c=quoted whole" d',
      [
        ["c", "quoted whole"],
        ["d", ""],
      ],
    ],
    ["e=f=g", [["e", "f=g"]]],
    ["", []],
  ])("%p", (line, expected) => {
    expect(parseKernelCmdline(line)).toEqual(expected as Array<[string, string]>);
  });
});

test("powernodeParams keeps only powernode.* keys, last occurrence wins", () => {
  const line =
    'console=ttyS0 powernode.instance_uuid=AA powernode.platform_url="https://10.0.2.2:8443" powernode.instance_uuid=BB init=/init';
  expect(powernodeParams(line)).toEqual({ instance_uuid: "BB", platform_url: "https://10.0.2.2:8443" });
});
