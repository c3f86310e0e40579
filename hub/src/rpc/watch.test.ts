import { expect, test } from "bun:test";
import { watch } from "./watch.ts";

function source<T>() {
  const subs = new Set<(x: T) => void>();
  return {
    subscribe(push: (x: T) => void) {
      subs.add(push);
      return () => subs.delete(push);
    },
    emit(x: T) {
      for (const s of subs) s(x);
    },
    count: () => subs.size,
  };
}

test("replay first, then live items; an item written during the replay is sent once", async () => {
  const src = source<string>();
  const abort = new AbortController();
  const got: string[] = [];
  const it = watch({
    signal: abort.signal,
    subscribe: src.subscribe,
    key: (x) => x,
    replay: async () => {
      src.emit("b"); // written while the replay was read: the replay has it too
      return ["a", "b"];
    },
  });
  const done = (async () => {
    for await (const x of it) {
      got.push(x);
      if (got.length === 3) abort.abort();
    }
  })();
  await Bun.sleep(1);
  src.emit("c");
  await done;
  expect(got).toEqual(["a", "b", "c"]);
  expect(src.count()).toBe(0);
});

test("a quiet stream sends keepalives; abort ends it and unsubscribes", async () => {
  const src = source<string>();
  const abort = new AbortController();
  const got: string[] = [];
  for await (const x of watch({
    signal: abort.signal,
    subscribe: src.subscribe,
    keepaliveMs: 5,
    keepalive: () => "ka",
  })) {
    got.push(x);
    if (got.length === 2) abort.abort();
  }
  expect(got).toEqual(["ka", "ka"]);
  expect(src.count()).toBe(0);
});
