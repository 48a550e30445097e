import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller, Get, type INestApplication, Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { GrpcMethod, GrpcStreamCall, RpcException, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { join } from 'node:path';
import type { sendUnaryData } from '@grpc/grpc-js';
import { Authorize, TokenService } from '@gofer/auth';
import { LOGGER, METRICS_REGISTRY } from '@gofer/config';
import { unauthenticated } from '@gofer/errors';
import {
  createGoferClient, GOFER_PACKAGE, GOFER_PROTO_FILE, GrpcStatus, PROTO_LOADER_OPTIONS, PROTO_PATH, type GoferClient,
} from '@gofer/proto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { ApiMetrics } from '../../apps/gofer/src/api/api.metrics.js';
import { AuthorizationGuard } from '../../apps/gofer/src/api/authorization.guard.js';
import { RpcErrorFilter, RpcGateway } from '../../apps/gofer/src/api/rpc.gateway.js';
import { freePort } from '../support/gofer-process.js';

/** Handlers as a careless change would add them: some declare a policy, some forgot to. */
@Controller()
class MixedController {
  ran: string[] = [];

  @Authorize('public')
  @GrpcMethod('Gofer', 'GetSystemInfo')
  getSystemInfo() {
    return { version: 'test', commit: '', scheduler: 'docker', bootstrapTokenCreated: false };
  }

  @GrpcMethod('Gofer', 'ListTokens')
  listTokens() {
    this.ran.push('listTokens');
    return { tokens: [] };
  }

  @GrpcStreamCall('Gofer', 'PutPipelineObject')
  putPipelineObject(_call: unknown, callback: sendUnaryData<unknown>) {
    this.ran.push('putPipelineObject');
    callback(null, { evicted: [] });
  }

  @Authorize('public')
  @GrpcMethod('Gofer', 'GetRun')
  getRun() {
    throw new RpcException({ code: GrpcStatus.NOT_FOUND, message: 'no such run' });
  }

  @Authorize('public')
  @Get('open')
  open() {
    return { status: 'ok' };
  }

  @Authorize('authenticated')
  @Get('private')
  private() {
    this.ran.push('private');
    return { status: 'private' };
  }

  @Get('forgotten')
  forgotten() {
    this.ran.push('forgotten');
    return { status: 'forgotten' };
  }
}

const registry = new Registry();

@Module({
  controllers: [MixedController],
  providers: [
    { provide: LOGGER, useValue: pino({ level: 'silent' }) },
    { provide: METRICS_REGISTRY, useValue: registry },
    // No call here reaches a token check with a token; any that did would be refused.
    { provide: TokenService, useValue: { authenticate: () => Promise.reject(unauthenticated('no tokens in this test')) } },
    ApiMetrics,
    { provide: APP_GUARD, useClass: AuthorizationGuard },
    { provide: APP_INTERCEPTOR, useClass: RpcGateway },
  ],
})
class TestModule {}

describe('a handler without @Authorize is refused, over gRPC and HTTP alike', () => {
  let app: INestApplication;
  let client: GoferClient;
  let http: string;

  beforeAll(async () => {
    const grpcAddr = `127.0.0.1:${await freePort()}`;
    const httpPort = await freePort();
    app = await NestFactory.create(TestModule, { logger: false, abortOnError: false });
    // As the service does (apps/gofer/src/service/start.ts).
    app.useGlobalFilters(new RpcErrorFilter(pino({ level: 'silent' })));
    app.connectMicroservice<MicroserviceOptions>(
      {
        transport: Transport.GRPC,
        options: {
          package: GOFER_PACKAGE, protoPath: join(PROTO_PATH, GOFER_PROTO_FILE), url: grpcAddr,
          loader: { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_PATH] },
        },
      },
      { inheritAppConfig: true },
    );
    await app.startAllMicroservices();
    await app.listen(httpPort, '127.0.0.1');
    client = createGoferClient({ address: grpcAddr, timeoutMs: 30_000, token: 'gofer_not-a-real-token' });
    http = `http://127.0.0.1:${httpPort}`;
  });
  afterAll(async () => {
    client?.close();
    await app?.close();
  });

  const failure = (call: Promise<unknown>) =>
    call.then(
      () => ({ code: GrpcStatus.OK, details: '' }),
      (error: { code: number; details: string }) => ({ code: error.code, details: error.details }),
    );

  it('serves a declared public RPC', async () => {
    expect(await client.getSystemInfo({})).toMatchObject({ version: 'test' });
  });

  it('refuses an undeclared unary RPC with PERMISSION_DENIED naming the handler, without running it', async () => {
    expect(await failure(client.listTokens({}))).toMatchObject({
      code: GrpcStatus.PERMISSION_DENIED,
      details: expect.stringContaining('MixedController.listTokens declares no authorization policy'),
    });
    expect(app.get(MixedController).ran).not.toContain('listTokens');
  });

  it('refuses an undeclared client-streaming RPC through its callback', async () => {
    const upload = client.putPipelineObject({ namespaceId: 'default', pipelineId: 'p-1', key: 'k' }, Buffer.from('content'));
    expect(await failure(upload)).toMatchObject({
      code: GrpcStatus.PERMISSION_DENIED,
      details: expect.stringContaining('MixedController.putPipelineObject declares no authorization policy'),
    });
    expect(app.get(MixedController).ran).not.toContain('putPipelineObject');
  });

  it('serves a declared public route, and answers a route needing a token without one with 401', async () => {
    expect(await (await fetch(`${http}/open`)).json()).toEqual({ status: 'ok' });
    const refused = await fetch(`${http}/private`);
    expect(refused.status).toBe(401);
    expect(JSON.stringify(await refused.json())).toContain('needs an API token');
    expect(app.get(MixedController).ran).not.toContain('private');
  });

  it('refuses an undeclared HTTP route with 403 naming the handler, without running it', async () => {
    const refused = await fetch(`${http}/forgotten`, { headers: { authorization: 'Bearer gofer_not-a-real-token' } });
    expect(refused.status).toBe(403);
    expect(JSON.stringify(await refused.json())).toContain('MixedController.forgotten declares no authorization policy');
    expect(app.get(MixedController).ran).not.toContain('forgotten');
  });

  it('labels RPC latency with the real status name, refused calls included', async () => {
    expect(await failure(client.getRun({ namespaceId: 'default', pipelineId: 'p-1', runId: 1 }))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
    const text = await registry.metrics();
    expect(text).toMatch(/gofer_grpc_request_duration_seconds_count\{method="getRun",code="NOT_FOUND"\} 1/);
    expect(text).toMatch(/gofer_grpc_request_duration_seconds_count\{method="listTokens",code="PERMISSION_DENIED"\} 1/);
    expect(text).toMatch(/gofer_grpc_request_duration_seconds_count\{method="getSystemInfo",code="OK"\} 1/);
  });
});
