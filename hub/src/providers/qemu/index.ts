/** QEMU instance provider and a standalone VM launcher for tests and smokes. */

export { detectAccel } from "./accel.ts";
export {
  type Accel,
  buildQemuArgv,
  CONSOLE,
  type FwCfgFile,
  type HostForward,
  macFor,
  parseNetwork,
  type VmArch,
  type VmNetwork,
  type VmSpec,
} from "./argv.ts";
export { createQemuExec, ExecError, type QemuExec } from "./exec.ts";
export { createQemuProvider, type QemuProviderOptions } from "./provider.ts";
export { connectQmp, type QmpClient, QmpError } from "./qmp.ts";
export {
  chooseInitrd,
  defaultImageDir,
  FW_CFG_PREFIX,
  isVmAlive,
  type LaunchSpec,
  launchVm,
  resolveImage,
  stopVm,
  type VmHandle,
  type VmRef,
  type VmState,
  vmStatus,
  waitFor,
} from "./vm.ts";
