import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { MetadataScanner, Reflector } from '@nestjs/core';
import { PATTERN_METADATA } from '@nestjs/microservices/constants.js';
import { Authorize, POLICIES, type Policy } from '@gofer/auth';
import type { GoferConfig } from '@gofer/config';
import { GOFER_PACKAGE, GOFER_SERVICE, loadGoferPackageDefinition } from '@gofer/proto';
import pino from 'pino';
import type { Infrastructure } from '../service/infrastructure.js';
import { ServiceModule } from '../service/service.module.js';

type Controller = new (...args: never[]) => unknown;
interface Handler {
  controller: string;
  method: string;
  /** `Gofer.GetRun` for gRPC, `GET /healthz` for HTTP. */
  route: string;
  transport: 'grpc' | 'http';
  policy: Policy | undefined;
}

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'ALL', 'OPTIONS', 'HEAD', 'SEARCH'];

/** Every route handler of the controllers the service registers with both roles. */
function handlers(): Handler[] {
  const service = ServiceModule.forRoles(['api', 'worker'], {} as GoferConfig, {} as Infrastructure, pino({ level: 'silent' }));
  const reflector = new Reflector();
  const scanner = new MetadataScanner();
  return ((service.controllers ?? []) as Controller[]).flatMap((controller) =>
    scanner.getAllMethodNames(controller.prototype).flatMap((method): Handler[] => {
      const fn = (controller.prototype as Record<string, unknown>)[method] as () => unknown;
      const policy = reflector.get(Authorize, fn);
      const patterns = Reflect.getMetadata(PATTERN_METADATA, fn) as Array<{ service: string; rpc: string }> | undefined;
      if (patterns) return patterns.map((p) => ({ controller: controller.name, method, route: `${p.service}.${p.rpc}`, transport: 'grpc', policy }));
      const path = Reflect.getMetadata(PATH_METADATA, fn) as string | string[] | undefined;
      if (path === undefined) return []; // not a handler
      const verb = HTTP_METHODS[Reflect.getMetadata(METHOD_METADATA, fn) as number] ?? '?';
      // The controller's own prefix (`@Controller('api/external')`) comes first.
      const prefix = Reflect.getMetadata(PATH_METADATA, controller) as string | undefined;
      const full = [prefix, [path].flat().join(',')].filter((part) => part && part !== '/').join('/');
      return [{ controller: controller.name, method, route: `${verb} /${full}`, transport: 'http', policy }];
    }),
  );
}

/** The RPCs of `gofer.v1.Gofer` in proto/gofer/v1/gofer.proto. */
function protoRpcs(): string[] {
  const definition = loadGoferPackageDefinition();
  const service = definition[`${GOFER_PACKAGE}.${GOFER_SERVICE}`] as Record<string, { originalName?: string; path: string }>;
  return Object.values(service).map((method) => method.path.split('/').pop()!);
}

/**
 * The policies handlers had before they declared their own (a table in the gateway, every other RPC
 * acting in its request's namespace): a change to any of these is a change to who may do what.
 */
const NOT_NAMESPACE: Record<string, Policy> = {
  'Gofer.BootstrapToken': 'public',
  'Gofer.GetSystemInfo': 'public',
  'Gofer.WhoAmI': 'authenticated',
  'Gofer.ListNamespaces': 'authenticated',
  'Gofer.GetNamespace': 'authenticated',
  'Gofer.ListEvents': 'authenticated',
  'Gofer.CreateToken': 'management',
  'Gofer.ListTokens': 'management',
  'Gofer.GetToken': 'management',
  'Gofer.DeleteToken': 'management',
  'Gofer.EnableToken': 'management',
  'Gofer.DisableToken': 'management',
  'Gofer.CreateNamespace': 'management',
  'Gofer.DeleteNamespace': 'management',
  'Gofer.PutGlobalSecret': 'management',
  'Gofer.GetGlobalSecret': 'management',
  'Gofer.ListGlobalSecrets': 'management',
  'Gofer.DeleteGlobalSecret': 'management',
  'Gofer.PutPipelineObject': 'checked-by-handler',
  'Gofer.PutRunObject': 'checked-by-handler',
  'Gofer.InstallTrigger': 'management',
  'Gofer.UninstallTrigger': 'management',
  'Gofer.ListTriggers': 'authenticated',
  'Gofer.GetTrigger': 'authenticated',
  'Gofer.PostTriggerEvent': 'trigger-key',
  'Gofer.InstallNotifier': 'management',
  'Gofer.UninstallNotifier': 'management',
  'Gofer.ListNotifiers': 'authenticated',
  'Gofer.GetNotifier': 'authenticated',
  'POST /api/external/:trigger': 'webhook',
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'public',
};

describe('authorization policies', () => {
  const all = handlers();

  it('finds the handlers of gRPC and HTTP controllers', () => {
    expect(all.filter((h) => h.transport === 'grpc').length).toBeGreaterThan(0);
    expect(all.filter((h) => h.transport === 'http').map((h) => h.route)).toEqual(expect.arrayContaining(['GET /healthz', 'GET /metrics']));
  });

  it('every handler declares a known policy with @Authorize', () => {
    const undeclared = all.filter((h) => h.policy === undefined || !POLICIES.includes(h.policy)).map((h) => `${h.controller}.${h.method} (${h.route})`);
    expect(undeclared, 'handlers without @Authorize(policy) (libs/auth/src/authorize.decorator.ts)').toEqual([]);
  });

  it('every RPC of gofer.v1.Gofer has exactly one handler, and every gRPC handler serves one of them', () => {
    const served = all.filter((h) => h.transport === 'grpc').map((h) => h.route);
    const rpcs = protoRpcs().map((rpc) => `${GOFER_SERVICE}.${rpc}`);
    expect(served.length).toBe(rpcs.length);
    expect([...served].sort()).toEqual([...rpcs].sort());
  });

  it('each handler keeps the verdict it had: the table above, and the namespace policy for every other RPC', () => {
    const declared = Object.fromEntries(all.map((h) => [h.route, h.policy]));
    const expected = Object.fromEntries(all.map((h) => [h.route, NOT_NAMESPACE[h.route] ?? (h.transport === 'grpc' ? 'namespace' : undefined)]));
    expect(declared).toEqual(expected);
    expect(Object.keys(NOT_NAMESPACE).filter((route) => !(route in declared)), 'routes in the table without a handler').toEqual([]);
  });
});
