/** Managed Docker hosts: the Docker CA, hosts and their API. */
export { DOCKER_CA_ID, DOCKER_CERT_DAYS, type DockerCa, dockerCa } from "./docker-ca.ts";
export { dockerFeature } from "./feature.ts";
export {
  apiEndpoint,
  clientCommonName,
  DOCKER_PORT,
  type DockerHostRow,
  daemonCommonName,
  decommissionDockerHost,
  getDockerHost,
  hostOfNode,
  issueClientCertificate,
  issueDaemonCertificate,
  listDockerHosts,
  provisionDockerHost,
  reportDaemon,
} from "./hosts.ts";
