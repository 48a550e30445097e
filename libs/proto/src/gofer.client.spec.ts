import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { MethodDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { createGoferClient, OBJECT_CHUNK_BYTES, splitChunks, type UploadBody } from './gofer.client.js';
import { GOFER_PACKAGE, GOFER_PROTO_FILE, GOFER_SERVICE, loadGoferPackageDefinition, PROTO_PATH } from './gofer-proto.js';

describe('@gofer/proto', () => {
  it('finds the proto files from its own location', () => {
    expect(existsSync(join(PROTO_PATH, GOFER_PROTO_FILE))).toBe(true);
  });

  it('exposes every RPC of gofer.v1.Gofer on the client', () => {
    const service = loadGoferPackageDefinition()[`${GOFER_PACKAGE}.${GOFER_SERVICE}`] as Record<
      string,
      MethodDefinition<object, object>
    >;
    const client = createGoferClient({ address: '127.0.0.1:1' }) as unknown as Record<string, unknown>;
    try {
      const rpcs = Object.keys(service);
      expect(rpcs.length).toBeGreaterThan(40);
      for (const rpc of rpcs) {
        const name = rpc[0]!.toLowerCase() + rpc.slice(1);
        expect(typeof client[name], `client.${name}`).toBe('function');
        expect(service[rpc]!.requestStream && service[rpc]!.responseStream, `${rpc} is not bidirectional`).toBe(false);
      }
      // The client treats these shapes specially; a new streaming RPC needs a decision there.
      expect(rpcs.filter((rpc) => service[rpc]!.responseStream)).toEqual([
        'GetTaskRunLogs',
        'GetPipelineObject',
        'GetRunObject',
        'ListEvents',
      ]);
      expect(rpcs.filter((rpc) => service[rpc]!.requestStream)).toEqual(['PutPipelineObject', 'PutRunObject']);
    } finally {
      (client.close as () => void)();
    }
  });
});

describe('splitChunks', () => {
  const MiB = OBJECT_CHUNK_BYTES;

  async function sizes(body: UploadBody, max?: number): Promise<number[]> {
    const out: number[] = [];
    for await (const chunk of splitChunks(body, max)) out.push(chunk.length);
    return out;
  }

  async function* gen(...lengths: number[]) {
    for (const n of lengths) yield new Uint8Array(n);
  }

  const cases: Array<[string, () => UploadBody, number[]]> = [
    ['a small buffer as one chunk', () => new Uint8Array(10), [10]],
    ['exactly 1 MiB as one chunk', () => new Uint8Array(MiB), [MiB]],
    ['2.5 MiB in three chunks', () => new Uint8Array(2.5 * MiB), [MiB, MiB, 0.5 * MiB]],
    ['an empty body as nothing', () => new Uint8Array(0), []],
    ['generator chunks split each on its own, empties dropped', () => gen(3, 0, MiB + 1, 7), [3, MiB, 1, 7]],
    ['string chunks as UTF-8', () => Readable.from(['héllo'], { objectMode: true }), [6]],
  ];
  it.each(cases)('yields %s', async (_name, body, expected) => expect(await sizes(body())).toEqual(expected));

  it('keeps the bytes and their order, without copying', async () => {
    const input = Buffer.from('abcdefghij');
    const chunks: Uint8Array[] = [];
    for await (const chunk of splitChunks(input, 4)) chunks.push(chunk);
    expect(chunks.map((c) => Buffer.from(c).toString())).toEqual(['abcd', 'efgh', 'ij']);
    expect(chunks[0]!.buffer).toBe(input.buffer);
  });

  it('pulls the next input chunk only when asked', async () => {
    let pulled = 0;
    async function* counting() {
      for (;;) {
        pulled++;
        yield new Uint8Array(3 * MiB);
      }
    }
    const chunks = splitChunks(counting());
    for (let i = 0; i < 4; i++) await chunks.next();
    await chunks.return(undefined);
    expect(pulled).toBe(2);
  });

  it('rejects a non-positive size', async () => {
    await expect(sizes(new Uint8Array(1), 0)).rejects.toThrow(RangeError);
  });
});
