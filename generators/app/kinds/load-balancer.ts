/**
 * What a load balancer kind owns: its image, its configuration file and where the container reads
 * it, the files it adds to the stack, how a changed configuration is applied, and its README parts.
 * One module per kind (haproxy.ts, nginx.ts), registered in kinds/index.ts.
 */
import type { GeneratedFile, StackFile } from '../stack-files.js';
import type { Topology } from '../topology.js';

/**
 * How long either LB waits for a Grafana replica to accept a connection. A live replica accepts
 * within a millisecond (a bridge, an overlay on a LAN); a killed one never does, and each request
 * sent to it waits this long before it is retried on another replica (a connection never made is
 * safe to retry, a POST too). A lost SYN (resent after 1 s) is retried elsewhere as well.
 */
export const REPLICA_CONNECT_TIMEOUT = '250ms';

/** Whether every server name a config lists resolves when the program starts. */
export type ServerNames = 'exist' | 'may-be-missing';

/**
 * HAProxy's init-addr for such names. `libc` at start resolves each one before listening, which is
 * instant for a name that exists; for one that does not, the system resolver may wait for upstream
 * DNS for seconds per name. `none` starts at once, and HAProxy's own resolvers fill the addresses in
 * within milliseconds.
 */
export const haproxyInitAddr = (names: ServerNames) => (names === 'exist' ? 'last,libc,none' : 'none');

export interface LoadBalancerSpec {
  /** The product, as the stack README names it. */
  product: string;
  /** What sets it apart, for `--help` ("haproxy (active health checks) or …"). */
  summary: string;
  /** One line beside the choice at the prompt. */
  choiceHelp: string;
  image: string;
  /** Its one configuration file, mounted read-only into the container. */
  config: Required<Pick<StackFile, 'path' | 'inContainer'>>;
  /** What it answers while no replica can take a request. */
  noReplicaStatus: number;
  /**
   * The configuration and the rotation script (`lb-rotation.sh out|in <replica>`). `names`:
   * `exist` when every replica's name resolves at start (Compose), `may-be-missing` when some
   * name may name no service yet (Swarm, whose LB names every replica the stack can have).
   */
  files: (t: Topology, names?: ServerNames) => GeneratedFile[];
  /** Applies a changed configuration to the running load balancer, open connections kept. */
  reloadCommand: (service: string) => string;
  /**
   * Stack README partials (templates/stack/readme/): what happens when a replica dies, how `out`
   * works, and which requests it replays when a replica stops under them.
   */
  readme: { failover: string; rotation: string; replay: string };
}
