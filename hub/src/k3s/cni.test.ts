import { describe, expect, test } from "bun:test";
import {
  assertCniFitsProfile,
  defaultCniFor,
  k3sInstallFlags,
  parseCni,
  parseNetworkProfile,
} from "./cni.ts";

describe("cni", () => {
  test("flags: none for flannel, exactly two for ovn_kubernetes", () => {
    expect(k3sInstallFlags("flannel")).toEqual([]);
    expect(k3sInstallFlags("ovn_kubernetes")).toEqual(["--flannel-backend=none", "--disable-network-policy"]);
  });

  test("parseCni: empty is a choice left open; unknown names the field", () => {
    expect(parseCni("cni", "")).toBeUndefined();
    expect(parseCni("cni", "ovn_kubernetes")).toBe("ovn_kubernetes");
    expect(() => parseCni("cni", "calico")).toThrow(/^cni: "calico" is not a supported CNI/);
  });

  test("default by profile: heavyweight -> ovn_kubernetes, else flannel", () => {
    expect(defaultCniFor("heavyweight")).toBe("ovn_kubernetes");
    expect(defaultCniFor("lightweight")).toBe("flannel");
    expect(defaultCniFor(null)).toBe("flannel");
  });

  test("a lightweight or unknown node cannot run ovn_kubernetes", () => {
    const light = { id: "n1", name: "pi", networkProfile: "lightweight" as const };
    expect(() => assertCniFitsProfile("ovn_kubernetes", light, "c1")).toThrow(
      /^CniProfileMismatch: node pi \(n1\) has network profile lightweight; cluster c1 uses ovn_kubernetes/,
    );
    expect(() => assertCniFitsProfile("ovn_kubernetes", { ...light, networkProfile: null })).toThrow(
      /CniProfileMismatch/,
    );
    assertCniFitsProfile("flannel", light);
    assertCniFitsProfile("ovn_kubernetes", { ...light, networkProfile: "heavyweight" });
  });

  test("parseNetworkProfile", () => {
    expect(parseNetworkProfile("profile", "")).toBeNull();
    expect(parseNetworkProfile("profile", "heavyweight")).toBe("heavyweight");
    expect(() => parseNetworkProfile("profile", "medium")).toThrow(
      /^profile: "medium" is not a network profile/,
    );
  });
});
