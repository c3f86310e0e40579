import { expect, test } from "bun:test";
import { createMemoryLog } from "../log.ts";
import { createSystemClock } from "../runtime/clock.ts";
import { createPhaseRecorder } from "../runtime/phases.ts";
import { createRecordingExecFake } from "../sys/exec-fake.ts";
import { createNet } from "../sys/net.ts";
import type { BootContext } from "./boot-context.ts";
import { BootError, runSequence } from "./sequencer.ts";

function ctx(): BootContext & { log: ReturnType<typeof createMemoryLog> } {
  const clock = createSystemClock();
  const exec = createRecordingExecFake();
  return {
    root: "/nonexistent",
    exec,
    log: createMemoryLog(),
    clock,
    phases: createPhaseRecorder(clock),
    mounter: { mount() {} },
    kmodLoader: () => {},
    net: createNet(exec, "/nonexistent"),
    state: {},
  };
}

test("phases run in order, tasks of a phase concurrently; a non-fatal failure is logged and the boot goes on", async () => {
  const c = ctx();
  const order: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  await runSequence(
    [
      {
        name: "one",
        fatal: true,
        tasks: [
          {
            name: "a",
            run: async () => {
              order.push("a start");
              await gate;
              order.push("a end");
            },
          },
          {
            name: "b",
            run: () => {
              order.push("b");
              release();
            },
          },
        ],
      },
      {
        name: "two",
        fatal: false,
        tasks: [
          {
            name: "c",
            run: () => {
              throw new Error("no driver");
            },
          },
        ],
      },
      {
        name: "three",
        fatal: true,
        tasks: [
          {
            name: "d",
            run: () => {
              order.push("d");
            },
          },
        ],
      },
    ],
    c,
  );
  expect(order).toEqual(["a start", "b", "a end", "d"]);
  expect(c.log.lines.slice(0, 4)).toEqual([
    "powernode-agent: boot phase one (1/3)",
    "powernode-agent: boot phase two (2/3)",
    "powernode-agent: warn: boot phase two, task c failed (going on): no driver",
    "powernode-agent: boot phase three (3/3)",
  ]);
  expect(c.log.lines[4]).toMatch(
    /^powernode-agent: boot sequence done in \d+\.\d\d s \(one \d+\.\d\d, two \d+\.\d\d, three \d+\.\d\d\)$/,
  );
});

test("a failure in a fatal phase stops the boot with a BootError naming phase and task", async () => {
  const c = ctx();
  const ran: string[] = [];
  const p = runSequence(
    [
      {
        name: "identity",
        fatal: true,
        tasks: [
          {
            name: "discover",
            run: () => {
              throw new Error("no source answered");
            },
          },
        ],
      },
      {
        name: "later",
        fatal: true,
        tasks: [
          {
            name: "x",
            run: () => {
              ran.push("x");
            },
          },
        ],
      },
    ],
    c,
  );
  await expect(p).rejects.toBeInstanceOf(BootError);
  await expect(p).rejects.toThrow("boot phase identity, task discover: no source answered");
  expect(ran).toEqual([]);
});
