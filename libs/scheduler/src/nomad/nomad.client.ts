import { decodeLogFrames, type NomadLogFrame } from './nomad-log-frames.js';
import type {
  NomadAllocation,
  NomadAllocationListStub,
  NomadEvaluation,
  NomadJob,
  NomadJobDeregisterResponse,
  NomadJobListStub,
  NomadJobRegisterResponse,
} from './nomad.types.js';

/**
 * A small typed client for the part of Nomad's HTTP API that Gofer uses, over Node's global `fetch`.
 *
 * Why not the `nomad-client` npm package: 0.0.2 publishes only TypeScript sources (`main: ./src/index.ts`,
 * which Node cannot import), never reads `X-Nomad-Index` (so no blocking queries), and calls
 * `/v1/client/allocation/:id/logs`, which Nomad does not have (the endpoint is `/v1/client/fs/logs/:id`).
 */

/** How to reach Nomad. */
export interface NomadClientOptions {
  /** Base URL of a Nomad agent's HTTP API (`NOMAD_ADDR`). @default "http://127.0.0.1:4646" */
  address?: string;
  /** ACL token, sent as `X-Nomad-Token`. @default no token (ACLs disabled) */
  token?: string;
  /** Namespace of every job Gofer registers and reads, sent as `?namespace=`. @default Nomad's "default" */
  namespace?: string;
  /** Region to forward requests to, sent as `?region=`. @default the agent's region */
  region?: string;
  /**
   * Time allowed for one request, until its response headers for a log stream. A blocking query gets
   * this plus its wait (and Nomad's jitter of up to wait/16). @default 30_000
   */
  requestTimeoutMs?: number;
  /**
   * Passed to `fetch` as its `dispatcher` option: the hook for TLS. Node's `fetch` is undici's; give an
   * undici `Agent({ connect: { ca, cert, key } })` (from the `undici` package, same major as Node's
   * bundled one) for a private CA or mutual TLS. A private CA alone also works without it, through
   * `NODE_EXTRA_CA_CERTS`. @default Node's global dispatcher
   */
  dispatcher?: object;
}

/**
 * A blocking query (Nomad's long poll): with `index` > 0 Nomad holds the request until the object's
 * index exceeds `index` or `waitMs` passes, whichever is first. Without `index` the read returns at once.
 */
export interface BlockingQuery {
  /** The `index` of a previous {@link QueryResult}. @default 0 (do not block) */
  index?: number;
  /** Longest time Nomad holds the request (Nomad caps it at 10 minutes). @default 60_000 */
  waitMs?: number;
  /** Abort the request. */
  signal?: AbortSignal;
}

/** A read with the index Nomad answered it at (`X-Nomad-Index`), to block on in the next query. */
export interface QueryResult<T> {
  value: T;
  index: number;
}

/** Which log of a task. */
export type NomadLogType = 'stdout' | 'stderr';

/** Options of {@link NomadClient.streamLogs}. */
export interface StreamLogsOptions {
  /** Keep the stream open and send new output as the task writes it. @default false */
  follow?: boolean;
  /** Byte offset to start at, counted from `origin`. @default 0 */
  offset?: number;
  /** Count `offset` from the start or from the end of the logs. @default "start" */
  origin?: 'start' | 'end';
  /** Ends the stream (the iterator then returns). */
  signal?: AbortSignal;
}

/** Default of {@link BlockingQuery.waitMs}. */
export const DEFAULT_BLOCKING_WAIT_MS = 60_000;

/**
 * An error answer from Nomad (Nomad answers errors as a plain-text body with an HTTP status), or no
 * answer at all (`status` 0).
 */
export class NomadError extends Error {
  override name = 'NomadError';
  constructor(
    /** HTTP status; 0 when Nomad could not be reached or did not answer in time. */
    readonly status: number,
    /** What Nomad said (its response body, trimmed), or what went wrong on the way. */
    readonly detail: string,
    /** Method and path of the request, without the query string. */
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(status === 0 ? `Nomad ${path}: ${detail}` : `Nomad ${path} answered ${status}: ${detail}`, options);
  }
}

/**
 * Nomad could not be reached (connection refused or reset, timeout) or answered 5xx/429: worth retrying
 * with backoff, unlike other {@link NomadError}s.
 */
export class NomadUnavailableError extends NomadError {
  override name = 'NomadUnavailableError';
}

/**
 * A create-only register (`EnforceIndex: true`, `JobModifyIndex: 0`) found the job already there. Nomad
 * answers this as a 500 whose body starts with "Enforcing job modify index"; it is not worth a retry:
 * read the existing job instead.
 */
export class JobExistsError extends NomadError {
  override name = 'JobExistsError';
}

/** True for an error a caller should retry with backoff (see {@link NomadUnavailableError}). */
export function isNomadUnavailable(error: unknown): error is NomadUnavailableError {
  return error instanceof NomadUnavailableError;
}

/**
 * Query parameters of a blocking query: `index` and `wait` (as a Go duration, `30s` or `1500ms`), or
 * nothing when `index` is not positive (Nomad would answer at once anyway).
 */
export function blockingQueryParams(query: BlockingQuery | undefined): Record<string, string> {
  const index = query?.index ?? 0;
  if (!(index > 0)) return {};
  const waitMs = Math.max(1, Math.round(query?.waitMs ?? DEFAULT_BLOCKING_WAIT_MS));
  return { index: String(index), wait: waitMs % 1000 === 0 ? `${waitMs / 1000}s` : `${waitMs}ms` };
}

/**
 * Re-issues a blocking query with the index of its last answer and yields each answer whose index
 * changed (the first answer always). If the index goes backwards (a server restored from a snapshot, a
 * new leader), it starts over from 0, as Nomad's documentation on blocking queries asks. Ends when
 * `signal` aborts; other errors end the iteration by throwing (retry policy is the caller's).
 */
export async function* watch<T>(
  query: (q: BlockingQuery) => Promise<QueryResult<T>>,
  options: { signal?: AbortSignal; waitMs?: number; index?: number } = {},
): AsyncGenerator<QueryResult<T>> {
  const { signal, waitMs } = options;
  let last = options.index ?? 0;
  let first = true;
  while (!signal?.aborted) {
    let result: QueryResult<T>;
    try {
      result = await query({ index: last, waitMs, signal });
    } catch (error) {
      if (signal?.aborted) return;
      throw error;
    }
    const changed = first || result.index !== last;
    first = false;
    // Index 0 would make the next query return at once, a tight loop: block from 1 at least.
    last = result.index < last ? 0 : Math.max(result.index, 1);
    if (changed) yield result;
  }
}

interface Sent {
  response: Response;
  /** Stops the request's deadline. */
  settled: () => void;
  timedOut: () => boolean;
  deadlineMs: number;
}

interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  blocking?: BlockingQuery;
  signal?: AbortSignal;
}

/** The typed Nomad client. Every method throws {@link NomadError} (or a subclass) on failure. */
export class NomadClient {
  readonly address: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: NomadClientOptions = {}) {
    this.address = (options.address ?? 'http://127.0.0.1:4646').replace(/\/+$/, '');
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** `GET /v1/status/leader`: the leader's RPC address; fails when the cluster has none or cannot be reached. */
  async leader(options: { signal?: AbortSignal } = {}): Promise<string> {
    const { value } = await this.json<string>('GET', '/v1/status/leader', { signal: options.signal });
    return value;
  }

  /**
   * Registers a job (`PUT /v1/jobs`). With `enforceIndex: 0` the register is create-only: if the job
   * exists it fails with {@link JobExistsError} and changes nothing.
   */
  async registerJob(job: NomadJob, options: { enforceIndex?: number } = {}): Promise<NomadJobRegisterResponse> {
    const body: Record<string, unknown> = { Job: job };
    if (options.enforceIndex !== undefined) {
      body.EnforceIndex = true;
      body.JobModifyIndex = options.enforceIndex;
    }
    const { value } = await this.json<NomadJobRegisterResponse>('PUT', '/v1/jobs', { body });
    return value;
  }

  /** `GET /v1/job/:id`; undefined if there is no such job. */
  async job(id: string, options: { signal?: AbortSignal } = {}): Promise<NomadJob | undefined> {
    const result = await this.optional<NomadJob>(`/v1/job/${encodeURIComponent(id)}`, { signal: options.signal });
    return result.value;
  }

  /** `GET /v1/job/:id/allocations`, optionally blocking; empty for an unknown job. */
  jobAllocations(id: string, blocking?: BlockingQuery): Promise<QueryResult<NomadAllocationListStub[]>> {
    return this.json('GET', `/v1/job/${encodeURIComponent(id)}/allocations`, { blocking, signal: blocking?.signal });
  }

  /** `GET /v1/allocation/:id`, optionally blocking; `value` undefined if there is no such allocation. */
  allocation(id: string, blocking?: BlockingQuery): Promise<QueryResult<NomadAllocation | undefined>> {
    return this.optional(`/v1/allocation/${encodeURIComponent(id)}`, { blocking, signal: blocking?.signal });
  }

  /** `GET /v1/job/:id/evaluations`; empty for an unknown job. */
  async jobEvaluations(id: string, options: { signal?: AbortSignal } = {}): Promise<NomadEvaluation[]> {
    const { value } = await this.json<NomadEvaluation[]>('GET', `/v1/job/${encodeURIComponent(id)}/evaluations`, { signal: options.signal });
    return value;
  }

  /**
   * Sends `signal` (e.g. `SIGKILL`) to a task of a running allocation
   * (`POST /v1/client/allocation/:id/signal`). Nomad answers an error when the task is not running.
   */
  async signalAllocation(allocId: string, signal: string, task?: string): Promise<void> {
    await this.json('POST', `/v1/client/allocation/${encodeURIComponent(allocId)}/signal`, { body: { Signal: signal, ...(task && { Task: task }) } });
  }

  /** `GET /v1/evaluation/:id`; undefined if there is no such evaluation. */
  async evaluation(id: string, options: { signal?: AbortSignal } = {}): Promise<NomadEvaluation | undefined> {
    return (await this.evaluationQuery(id, { signal: options.signal })).value;
  }

  /** `GET /v1/evaluation/:id`, optionally blocking; `value` undefined if there is no such evaluation. */
  evaluationQuery(id: string, blocking?: BlockingQuery): Promise<QueryResult<NomadEvaluation | undefined>> {
    return this.optional(`/v1/evaluation/${encodeURIComponent(id)}`, { blocking, signal: blocking?.signal });
  }

  /**
   * `GET /v1/jobs` in the client's namespace. `filter` is a Nomad filter expression, e.g.
   * `Meta["gofer.managed"] == "true"`; `meta: true` asks Nomad (1.6+) to include each job's `Meta`.
   */
  async listJobs(options: { prefix?: string; filter?: string; meta?: boolean; signal?: AbortSignal } = {}): Promise<NomadJobListStub[]> {
    const { value } = await this.json<NomadJobListStub[]>('GET', '/v1/jobs', {
      query: { prefix: options.prefix, filter: options.filter, meta: options.meta ? 'true' : undefined },
      signal: options.signal,
    });
    return value;
  }

  /**
   * Stops a job (`DELETE /v1/job/:id`); `purge` also removes it from Nomad's state at once instead of at
   * the next garbage collection. Undefined if there was no such job.
   */
  async deregisterJob(id: string, options: { purge?: boolean } = {}): Promise<NomadJobDeregisterResponse | undefined> {
    const result = await this.optional<NomadJobDeregisterResponse>(`/v1/job/${encodeURIComponent(id)}`, {
      method: 'DELETE',
      query: { purge: options.purge ? 'true' : undefined },
    });
    return result.value;
  }

  /**
   * Streams a task's log (`GET /v1/client/fs/logs/:alloc`, JSON frames) as {@link NomadLogFrame}s.
   *
   * The stream ends when Nomad closes it, when `signal` aborts (the iterator returns), or by throwing
   * {@link NomadUnavailableError} on a dropped connection. Reconnecting is the caller's: open a new stream with `offset` set to the last
   * data frame's `offset` and `origin: "start"` — but that offset counts within the frame's `file`, so
   * after the log rotated to a later file, skip the bytes already seen instead. With `follow`, Nomad
   * does not end the stream when the task ends (nomad#18369): stop it when the allocation is terminal.
   */
  async *streamLogs(allocId: string, task: string, type: NomadLogType, options: StreamLogsOptions = {}): AsyncGenerator<NomadLogFrame> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) return;
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const { response, settled } = await this.send('GET', `/v1/client/fs/logs/${encodeURIComponent(allocId)}`, {
        query: {
          task,
          type,
          follow: String(options.follow ?? false),
          offset: String(options.offset ?? 0),
          origin: options.origin ?? 'start',
        },
        signal: controller.signal,
      });
      settled();
      if (!response.body) return;
      yield* decodeLogFrames(response.body as AsyncIterable<Uint8Array>);
    } catch (error) {
      if (options.signal?.aborted) return;
      if (error instanceof NomadError) throw error;
      // The connection dropped mid-stream (or the stream was malformed): reconnect from the last offset.
      throw new NomadUnavailableError(0, `log stream cut off: ${networkReason(error)}`, `GET /v1/client/fs/logs/${allocId}`, { cause: error });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      controller.abort(); // releases the connection when the consumer stops early
    }
  }

  private async json<T>(method: string, path: string, request: RequestOptions): Promise<QueryResult<T>> {
    const sent = await this.send(method, path, request);
    try {
      return { value: (await this.readJson(sent, method, path, request.signal)) as T, index: indexOf(sent.response) };
    } finally {
      sent.settled();
    }
  }

  /** A read (or delete) where 404 means "no such object", not an error. */
  private async optional<T>(
    path: string,
    request: RequestOptions & { method?: string },
  ): Promise<QueryResult<T | undefined>> {
    const method = request.method ?? 'GET';
    try {
      return await this.json<T>(method, path, request);
    } catch (error) {
      if (error instanceof NomadError && error.status === 404) return { value: undefined, index: 0 };
      throw error;
    }
  }

  private async readJson(sent: Sent, method: string, path: string, signal: AbortSignal | undefined): Promise<unknown> {
    const { response } = sent;
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      const detail = sent.timedOut() ? `no complete answer within ${sent.deadlineMs} ms` : `answer cut off: ${networkReason(error)}`;
      throw new NomadUnavailableError(0, detail, `${method} ${path}`, { cause: error });
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new NomadError(response.status, `response is not JSON: ${text.slice(0, 200)}`, `${method} ${path}`, { cause: error });
    }
  }

  /**
   * Sends a request and returns a 2xx response with its body unread, or throws the mapped
   * {@link NomadError}. The deadline keeps running while the body is read until `settled()` is called
   * (a log stream calls it once the headers are in: a stream has no deadline).
   */
  private async send(method: string, path: string, request: RequestOptions): Promise<Sent> {
    const where = `${method} ${path}`;
    const blocking = blockingQueryParams(request.blocking);
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries({
      namespace: this.options.namespace,
      region: this.options.region,
      ...request.query,
      ...blocking,
    })) {
      if (value !== undefined) params.set(key, value);
    }
    const url = `${this.address}${path}${params.size > 0 ? `?${params}` : ''}`;
    const headers: Record<string, string> = {};
    if (this.options.token) headers['X-Nomad-Token'] = this.options.token;
    if (request.body !== undefined) headers['Content-Type'] = 'application/json';

    // The request budget, plus the wait of a blocking query and Nomad's jitter on it.
    const waitMs = blocking.index ? (request.blocking?.waitMs ?? DEFAULT_BLOCKING_WAIT_MS) : 0;
    const deadlineMs = this.timeoutMs + waitMs + Math.ceil(waitMs / 16);
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), deadlineMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout.signal]) : timeout.signal;

    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal,
        ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
      } as RequestInit);
    } catch (error) {
      clearTimeout(timer);
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      if (timeout.signal.aborted) {
        throw new NomadUnavailableError(0, `no answer from ${this.address} within ${deadlineMs} ms`, where, { cause: error });
      }
      throw new NomadUnavailableError(0, `cannot reach ${this.address}: ${networkReason(error)}`, where, { cause: error });
    }

    if (response.ok) return { response, settled: () => clearTimeout(timer), timedOut: () => timeout.signal.aborted, deadlineMs };
    const detail = (await response.text().catch(() => '')).trim() || response.statusText;
    clearTimeout(timer);
    if (/Enforcing job modify index \d+: job (already exists|exists with conflicting)/.test(detail)) {
      throw new JobExistsError(response.status, detail, where);
    }
    if (response.status >= 500 || response.status === 429) throw new NomadUnavailableError(response.status, detail, where);
    throw new NomadError(response.status, detail, where);
  }
}

function indexOf(response: Response): number {
  const index = Number(response.headers.get('X-Nomad-Index'));
  return Number.isSafeInteger(index) && index > 0 ? index : 0;
}

/** `fetch failed` says nothing; the cause carries the socket error (ECONNREFUSED, ECONNRESET, …). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
