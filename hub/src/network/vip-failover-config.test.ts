import { describe, expect, test } from "bun:test";
import { ConfigError, parseHubConfig } from "../config.ts";
import {
  DEFAULT_VIP_FAILOVER_SECONDS,
  parseVipFailoverSeconds,
  vipFailoverSeconds,
} from "./vip-failover-config.ts";

describe("POWERNODE_VIP_FAILOVER_SECONDS", () => {
  test("unset: the default; a whole number from 5 to a day is taken", () => {
    expect(vipFailoverSeconds(parseHubConfig({}))).toBe(DEFAULT_VIP_FAILOVER_SECONDS);
    expect(DEFAULT_VIP_FAILOVER_SECONDS).toBe(30);
    expect(parseHubConfig({ POWERNODE_VIP_FAILOVER_SECONDS: "10" }).vipFailoverSeconds).toBe(10);
    expect(vipFailoverSeconds({ vipFailoverSeconds: 600 })).toBe(600);
  });

  test("anything else is a problem naming the variable", () => {
    for (const raw of ["4", "86401", "1.5", "soon", "-3"]) {
      const problems: string[] = [];
      parseVipFailoverSeconds({ POWERNODE_VIP_FAILOVER_SECONDS: raw }, problems);
      expect(problems).toEqual([
        `POWERNODE_VIP_FAILOVER_SECONDS: "${raw}" must be a whole number from 5 to 86400`,
      ]);
    }
    expect(() => parseHubConfig({ POWERNODE_VIP_FAILOVER_SECONDS: "0" })).toThrow(ConfigError);
  });
});
