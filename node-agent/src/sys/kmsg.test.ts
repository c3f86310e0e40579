import { expect, test } from "bun:test";
import { parseKmsgRecord } from "./kmsg.ts";

test("kmsg records parse to sequence, microseconds and message", () => {
  expect(parseKmsgRecord("6,341,7466486,-;Run /init as init process\n")).toEqual({
    seq: 341,
    usec: 7466486,
    message: "Run /init as init process",
  });
  expect(parseKmsgRecord("6,12,5,-;virtio_net virtio0 eth0: renamed\n SUBSYSTEM=virtio\n")?.message).toBe(
    "virtio_net virtio0 eth0: renamed",
  );
  expect(parseKmsgRecord("garbage")).toBeUndefined();
});
