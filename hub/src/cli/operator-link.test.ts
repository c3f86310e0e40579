import { describe, expect, test } from "bun:test";
import { configureArgvs, inNetns, wgSetArgv } from "./operator-link.ts";

const plan = {
  netns: "ops",
  membership: { interfaceName: "wg-sdwan-abc123", address: "fd00:1::5", prefix: "fd00:1::/64", mtu: 1380 },
  privateKeyFile: "/k/laptop.key",
  listenPort: 51900,
  peers: [
    {
      publicKey: "P1=",
      allowedIps: ["fd00:1::7/128"],
      endpoints: ["10.0.0.7:51820", "[fd::7]:51820"],
      persistentKeepaliveSeconds: 25,
    },
    { publicKey: "P2=", allowedIps: ["fd00:1::8/128"], endpoints: [], persistentKeepaliveSeconds: 0 },
  ],
};

describe("operator link plan", () => {
  test("wg set: key, port, each peer with its first endpoint and keepalive", () => {
    expect(wgSetArgv(plan)).toEqual([
      "wg",
      "set",
      "wg-sdwan-abc123",
      "private-key",
      "/k/laptop.key",
      "listen-port",
      "51900",
      "peer",
      "P1=",
      "allowed-ips",
      "fd00:1::7/128",
      "endpoint",
      "10.0.0.7:51820",
      "persistent-keepalive",
      "25",
      "peer",
      "P2=",
      "allowed-ips",
      "fd00:1::8/128",
    ]);
  });

  test("address with the network's prefix length, MTU, up; all inside the namespace", () => {
    const argvs = configureArgvs(plan);
    expect(argvs[1]).toEqual([
      "ip",
      "netns",
      "exec",
      "ops",
      "ip",
      "-6",
      "addr",
      "replace",
      "fd00:1::5/64",
      "dev",
      "wg-sdwan-abc123",
    ]);
    expect(argvs[2]).toEqual([
      "ip",
      "netns",
      "exec",
      "ops",
      "ip",
      "link",
      "set",
      "wg-sdwan-abc123",
      "mtu",
      "1380",
      "up",
    ]);
    expect(inNetns(undefined, ["wg"])).toEqual(["wg"]);
  });
});
