import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { ConfigError, parseHubConfig } from "./config.ts";
import { DEFAULT_SECURITY, parseListenAddress, parseSecurityConfig } from "./security-config.ts";

describe("security config", () => {
  test("defaults: the key file in the data dir, no metrics listener", () => {
    expect(parseSecurityConfig({}, [])).toEqual(DEFAULT_SECURITY);
    expect(parseHubConfig({}).security).toEqual(DEFAULT_SECURITY);
  });

  test("POWERNODE_CA_KEK and POWERNODE_METRICS_LISTEN are read", () => {
    const kek = randomBytes(32).toString("base64");
    expect(
      parseHubConfig({ POWERNODE_CA_KEK: kek, POWERNODE_METRICS_LISTEN: "127.0.0.1:9464" }).security,
    ).toEqual({
      caKek: kek,
      metricsListen: { host: "127.0.0.1", port: 9464 },
    });
    expect(parseListenAddress("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListenAddress("metrics.internal:9464")).toEqual({ host: "metrics.internal", port: 9464 });
  });

  test("bad values are named with the problem, with the other config problems", () => {
    let err: unknown;
    try {
      parseHubConfig({
        POWERNODE_CA_KEK: "c2hvcnQ=",
        POWERNODE_METRICS_LISTEN: "9464",
        POWERNODE_HTTP_PORT: "x",
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toContain(
      "POWERNODE_CA_KEK: decodes to 5 bytes, not 32 (make one with: openssl rand -base64 32)",
    );
    expect((err as ConfigError).problems).toContain(
      'POWERNODE_METRICS_LISTEN: "9464" is not host:port (e.g. 127.0.0.1:9464 or [::1]:9464)',
    );
    // The secret itself never appears in a message.
    expect((err as ConfigError).message).not.toContain("c2hvcnQ=");
    expect(parseListenAddress("127.0.0.1:70000")).toBe('"127.0.0.1:70000": port 70000 is above 65535');
  });
});
