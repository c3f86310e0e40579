import { describe, expect, test } from "bun:test";
import { parseClaimParams } from "./claim-params.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

describe("parseClaimParams", () => {
  test("no claim_url: not claim mode", () => {
    expect(parseClaimParams({ ca_pem: PEM })).toBeUndefined();
  });
  test("https URL and a CA (base64 on the cmdline)", () => {
    const r = parseClaimParams({
      claim_url: "https://10.0.2.2:8443/",
      ca_pem: Buffer.from(PEM).toString("base64"),
    });
    expect(r).toEqual({ ok: true, value: { url: "https://10.0.2.2:8443", caPem: PEM } });
  });
  test("each problem is named", () => {
    expect(parseClaimParams({ claim_url: "http://hub:8080" })).toEqual({
      ok: false,
      problems: [
        'claim_url: "http://hub:8080" must be https://',
        "ca_pem: missing (claim mode needs the hub's CA)",
      ],
    });
    expect(parseClaimParams({ claim_url: "https://hub/x", ca_pem: PEM })).toEqual({
      ok: false,
      problems: ['claim_url: "https://hub/x" must have no path or query'],
    });
    expect(parseClaimParams({ claim_url: "nope", ca_pem: "bm90IGEgcGVt" })).toEqual({
      ok: false,
      problems: ['claim_url: "nope" is not a URL', "ca_pem: no PEM CERTIFICATE block"],
    });
  });
});
