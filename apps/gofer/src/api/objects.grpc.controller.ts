import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod, GrpcStreamCall, RpcException } from '@nestjs/microservices';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import { assertNamespace, assertRunTokenScope, Authorize, TokenService } from '@gofer/auth';
import { invalidArgument } from '@gofer/errors';
import { ObjectService, type ObjectScope } from '@gofer/object-store';
import { GrpcStatus, OBJECT_CHUNK_BYTES } from '@gofer/proto';
import type * as pb from '@gofer/proto';
import type { Metadata, sendUnaryData, ServerReadableStream, ServerWritableStream } from '@grpc/grpc-js';
import type { Observable } from 'rxjs';
import { pacedStream, whileAuthorized } from './grpc-stream.js';
import { toObjectInfo } from './proto-mapping.js';
import { pipelineRef, runRef } from './request.js';
import { principalOf } from './authorization.guard.js';

/** One message of an upload: which oneof member it carries (proto-loader's `oneofs: true`). */
type UploadMessage<H> = { header?: H | null; chunk?: Uint8Array | null; part?: 'header' | 'chunk' };

/**
 * Reads an upload: its first message must be the header; the rest are content, pulled one message at
 * a time as the store consumes them (grpc-js asks the client for more only then), so an upload of any
 * size holds about one message in memory. Content chunks above OBJECT_CHUNK_BYTES (1 MiB, the proto's
 * limit) are refused. The signal aborts when the client cancels, or when its next message takes longer
 * than `idleTimeoutMs` to arrive: a stalled client would otherwise hold a temporary file (or a multipart
 * upload) and its buffers forever. Either way the store removes what it wrote.
 */
async function readUpload<H>(
  call: ServerReadableStream<UploadMessage<H>, unknown>,
  idleTimeoutMs: number,
): Promise<{ header: H; body: AsyncIterable<Uint8Array>; signal: AbortSignal }> {
  const abort = new AbortController();
  call.once('cancelled', () => abort.abort(new Error('the client cancelled the upload')));
  const messages = call[Symbol.asyncIterator]() as AsyncIterator<UploadMessage<H>>;
  // The client's next message, or the abort. The idle clock runs only while waiting for the client, not
  // while the store is busy with the previous chunk.
  const receive = () =>
    new Promise<IteratorResult<UploadMessage<H>>>((resolve, reject) => {
      const onAbort = () => reject(abort.signal.reason);
      if (abort.signal.aborted) return onAbort();
      abort.signal.addEventListener('abort', onAbort, { once: true });
      const idle = setTimeout(() => abort.abort(uploadIdle(idleTimeoutMs)), idleTimeoutMs).unref();
      messages
        .next()
        .then(resolve, reject)
        .finally(() => {
          clearTimeout(idle);
          abort.signal.removeEventListener('abort', onAbort);
        });
    });
  const first = await receive();
  const part = (message: UploadMessage<H>) => message.part ?? (message.header ? 'header' : message.chunk ? 'chunk' : undefined);
  if (first.done || part(first.value) !== 'header') {
    throw invalidArgument('the first message of an upload must carry the header (namespace, pipeline, key), then the content in chunks');
  }
  const body = (async function* () {
    let index = 1;
    for (let next = await receive(); !next.done; next = await receive(), index++) {
      if (part(next.value) !== 'chunk') throw invalidArgument(`upload message ${index} must carry a chunk of content (only the first carries the header)`);
      const chunk = next.value.chunk ?? new Uint8Array();
      if (chunk.byteLength > OBJECT_CHUNK_BYTES) {
        throw invalidArgument(
          `upload message ${index} carries ${chunk.byteLength} bytes of content, more than the limit of ${OBJECT_CHUNK_BYTES} ` +
            `bytes (${OBJECT_CHUNK_BYTES / 1024 / 1024} MiB) per chunk; nothing was stored: send the content in smaller chunks`,
        );
      }
      yield chunk;
    }
    if (abort.signal.aborted) throw abort.signal.reason;
  })();
  return { header: first.value.header!, body, signal: abort.signal };
}

/** Why an upload whose client went quiet was aborted (the client sees DEADLINE_EXCEEDED). */
function uploadIdle(idleTimeoutMs: number): RpcException {
  const message =
    `the upload was aborted: no message arrived for ${idleTimeoutMs / 1000}s (GOFER_UPLOAD_IDLE_TIMEOUT); nothing was ` +
    'stored: send the content without pausing, or raise GOFER_UPLOAD_IDLE_TIMEOUT on the server';
  return new RpcException({ code: GrpcStatus.DEADLINE_EXCEEDED, message, details: message });
}

@Controller()
export class ObjectsGrpcController {
  constructor(
    private readonly objects: ObjectService,
    private readonly tokens: TokenService,
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
  ) {}

  /**
   * Uploads are client-streaming: they answer through grpc-js' callback, and an error they throw is
   * answered through it by RpcErrorFilter (rpc.gateway.ts). The namespace is in the first message, so
   * the handler checks it (`checked-by-handler`).
   */
  @Authorize('checked-by-handler')
  @GrpcStreamCall('Gofer', 'PutPipelineObject')
  async putPipelineObject(
    call: ServerReadableStream<pb.PutPipelineObjectRequest, pb.PutPipelineObjectResponse>,
    callback: sendUnaryData<pb.PutPipelineObjectResponse>,
  ): Promise<void> {
    const { header, body, signal } = await readUpload<pb.PutPipelineObjectHeader>(call, this.config.uploadIdleTimeoutMs);
    const ref = pipelineRef(header, header.pipelineId);
    assertNamespace(principalOf(call.metadata), ref.namespaceId);
    assertRunTokenScope(principalOf(call.metadata), 'putPipelineObject', ref);
    const { object, evicted } = await this.objects.put(ref, objectKey(header.key), body, signal);
    callback(null, { object: toObjectInfo(object), evicted });
  }

  @Authorize('checked-by-handler')
  @GrpcStreamCall('Gofer', 'PutRunObject')
  async putRunObject(
    call: ServerReadableStream<pb.PutRunObjectRequest, pb.PutRunObjectResponse>,
    callback: sendUnaryData<pb.PutRunObjectResponse>,
  ): Promise<void> {
    const { header, body, signal } = await readUpload<pb.PutRunObjectHeader>(call, this.config.uploadIdleTimeoutMs);
    const ref = runRef(header);
    assertNamespace(principalOf(call.metadata), ref.namespaceId);
    assertRunTokenScope(principalOf(call.metadata), 'putRunObject', ref);
    const { object } = await this.objects.put(ref, objectKey(header.key), body, signal);
    callback(null, { object: toObjectInfo(object) });
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'GetPipelineObject')
  async getPipelineObject(
    request: pb.GetPipelineObjectRequest,
    metadata: Metadata,
    call: ServerWritableStream<unknown, unknown>,
  ): Promise<Observable<pb.GetPipelineObjectResponse>> {
    return this.download(pipelineRef(request, request.pipelineId), objectKey(request.key), metadata, call);
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'GetRunObject')
  async getRunObject(
    request: pb.GetRunObjectRequest,
    metadata: Metadata,
    call: ServerWritableStream<unknown, unknown>,
  ): Promise<Observable<pb.GetRunObjectResponse>> {
    return this.download(runRef(request), objectKey(request.key), metadata, call);
  }

  /**
   * The object's info, then its content as the client reads it (paced: a slow reader holds no backlog);
   * a download outlived by its token ends, as a follow does.
   */
  private async download(scope: ObjectScope, key: string, metadata: Metadata, call: ServerWritableStream<unknown, unknown>) {
    const { object, body } = await this.objects.get(scope, key);
    const stream = pacedStream(call, async function* (signal) {
      signal.addEventListener('abort', () => body.destroy(), { once: true });
      yield { info: toObjectInfo(object) };
      for await (const chunk of body) yield { chunk: chunk as Buffer };
    });
    return whileAuthorized(stream, this.tokens, metadata);
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'ListPipelineObjects')
  async listPipelineObjects(request: pb.ListPipelineObjectsRequest): Promise<pb.ListPipelineObjectsResponse> {
    return { objects: (await this.objects.list(pipelineRef(request, request.pipelineId))).map(toObjectInfo) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'ListRunObjects')
  async listRunObjects(request: pb.ListRunObjectsRequest): Promise<pb.ListRunObjectsResponse> {
    return { objects: (await this.objects.list(runRef(request))).map(toObjectInfo) };
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'DeletePipelineObject')
  async deletePipelineObject(request: pb.DeletePipelineObjectRequest): Promise<pb.DeletePipelineObjectResponse> {
    await this.objects.delete(pipelineRef(request, request.pipelineId), objectKey(request.key));
    return {};
  }

  @Authorize('namespace')
  @GrpcMethod('Gofer', 'DeleteRunObject')
  async deleteRunObject(request: pb.DeleteRunObjectRequest): Promise<pb.DeleteRunObjectResponse> {
    await this.objects.delete(runRef(request), objectKey(request.key));
    return {};
  }
}

function objectKey(key: string | undefined): string {
  if (!key) throw invalidArgument('key: required');
  const problem = ObjectService.keyProblem(key);
  if (problem) throw invalidArgument(problem);
  return key;
}
