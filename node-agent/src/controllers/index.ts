/**
 * Every agent controller, in one list: what `run-node.ts` starts on a node and what an in-process
 * session starts in the smokes' db tier. A new controller is one folder here plus one line below.
 *
 * | controller      | reads                                              | writes                       |
 * | credentials     | -                                                  | HubCredentials, HubConnection |
 * | desired-state   | HubConnection, HeartbeatStatus                     | DesiredNodeState              |
 * | heartbeat       | HubConnection, HubCredentials, DesiredNodeState, ModuleSetStatus, MeshStatus | HeartbeatStatus |
 * | modules         | DesiredNodeState, HubConnection                    | ModuleSetStatus               |
 * | mesh-peers      | HubConnection, DesiredNodeState                    | MeshPeers                     |
 * | mesh            | DesiredNodeState, MeshPeers                        | MeshStatus                    |
 * | docker          | DesiredNodeState, ModuleSetStatus, HubConnection, HubCredentials | DockerStatus     |
 * | k3s             | DesiredNodeState, ModuleSetStatus, HubConnection   | K3sStatus                     |
 * | storage         | DesiredNodeState, ModuleSetStatus (DebugNasExports) | StorageStatus                |
 * | sdwan           | DesiredNodeState                                   | SdwanStatus                   |
 * | debug-probes    | DesiredNodeState, ModuleSetStatus                  | DebugProbeStatus, DebugNasExports |
 * | status-report   | HubConnection, ControllerStatus                    | StatusReportStatus            |
 * | agent-update    | DesiredNodeState, HeartbeatStatus                  | AgentUpdateStatus, AgentReexec |
 */
import type { Controller } from "../runtime/controller.ts";

export { currentArch } from "./deps.ts";

import { agentUpdateController } from "./agent-update/agent-update-controller.ts";
import { credentialsController } from "./credentials/credentials-controller.ts";
import { debugProbesController } from "./debug-probes/debug-probes-controller.ts";
import type { AgentDeps } from "./deps.ts";
import { desiredStateController } from "./desired-state/desired-state-controller.ts";
import { dockerController } from "./docker/docker-controller.ts";
import { heartbeatController } from "./heartbeat/heartbeat-controller.ts";
import { k3sController } from "./k3s/k3s-controller.ts";
import { meshController } from "./mesh/mesh-controller.ts";
import { meshPeersController } from "./mesh-peers/mesh-peers-controller.ts";
import { modulesController } from "./modules/modules-controller.ts";
import { sdwanController } from "./sdwan/sdwan-controller.ts";
import { statusReportController } from "./status-report/status-report-controller.ts";
import { storageController } from "./storage/storage-controller.ts";

/**
 * The controllers of a node with these deps (no `modules` controller without a module set, no `mesh`
 * without the WireGuard OS side, no `debug-probes` unless debug hooks are honoured, no `agent-update`
 * outside PID 1).
 */
export function agentControllers(deps: AgentDeps): Controller[] {
  const { modules, mesh, docker, k3s, storage, bridges, debugProbes, agentUpdate } = deps;
  return [
    credentialsController(deps),
    desiredStateController(deps),
    heartbeatController(deps),
    ...(modules ? [modulesController({ ...deps, modules })] : []),
    meshPeersController(deps),
    ...(mesh ? [meshController({ ...deps, mesh })] : []),
    ...(docker ? [dockerController({ ...deps, docker })] : []),
    ...(k3s && modules ? [k3sController({ ...deps, k3s })] : []),
    ...(storage && modules
      ? [storageController({ ...deps, storage }, { debugNas: debugProbes !== undefined })]
      : []),
    ...(bridges ? [sdwanController({ ...deps, bridges })] : []),
    ...(debugProbes ? [debugProbesController({ ...deps, debugProbes })] : []),
    statusReportController(deps),
    ...(agentUpdate ? [agentUpdateController({ ...deps, agentUpdate })] : []),
  ];
}
