import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MethodDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { createGoferClient } from './gofer.client.js';
import { GOFER_PACKAGE, GOFER_PROTO_FILE, GOFER_SERVICE, loadGoferPackageDefinition, PROTO_PATH } from './gofer-proto.js';

describe('@gofer/proto', () => {
  it('finds the proto files from its own location', () => {
    expect(existsSync(join(PROTO_PATH, GOFER_PROTO_FILE))).toBe(true);
  });

  it('exposes every RPC of gofer.v1.Gofer on the client, streams as async iterables', () => {
    const service = loadGoferPackageDefinition()[`${GOFER_PACKAGE}.${GOFER_SERVICE}`] as Record<
      string,
      MethodDefinition<object, object>
    >;
    const client = createGoferClient({ address: '127.0.0.1:1' }) as unknown as Record<string, unknown>;
    try {
      const rpcs = Object.keys(service);
      expect(rpcs.length).toBeGreaterThan(15);
      for (const rpc of rpcs) {
        const name = rpc[0]!.toLowerCase() + rpc.slice(1);
        expect(typeof client[name], `client.${name}`).toBe('function');
        expect(service[rpc]!.requestStream, `${rpc} is not client-streaming`).toBe(false);
      }
      const streaming = rpcs.filter((rpc) => service[rpc]!.responseStream);
      expect(streaming).toEqual(['GetTaskRunLogs']);
    } finally {
      (client.close as () => void)();
    }
  });
});
