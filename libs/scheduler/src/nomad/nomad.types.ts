/**
 * The parts of Nomad's HTTP API objects that Gofer reads or writes, with Nomad's own field names
 * (PascalCase, as Nomad's JSON spells them). Only what Gofer uses is typed; Nomad sends more and
 * ignores unknown input fields it does not need. Durations in job specs are nanoseconds, as in Nomad's
 * JSON job format; times in task events are Unix nanoseconds.
 *
 * Shapes follow Nomad's API documentation (developer.hashicorp.com/nomad/api-docs: jobs, allocations,
 * evaluations, client) for Nomad 1.6 – 1.9.
 */

/** A Nomad job as registered with `PUT /v1/jobs` and read back with `GET /v1/job/:id`. */
export interface NomadJob {
  ID: string;
  /** @default the ID */
  Name?: string;
  /** Gofer runs task attempts and notifiers as `batch`, trigger services as `service`. @default "service" */
  Type?: 'batch' | 'service' | 'system' | 'sysbatch';
  /** @default the client's namespace, else "default" */
  Namespace?: string;
  Region?: string;
  /** @default ["*"] (Nomad 1.5+) */
  Datacenters?: string[];
  /** Nomad 1.6+. @default "default" */
  NodePool?: string;
  Priority?: number;
  /** Gofer's `gofer.*` labels; the reaper finds Gofer's jobs by them. */
  Meta?: Record<string, string>;
  TaskGroups: NomadTaskGroup[];
  /** Set by Nomad: `pending`, `running` or `dead`. */
  Status?: string;
  StatusDescription?: string;
  /** Set by Nomad once the job is stopped (deregistered without purge). */
  Stop?: boolean;
  CreateIndex?: number;
  ModifyIndex?: number;
  JobModifyIndex?: number;
  /** Unix nanoseconds. */
  SubmitTime?: number;
}

/** A task group: Gofer uses exactly one, with one task, per job. */
export interface NomadTaskGroup {
  Name: string;
  /** @default 1 */
  Count?: number;
  Tasks: NomadTask[];
  /** Group-level network (the `network` stanza): trigger services ask for one dynamic port here. */
  Networks?: NomadNetworkResource[];
  RestartPolicy?: NomadRestartPolicy;
  ReschedulePolicy?: NomadReschedulePolicy;
  /** Nanoseconds a client cut off from the servers keeps the group's tasks before it stops them. */
  StopAfterClientDisconnect?: number;
  Meta?: Record<string, string>;
}

/** One task; Gofer's are always `Driver: "docker"`. */
export interface NomadTask {
  Name: string;
  Driver: string;
  /** Driver configuration; for the `docker` driver see {@link NomadDockerConfig}. */
  Config: NomadDockerConfig;
  Env?: Record<string, string>;
  Resources?: NomadResources;
  Meta?: Record<string, string>;
  /** Time between the kill signal and SIGKILL, nanoseconds. @default 5s */
  KillTimeout?: number;
  LogConfig?: { MaxFiles?: number; MaxFileSizeMB?: number };
}

/** The `docker` driver's `config` block (snake_case, as the driver names its options). */
export interface NomadDockerConfig {
  image: string;
  /** Overrides the image's CMD: the program. */
  command?: string;
  /** Arguments for `command` (or the image's CMD/entrypoint). */
  args?: string[];
  /** Overrides the image's ENTRYPOINT. */
  entrypoint?: string[];
  /** Registry credentials for pulling `image`. */
  auth?: { username: string; password: string; server_address?: string };
  /** Labels of group network ports to publish into the container. */
  ports?: string[];
  /** Container labels: a list of maps, as the driver's HCL spec types it (`list(map(string))`). */
  labels?: Array<Record<string, string>>;
  force_pull?: boolean;
  [option: string]: unknown;
}

/** Task resources: CPU in MHz, memory in MiB. */
export interface NomadResources {
  /** @default 100 */
  CPU?: number;
  /** @default 300 */
  MemoryMB?: number;
  /** Memory oversubscription limit, when the cluster enables it. */
  MemoryMaxMB?: number;
}

/** A `network` stanza. */
export interface NomadNetworkResource {
  /** `host` or `bridge`. @default "host" */
  Mode?: string;
  DynamicPorts?: NomadPort[];
  ReservedPorts?: NomadPort[];
}

/** A port of a network stanza; `Value` is the host port (assigned by Nomad for dynamic ports). */
export interface NomadPort {
  Label: string;
  Value?: number;
  /** Port inside the container, in bridge mode. */
  To?: number;
  HostNetwork?: string;
}

/** The `restart` stanza. Gofer sets `Attempts: 0, Mode: "fail"`: it owns retries. */
export interface NomadRestartPolicy {
  Attempts: number;
  /** Nanoseconds. */
  Interval?: number;
  /** Nanoseconds. */
  Delay?: number;
  Mode: 'fail' | 'delay';
}

/** The `reschedule` stanza. Gofer sets `Attempts: 0, Unlimited: false`: it owns retries. */
export interface NomadReschedulePolicy {
  Attempts: number;
  /** Nanoseconds. */
  Interval?: number;
  /** Nanoseconds. */
  Delay?: number;
  DelayFunction?: string;
  /** Nanoseconds. */
  MaxDelay?: number;
  Unlimited: boolean;
}

/** What `PUT /v1/jobs` answers. */
export interface NomadJobRegisterResponse {
  EvalID: string;
  EvalCreateIndex: number;
  JobModifyIndex: number;
  Warnings?: string;
  Index?: number;
}

/** What `DELETE /v1/job/:id` answers. */
export interface NomadJobDeregisterResponse {
  EvalID: string;
  EvalCreateIndex: number;
  JobModifyIndex: number;
  Index?: number;
}

/** An entry of `GET /v1/jobs`. */
export interface NomadJobListStub {
  ID: string;
  Name: string;
  Namespace: string;
  Type: string;
  Status: string;
  Stop: boolean;
  /** Nomad 1.6+ (older versions omit it from the list; filter with `?filter=` on Meta instead). */
  Meta?: Record<string, string> | null;
  JobModifyIndex: number;
  ModifyIndex: number;
  SubmitTime: number;
}

/** What the client reports about an allocation. */
export type NomadClientStatus = 'pending' | 'running' | 'complete' | 'failed' | 'lost' | 'unknown';

/** What the servers want of an allocation. */
export type NomadDesiredStatus = 'run' | 'stop' | 'evict';

/** An entry of `GET /v1/job/:id/allocations` (a stub: no job, no resources). */
export interface NomadAllocationListStub {
  ID: string;
  EvalID: string;
  Name: string;
  Namespace: string;
  NodeID: string;
  NodeName?: string;
  JobID: string;
  TaskGroup: string;
  ClientStatus: NomadClientStatus;
  ClientDescription?: string;
  DesiredStatus: NomadDesiredStatus;
  DesiredDescription?: string;
  TaskStates?: Record<string, NomadTaskState> | null;
  FollowupEvalID?: string;
  CreateIndex: number;
  ModifyIndex: number;
  /** Unix nanoseconds. */
  CreateTime: number;
  /** Unix nanoseconds. */
  ModifyTime: number;
}

/** `GET /v1/allocation/:id`. */
export interface NomadAllocation extends NomadAllocationListStub {
  AllocatedResources?: NomadAllocatedResources | null;
  /** The job as it was when the allocation was placed. */
  Job?: NomadJob;
}

/** Where the allocation's ports ended up. */
export interface NomadAllocatedResources {
  Shared: {
    /** Group network ports (Nomad 1.0+): `{ Label, Value (host port), To, HostIP }`. */
    Ports?: Array<{ Label: string; Value: number; To: number; HostIP: string }> | null;
    Networks?: Array<{ Mode?: string; IP: string; DynamicPorts?: NomadPort[] | null; ReservedPorts?: NomadPort[] | null }> | null;
  };
}

/** A task's state inside an allocation. */
export interface NomadTaskState {
  State: 'pending' | 'running' | 'dead';
  Failed: boolean;
  Restarts?: number;
  /** RFC 3339, or null before the task started. */
  StartedAt?: string | null;
  /** RFC 3339, or null while not dead. */
  FinishedAt?: string | null;
  Events: NomadTaskEvent[] | null;
}

/**
 * A task event. Types Gofer reads: `Received`, `Driver` (pulling the image), `Started`, `Terminated`
 * (with `ExitCode`), `Driver Failure` (e.g. an unpullable image), `Killing`, `Killed`, `Not Restarting`.
 */
export interface NomadTaskEvent {
  Type: string;
  /** Unix nanoseconds. */
  Time: number;
  /** Set on `Terminated`. */
  ExitCode?: number;
  Signal?: number;
  Message?: string;
  DisplayMessage?: string;
  DriverError?: string;
  /** Set on `Failed Validation`: the driver refused the task's config. */
  ValidationError?: string;
  FailsTask?: boolean;
  KillReason?: string;
  /** String values, e.g. `{ exit_code: "1", signal: "0", oom_killed: "false" }`. */
  Details?: Record<string, string> | null;
}

/** Evaluation status. `blocked`: waiting for capacity; `failed`: the scheduler gave up. */
export type NomadEvaluationStatus = 'pending' | 'complete' | 'failed' | 'blocked' | 'canceled';

/** `GET /v1/evaluation/:id`. */
export interface NomadEvaluation {
  ID: string;
  Namespace: string;
  Priority: number;
  Type: string;
  TriggeredBy: string;
  JobID: string;
  Status: NomadEvaluationStatus;
  StatusDescription?: string;
  /** Set when some allocations could not be placed: the blocked evaluation waiting for capacity. */
  BlockedEval?: string;
  NextEval?: string;
  PreviousEval?: string;
  /** Per task group, why placement failed. */
  FailedTGAllocs?: Record<string, NomadAllocationMetric> | null;
  QueuedAllocations?: Record<string, number> | null;
  CreateIndex: number;
  ModifyIndex: number;
}

/** The scheduler's account of a placement attempt (`AllocMetric`). */
export interface NomadAllocationMetric {
  NodesEvaluated: number;
  NodesFiltered: number;
  NodesInPool?: number;
  /** Per datacenter, how many ready nodes there were. */
  NodesAvailable?: Record<string, number> | null;
  ClassFiltered?: Record<string, number> | null;
  ConstraintFiltered?: Record<string, number> | null;
  NodesExhausted: number;
  ClassExhausted?: Record<string, number> | null;
  DimensionExhausted?: Record<string, number> | null;
  QuotaExhausted?: string[] | null;
  /** Further allocations of the group that failed the same way. */
  CoalescedFailures?: number;
}

/**
 * One frame of `GET /v1/client/fs/logs/:alloc` (JSON mode). `Data` is base64; `Offset` is the file
 * offset just after `Data`; `FileEvent` is `"file truncated"` or `"file deleted"`. A frame with no
 * fields is a heartbeat.
 */
export interface NomadStreamFrame {
  Data?: string;
  Offset?: number;
  File?: string;
  FileEvent?: string;
}
