import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TestCluster, type GoferProcess } from '../support/gofer-process.js';

/** The API contract seen by a client that is not ours: Python's grpcio, stubs compiled from proto/ by grpc_tools. */
const CLIENT = `
import sys, grpc
sys.path.insert(0, sys.argv[1])
from gofer.v1 import gofer_pb2 as pb, gofer_pb2_grpc as rpc

stub = rpc.GoferStub(grpc.insecure_channel(sys.argv[2]))
print("anonymous info", stub.GetSystemInfo(pb.GetSystemInfoRequest()).bootstrap_token_created)
try:
    stub.ListPipelines(pb.ListPipelinesRequest(namespace_id="default"))
except grpc.RpcError as error:
    print("anonymous", error.code().name)
auth = [("authorization", "Bearer " + sys.argv[3])]
info = stub.GetSystemInfo(pb.GetSystemInfoRequest(), metadata=auth)
print("scheduler", info.scheduler, info.bootstrap_token_created)
applied = stub.ApplyPipelineConfig(pb.ApplyPipelineConfigRequest(namespace_id="default",
    config=b"id: from-python\\ntasks:\\n  - { id: hi, image: 'busybox:latest', script: 'echo hi' }\\n"), metadata=auth)
print("version", applied.version, pb.PipelineState.Name(applied.pipeline.state))
try:
    stub.GetPipeline(pb.GetPipelineRequest(namespace_id="default", id="missing"), metadata=auth)
except grpc.RpcError as error:
    print("error", error.code().name, error.details())
try:
    stub.ApplyPipelineConfig(pb.ApplyPipelineConfigRequest(namespace_id="default", config=b"id: x\\ntasks: []\\n"), metadata=auth)
except grpc.RpcError as error:
    print("invalid", error.code().name)
`;

describe('a second gRPC implementation (Python grpcio)', () => {
  let cluster: TestCluster;
  let gofer: GoferProcess;
  const python = '/usr/bin/python3';

  beforeAll(async () => {
    cluster = await TestCluster.create('python');
    gofer = await cluster.start('api');
  });
  afterAll(async () => cluster?.destroy());

  it('compiles proto/ and calls the API', () => {
    const out = mkdtempSync(join(tmpdir(), 'gofer-py-'));
    const compile = spawnSync(python, ['-m', 'grpc_tools.protoc', `-I${join(ROOT, 'proto')}`, `--python_out=${out}`,
      `--grpc_python_out=${out}`, 'gofer/v1/gofer.proto', 'gofer/v1/trigger.proto'], { encoding: 'utf8' });
    expect(compile.stderr, 'python3-grpc-tools must be installed (apt-get install python3-grpcio python3-grpc-tools)').toBe('');
    expect(compile.status).toBe(0);
    writeFileSync(join(out, 'gofer', '__init__.py'), '');
    writeFileSync(join(out, 'gofer', 'v1', '__init__.py'), '');
    writeFileSync(join(out, 'client.py'), CLIENT);
    const call = spawnSync(python, [join(out, 'client.py'), out, gofer.grpcAddr, cluster.token], { encoding: 'utf8' });
    expect(call.stderr).toBe('');
    expect(call.stdout.trim().split('\n')).toEqual([
      'anonymous info True',
      'anonymous UNAUTHENTICATED',
      'scheduler docker True',
      'version 1 PIPELINE_STATE_ENABLED',
      'error NOT_FOUND pipeline "missing" not found in namespace "default"',
      'invalid INVALID_ARGUMENT',
    ]);
  });
});
