import 'reflect-metadata';
import * as grpc from '@grpc/grpc-js';
import { ConfigError, loadConfig, splitAddress, type GoferConfig } from '@gofer/config';
import { GOFER_PACKAGE, GOFER_PROTO_FILE, PROTO_LOADER_OPTIONS, PROTO_PATH } from '@gofer/proto';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import type { INestApplication } from '@nestjs/common';
import type { Logger } from 'pino';
import { advertiseAddressProblem, type Scheduler } from '@gofer/scheduler';
import { EncryptionKeyMismatchError, SecretService } from '@gofer/secrets';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { HttpMetrics } from '../api/api.metrics.js';
import { RpcErrorFilter } from '../api/rpc.gateway.js';
import { DrainingGrpcServer } from '../api/grpc-server.js';
import { BrowserApi } from '../api/browser-api.js';
import { WebUi } from '../api/web-ui.js';
import { Shutdown } from '../api/shutdown.js';
import { GOFER_VERSION } from '../version.js';
import { provideDevServices } from './dev-services.js';
import { openInfrastructure, StartupError } from './infrastructure.js';
import { createLogger, NestPinoLogger } from './logger.js';
import { ServiceModule, type Role } from './service.module.js';

/** Largest gRPC message the API accepts (configs are capped at 1 MiB inside that). */
const MAX_GRPC_MESSAGE_BYTES = 4 * 1024 * 1024;
/**
 * Most metadata a call may carry, counted as HTTP/2 counts a header list (name + value + 32 bytes an
 * entry). Gofer reads only `authorization`; 16 KiB, gRPC's usual limit, leaves room for tracing headers.
 * (Nest's `maxMetadataSize` sets `grpc.max_metadata_size`, which the grpc-js server ignores.)
 */
const MAX_METADATA_BYTES = 16 * 1024;
/**
 * A connection with no call in flight for this long is closed; clients reconnect on their next call.
 * This also ends a connection the HTTP/2 layer gave up on: a header field over 64 KiB or a header block
 * over about 144 KiB (both HPACK-encoded) is a connection error in nghttp2 (GOAWAY with COMPRESSION_ERROR
 * or INTERNAL_ERROR), after which Node may stop reading the socket without closing it; a client that
 * does not act on the GOAWAY (grpcio), or is still writing megabytes of headers and so never reads it,
 * would otherwise wait for its deadline, or forever.
 */
const IDLE_CONNECTION_MS = 5_000;
/**
 * Each connection is pinged this often and dropped when the answer takes longer than the timeout: this
 * ends a connection broken as above that still has a call in flight (a followed stream), which the idle
 * limit does not. The timeout leaves room for a ping queued behind megabytes of data on a slow link.
 */
const KEEPALIVE_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 20_000;
/**
 * On shutdown, how long calls already in flight (unary calls, downloads) may take to finish before they
 * are cut. Follows do not wait: they end at once with UNAVAILABLE and their clients resume elsewhere.
 */
const DRAIN_MS = 10_000;

/** A call's metadata as HTTP/2 counts it: name + value + 32 bytes an entry (RFC 7541 section 4.1). */
function metadataBytes(metadata: grpc.Metadata): number {
  let bytes = 0;
  for (const [key, values] of Object.entries(metadata.toHttp2Headers())) {
    for (const value of Array.isArray(values) ? values : [values]) bytes += key.length + Buffer.byteLength(String(value)) + 32;
  }
  return bytes;
}

/**
 * Answers a call whose metadata is over {@link MAX_METADATA_BYTES} with RESOURCE_EXHAUSTED; its handler
 * never runs (grpc-js reads the request only once the metadata is passed on).
 */
const limitMetadata: grpc.ServerInterceptor = (_method, call) =>
  new grpc.ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMetadata: (metadata, pass) => {
          const bytes = metadataBytes(metadata);
          if (bytes <= MAX_METADATA_BYTES) return pass(metadata);
          call.sendStatus({
            code: grpc.status.RESOURCE_EXHAUSTED,
            details: `request metadata is ${bytes} bytes, over the ${MAX_METADATA_BYTES}-byte limit: Gofer reads only "authorization: Bearer <token>"; send less metadata`,
          });
        },
      }),
  });

export interface RunningService {
  app: INestApplication;
  config: GoferConfig;
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * The service's live heap is small (about 50 MB) but under load it allocates fast, and by default V8
 * lets the heap grow to several times the live size before a full collection: measured, a 50 MB live
 * set reached 230 MB of heap and 300 MB resident during a burst (bench/: control-plane). Growing the heap
 * by at most half of what survived the last collection keeps the resident size near 180 MB for the
 * same load, at no measurable CPU cost (a full collection of this heap takes a few milliseconds, mostly
 * on V8's helper threads). The flag is read whenever V8 sizes the heap after a collection, so setting it
 * at boot, before the load arrives, is enough.
 */
function boundHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=50');
}

/**
 * Boots a Gofer process with the given roles. Throws {@link StartupError} or {@link ConfigError}
 * (with a message naming what is wrong and how to fix it) when it cannot start.
 */
export async function bootService(
  roles: Role[],
  env: NodeJS.ProcessEnv = process.env,
  /** Internal: benchmarks measure the control plane with a scheduler of their own. Not user-facing. */
  internal: { scheduler?: Scheduler } = {},
): Promise<RunningService> {
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel);
  boundHeapGrowth();
  // grpc-js writes its own diagnostics to stderr; keep them in the structured log instead.
  const grpcLog = logger.child({ component: 'grpc' });
  grpc.setLogger({ error: (...args: unknown[]) => grpcLog.debug(args.map(String).join(' ')) });
  const infra = await openInfrastructure(config, { scheduler: roles.includes('worker'), schedulerOverride: internal.scheduler });
  let app: INestApplication;
  let grpcServer: DrainingGrpcServer | undefined;
  let browserApi: BrowserApi | undefined;
  try {
    app = await NestFactory.create(ServiceModule.forRoles(roles, config, infra, logger), {
      logger: new NestPinoLogger(logger.child({ component: 'nest' })),
      abortOnError: false,
      // No handler takes a parsed body; the webhook route reads its raw bytes itself, within its limit.
      bodyParser: false,
    });
    // Before listen (which registers Nest's routes), so every HTTP request passes it, unmatched ones too.
    app.use(app.get(HttpMetrics).middleware());
    // A wrong encryption key stops the service before it serves anything.
    await app.get(SecretService).verifyKey().catch((error: Error) => {
      throw error instanceof EncryptionKeyMismatchError ? new StartupError(error.message) : error;
    });
    if (roles.includes('api')) {
      // Registered before connectMicroservice: inheritAppConfig copies the app's config at that moment.
      app.useGlobalFilters(new RpcErrorFilter(logger));
      grpcServer = new DrainingGrpcServer({
        package: GOFER_PACKAGE,
        protoPath: join(PROTO_PATH, GOFER_PROTO_FILE),
        url: config.grpcAddr,
        loader: { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_PATH] },
        maxReceiveMessageLength: MAX_GRPC_MESSAGE_BYTES,
        maxSendMessageLength: MAX_GRPC_MESSAGE_BYTES,
        keepalive: { keepaliveTimeMs: KEEPALIVE_MS, keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS },
        channelOptions: { 'grpc.max_connection_idle_ms': IDLE_CONNECTION_MS, interceptors: [limitMetadata] } satisfies grpc.ServerOptions,
      });
      app.connectMicroservice<MicroserviceOptions>({ strategy: grpcServer }, { inheritAppConfig: true });
      // The same API for browsers, on the HTTP port: every call forwarded to the gRPC server above.
      browserApi = new BrowserApi(config.grpcAddr);
      app.use(browserApi.middleware());
      // The web UI's static files (apps/web), which talk to the browser API above.
      app.use(new WebUi().middleware());
      await app.startAllMicroservices().catch((error: Error) => {
        const reason = error.message.includes('EADDRINUSE') ? 'the address is already in use' : error.message;
        throw new StartupError(`cannot serve gRPC on GOFER_GRPC_ADDR=${config.grpcAddr}: ${reason} (is another Gofer running there?)`);
      });
    }
    const http = splitAddress(config.httpAddr);
    await app.listen(http.port, http.host).catch((error: Error) => {
      throw new StartupError(`cannot serve HTTP on GOFER_HTTP_ADDR=${config.httpAddr}: ${error.message} (is another Gofer running there?)`);
    });
  } catch (error) {
    browserApi?.close();
    await infra.close();
    throw error;
  }
  logger.info({ roles, version: GOFER_VERSION, grpc: roles.includes('api') ? config.grpcAddr : undefined, http: config.httpAddr }, 'gofer service started');
  const unreachable = roles.includes('worker') ? advertiseAddressProblem(config) : undefined;
  if (unreachable) {
    const network = config.scheduler === 'nomad' ? { nomad_network_mode: config.nomad.networkMode } : { docker_network: config.dockerNetwork };
    logger.warn({ advertise_addr: config.advertiseAddr, ...network }, unreachable);
  }
  if (roles.includes('worker') && !roles.includes('api') && !env.GOFER_ADVERTISE_ADDR) {
    logger.warn(
      { advertise_addr: config.advertiseAddr },
      'this worker serves no API, yet its containers are told to reach the API at its own GOFER_GRPC_ADDR ' +
        '(GOFER_ADVERTISE_ADDR is unset); set GOFER_ADVERTISE_ADDR to the cluster\'s entry point',
    );
  }
  return {
    app,
    config,
    logger,
    stop: async () => {
      // Readiness goes false and live follows end (UNAVAILABLE: resume elsewhere) before anything closes.
      app.get(Shutdown).begin();
      if (grpcServer && !(await grpcServer.drain(DRAIN_MS))) {
        logger.warn({ after_ms: DRAIN_MS }, 'calls were still in flight at the end of the drain; they were cut');
      }
      browserApi?.close();
      await app.close();
      logger.info('gofer service stopped');
    },
  };
}

/** `gofer service start`: runs until SIGTERM/SIGINT, then shuts down gracefully. */
export async function startService(options: { roles: Role[] }): Promise<void> {
  let service: RunningService;
  try {
    // On a machine with nothing configured, Postgres and Redis come from Docker (./dev-services.ts).
    const env = await provideDevServices(options.roles, process.env, (line) => process.stderr.write(`gofer: ${line}\n`));
    service = await bootService(options.roles, env);
  } catch (error) {
    if (error instanceof StartupError || error instanceof ConfigError) {
      process.stderr.write(`gofer: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // A promise nobody awaited that fails is a bug to log, not a reason to drop every call in flight.
  process.on('unhandledRejection', (error: unknown) => service.logger.error({ err: error }, 'unhandled promise rejection'));
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      service.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    service.logger.info({ signal }, 'shutting down');
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        service.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
