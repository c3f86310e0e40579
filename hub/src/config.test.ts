import { describe, expect, test } from "bun:test";
import { DEFAULT_AGENT_ROLLOUTS } from "./agent-builds/rollout-config.ts";
import { DEFAULT_ACME } from "./certs/acme-config.ts";
import { DEFAULT_CLAIMS } from "./claims/claims-config.ts";
import { ConfigError, parseHubConfig } from "./config.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { DEFAULT_SECURITY } from "./security-config.ts";

describe("parseHubConfig", () => {
  test("defaults", () => {
    expect(parseHubConfig({})).toEqual({
      dataDir: "./var",
      databaseUrl: undefined,
      httpPort: 8080,
      mtlsPort: 8443,
      listenHost: "0.0.0.0",
      operatorTls: true,
      operatorHost: "0.0.0.0",
      bootHttpPort: undefined,
      ipfixPort: 4739,
      hostnames: [],
      nodeUrl: "https://10.0.2.2:8443",
      nodeHttpUrl: "https://10.0.2.2:8080",
      moduleRegistryUrl: undefined,
      registryRepositories: ["modules/", "images/"],
      heartbeatSeconds: 10,
      adminToken: undefined,
      limits: DEFAULT_LIMITS,
      security: DEFAULT_SECURITY,
      acme: DEFAULT_ACME,
      claims: DEFAULT_CLAIMS,
      agentRollouts: DEFAULT_AGENT_ROLLOUTS,
    });
  });

  test("every variable", () => {
    expect(
      parseHubConfig({
        POWERNODE_DATA: "/srv/pn",
        DATABASE_URL: "postgres://u:p@db/pn",
        POWERNODE_HTTP_PORT: "80",
        POWERNODE_MTLS_PORT: "9443",
        POWERNODE_LISTEN_HOST: "127.0.0.1",
        POWERNODE_OPERATOR_PLAIN_HTTP: "1",
        POWERNODE_OPERATOR_LISTEN_HOST: "127.0.0.2",
        POWERNODE_BOOT_HTTP_PORT: "8081",
        POWERNODE_IPFIX_PORT: "off",
        POWERNODE_HOSTNAMES: "hub.example, 192.0.2.1",
        POWERNODE_HEARTBEAT_SECONDS: "30",
        POWERNODE_ADMIN_TOKEN: "0123456789abcdef0123",
        POWERNODE_NODE_HTTP_URL: "http://hub.example:8080/",
        POWERNODE_REGISTRY_REPOSITORIES: "modules/, apps/web/",
        POWERNODE_AGENT_ROLLOUT_STEP_SECONDS: "600",
      }),
    ).toEqual({
      dataDir: "/srv/pn",
      databaseUrl: "postgres://u:p@db/pn",
      httpPort: 80,
      mtlsPort: 9443,
      listenHost: "127.0.0.1",
      operatorTls: false,
      operatorHost: "127.0.0.2",
      bootHttpPort: 8081,
      ipfixPort: undefined,
      hostnames: ["hub.example", "192.0.2.1"],
      nodeUrl: "https://10.0.2.2:9443",
      nodeHttpUrl: "http://hub.example:8080",
      moduleRegistryUrl: undefined,
      registryRepositories: ["modules/", "apps/web/"],
      heartbeatSeconds: 30,
      adminToken: "0123456789abcdef0123",
      limits: DEFAULT_LIMITS,
      security: DEFAULT_SECURITY,
      acme: DEFAULT_ACME,
      claims: DEFAULT_CLAIMS,
      agentRollouts: { stepTimeoutSeconds: 600, moduleBatchTimeoutSeconds: 300 },
    });
  });

  test("plain HTTP: loopback only, by default 127.0.0.1; the flag takes 1 or 0", () => {
    const plain = parseHubConfig({ POWERNODE_OPERATOR_PLAIN_HTTP: "1" });
    expect([plain.operatorTls, plain.operatorHost, plain.listenHost]).toEqual([
      false,
      "127.0.0.1",
      "0.0.0.0",
    ]);
    expect(plain.nodeHttpUrl).toBe("http://10.0.2.2:8080");
    expect(parseHubConfig({ POWERNODE_OPERATOR_PLAIN_HTTP: "0" }).operatorTls).toBe(true);
    // A boot listener: netbooting machines fetch /boot/ from it, over plain HTTP.
    expect(parseHubConfig({ POWERNODE_BOOT_HTTP_PORT: "8081" }).nodeHttpUrl).toBe("http://10.0.2.2:8081");
    expect(() => parseHubConfig({ POWERNODE_BOOT_HTTP_PORT: "boot" })).toThrow(
      'POWERNODE_BOOT_HTTP_PORT: "boot" is not a port number',
    );
    expect(() =>
      parseHubConfig({ POWERNODE_OPERATOR_PLAIN_HTTP: "1", POWERNODE_OPERATOR_LISTEN_HOST: "0.0.0.0" }),
    ).toThrow(
      'POWERNODE_OPERATOR_LISTEN_HOST: plain HTTP (POWERNODE_OPERATOR_PLAIN_HTTP=1) binds only to loopback, not "0.0.0.0"',
    );
    expect(() => parseHubConfig({ POWERNODE_OPERATOR_PLAIN_HTTP: "yes" })).toThrow(
      'POWERNODE_OPERATOR_PLAIN_HTTP: "yes" must be 1 or 0',
    );
  });

  test("lists every problem at once, without leaking the database password", () => {
    let err: unknown;
    try {
      parseHubConfig({
        POWERNODE_HTTP_PORT: "http",
        POWERNODE_MTLS_PORT: "70000",
        DATABASE_URL: "mysql://u:secret@x/db",
        POWERNODE_NODE_URL: "http://10.0.2.2:1",
        POWERNODE_HEARTBEAT_SECONDS: "0",
        POWERNODE_ADMIN_TOKEN: "short",
        POWERNODE_HOSTNAMES: "ok.example bad/host",
        POWERNODE_REGISTRY_REPOSITORIES: "modules/,Bad",
        POWERNODE_IPFIX_PORT: "4739/udp",
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'POWERNODE_HTTP_PORT: "http" is not a port number (0-65535)',
      'POWERNODE_MTLS_PORT: "70000" is not a port number (0-65535)',
      'DATABASE_URL: must start with postgres:// or postgresql:// (got "mysql://u:***@x/db")',
      'POWERNODE_HOSTNAMES: "bad/host" is not a host name or IP',
      'POWERNODE_NODE_URL: must be https:// (got "http://10.0.2.2:1")',
      'POWERNODE_IPFIX_PORT: "4739/udp" is not a port number (0-65535)',
      'POWERNODE_REGISTRY_REPOSITORIES: "Bad" is not a repository prefix (lowercase path ending in "/")',
      'POWERNODE_HEARTBEAT_SECONDS: "0" must be an integer from 1 to 3600',
      "POWERNODE_ADMIN_TOKEN: must be at least 16 characters",
    ]);
  });
});
