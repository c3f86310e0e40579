import { describe, expect, test } from "bun:test";
import { daemonJson, dockerdArgv, registryCertsDir } from "./daemon-config.ts";

describe("dockerd configuration", () => {
  test("daemon.json: TLS verify, the local socket and the overlay address only, no iptables or bridge", () => {
    const c = JSON.parse(daemonJson({ listenAddress: "fd12:3456:789a:1::5", port: 2376 }));
    expect(c.hosts).toEqual(["unix:///run/docker.sock", "tcp://[fd12:3456:789a:1::5]:2376"]);
    expect(c.tls).toBe(true);
    expect(c.tlsverify).toBe(true);
    expect([c.tlscacert, c.tlscert, c.tlskey]).toEqual([
      "/etc/docker/ca.pem",
      "/etc/docker/server-cert.pem",
      "/etc/docker/server-key.pem",
    ]);
    expect(c.iptables).toBe(false);
    expect(c.bridge).toBe("none");
    expect(dockerdArgv()).toEqual(["/usr/sbin/dockerd", "--config-file", "/etc/docker/daemon.json"]);
  });

  test("the hub registry's certs.d directory is named host:port of the platform URL", () => {
    expect(registryCertsDir("https://10.203.1.1:8443")).toBe("/etc/docker/certs.d/10.203.1.1:8443");
  });
});
