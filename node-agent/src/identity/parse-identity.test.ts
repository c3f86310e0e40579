import { beforeAll, describe, expect, test } from "bun:test";
import { createTestCa } from "../../test/test-ca.ts";
import { cmdlineSource, discoverIdentity } from "./discover.ts";
import { decodeCaPem, parseIdentity } from "./parse-identity.ts";

let caPem = "";
beforeAll(async () => {
  caPem = (await createTestCa()).caPem;
});
const UUID = "3f2c6a52-8d7e-4b1a-9c3d-2e5f7a8b9c0d";

function good(): Record<string, string> {
  return {
    instance_uuid: UUID.toUpperCase(),
    bootstrap_token: "pnbt_abc",
    platform_url: "https://10.0.2.2:8443/",
    ca_pem: caPem,
  };
}

test("platform_url may list the hubs of a scaled-out hub, in order; each is checked", () => {
  const r = parseIdentity({ ...good(), platform_url: "https://a:8443/, https://b:9443" }, "cmdline");
  expect(r).toMatchObject({
    ok: true,
    value: { platformUrl: "https://a:8443", platformUrls: ["https://a:8443", "https://b:9443"] },
  });
  const bad = parseIdentity({ ...good(), platform_url: "https://a:8443,http://b" }, "cmdline");
  expect(bad.ok ? [] : bad.error.problems).toEqual(['platform_url: "http://b" must be https://']);
  const many = parseIdentity({ ...good(), platform_url: Array(9).fill("https://a").join(",") }, "cmdline");
  expect(many.ok ? [] : many.error.problems).toEqual(["platform_url: more than 8 hub URLs"]);
});

test("a good identity parses (UUID lower-cased, URL normalised, DHCP by default)", () => {
  expect(parseIdentity(good(), "fw-cfg")).toEqual({
    ok: true,
    value: {
      instanceUuid: UUID,
      bootstrapToken: "pnbt_abc",
      platformUrl: "https://10.0.2.2:8443",
      caPem: `${caPem.trim()}\n`,
    },
  });
});

test("every problem is reported at once, each naming its field", () => {
  const r = parseIdentity(
    {
      instance_uuid: "not-a-uuid",
      platform_url: "http://hub:80/x",
      ca_pem: "hello",
      ip: "10.0.2.15,10.0.2.2",
    },
    "kernel cmdline",
  );
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.error.problems).toEqual([
    'instance_uuid: "not-a-uuid" is not a UUID',
    "bootstrap_token: missing",
    'platform_url: "http://hub:80/x" must be https://',
    "ca_pem: no PEM CERTIFICATE block (give the PEM, base64 of it, or it URL-encoded)",
    'ip: expected addr/prefix,gateway[,dns] (prefix "" is not 1-32)',
  ]);
  expect(r.error.message).toStartWith("identity from kernel cmdline: instance_uuid:");
});

describe("ca_pem encodings on the kernel cmdline", () => {
  test.each([
    ["base64", () => Buffer.from(caPem).toString("base64")],
    ["base64url without padding", () => Buffer.from(caPem).toString("base64url")],
    ["URL-encoded", () => encodeURIComponent(caPem)],
    ["raw PEM", () => caPem],
  ])("%s", (_name, encode) => {
    expect(decodeCaPem(encode()).trim()).toBe(caPem.trim());
  });
});

test("static ip from identity", () => {
  const r = parseIdentity({ ...good(), ip: "10.0.2.15/24,10.0.2.2,10.0.2.3" }, "x");
  expect(r.ok && r.value.ip).toEqual({
    address: "10.0.2.15",
    prefix: 24,
    gateway: "10.0.2.2",
    dns: "10.0.2.3",
  });
});

test("discovery: the first source with an instance_uuid wins; a bad answer is an error, not a fall-through", () => {
  const b64 = Buffer.from(caPem).toString("base64");
  const cmdline = `console=ttyS0 powernode.instance_uuid=${UUID} powernode.bootstrap_token=tok powernode.platform_url=https://h:1 powernode.ca_pem=${b64}`;
  const none = { name: "fw-cfg", read: () => undefined };
  const r = discoverIdentity([none, cmdlineSource(() => cmdline)]);
  expect(r.ok && r.source).toBe("kernel cmdline");
  expect(r.ok && r.value.platformUrl).toBe("https://h:1");

  const bad = { name: "fw-cfg", read: () => ({ instance_uuid: UUID }) };
  const r2 = discoverIdentity([bad, cmdlineSource(() => cmdline)]);
  expect(!r2.ok && r2.error.problems).toEqual([
    "bootstrap_token: missing",
    "platform_url: missing",
    "ca_pem: missing",
  ]);

  const r3 = discoverIdentity([none, cmdlineSource(() => "console=ttyS0")]);
  expect(!r3.ok && r3.error.message).toBe(
    "identity from any source: no source answered: tried fw-cfg (no instance_uuid), kernel cmdline (no instance_uuid)",
  );
});
