/**
 * A method's full name (`powernode.v1.NodeService/Heartbeat`), the label metrics, limits and the
 * principal table use: built once per method descriptor, since every interceptor names every call.
 */
import type { DescMethod } from "@bufbuild/protobuf";

const names = new WeakMap<DescMethod, string>();

/** `<package>.<Service>/<Method>` of `method`. */
export function methodName(method: DescMethod): string {
  let name = names.get(method);
  if (name === undefined) {
    name = `${method.parent.typeName}/${method.name}`;
    names.set(method, name);
  }
  return name;
}
