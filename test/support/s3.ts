// An in-process S3 endpoint for the integration tests: s3rver (a small S3-compatible server that keeps
// objects in a directory), on a free loopback port, with one uniquely named bucket.
//
// How @aws-sdk/client-s3 v3 talks to it:
// - Path-style addressing (`forcePathStyle: true`): the endpoint is an IP, so there is no
//   `bucket.host` name to resolve. (s3rver's own virtual-host matching is turned off as well.)
// - Credentials S3RVER / S3RVER: s3rver's one built-in account. It checks that the access key id
//   exists but does not verify SigV4 signatures, so a wrong secret goes unnoticed; a wrong access key id
//   is refused with 403 InvalidAccessKeyId (what the "denied" tests use).
// - Checksums: since early 2025 the SDK adds CRC32 checksums by default, and sends a body of unknown
//   length with aws-chunked encoding plus a checksum trailer. s3rver ignores x-amz-checksum-* headers but
//   cannot decode aws-chunked (it fails, or would store the chunk framing as data). Bodies of known length
//   (Buffers, which is all lib-storage's Upload sends) work with either setting; S3ObjectStore uses
//   `requestChecksumCalculation: 'WHEN_REQUIRED'` anyway (see there why), so no test depends on this.
// - s3rver 3.7.1 does not implement AbortMultipartUpload (it answers 405 MethodNotAllowed) nor
//   ListMultipartUploads. This helper answers AbortMultipartUpload itself, the way S3 does (drop the
//   upload's parts, 204; 404 NoSuchUpload for an unknown id), and `pendingUploads()` counts uploads left
//   on disk, so tests can check that a failed put leaves no parts behind.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The parts of s3rver's (untyped, CommonJS) API used here. */
interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer: Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  vhostBuckets: boolean;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

/** A running s3rver with one bucket; see the file comment for how to connect. */
export interface TestS3 {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** A bucket that exists, unique to this server. */
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Multipart uploads of `bucket` started and neither completed nor aborted. */
  pendingUploads(): Promise<number>;
  /** Stops the server (dropping kept-alive client connections) and deletes its directory. */
  close(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 (free port, temporary directory, silent) with a uniquely named bucket. */
export async function startS3(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'gofer-s3rver-'));
  const bucket = `gofer-test-${randomBytes(4).toString('hex')}`;
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();

  // Where s3rver's filesystem store keeps a bucket's multipart uploads, one directory per upload id.
  const uploadsOf = (name: string) => join(directory, name, '._S3rver_uploads');

  const [s3rverHandler] = server.httpServer.listeners('request') as Array<
    (req: IncomingMessage, res: ServerResponse) => void
  >;
  server.httpServer.removeAllListeners('request');
  server.httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const uploadId = url.searchParams.get('uploadId');
    if (req.method !== 'DELETE' || uploadId === null) return s3rverHandler(req, res);
    const name = decodeURIComponent(url.pathname.split('/')[1] ?? '');
    void abortMultipartUpload(uploadsOf(name), uploadId, res);
  });

  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    region: 'us-east-1',
    pendingUploads: async () => (await readdir(uploadsOf(bucket)).catch(() => [])).length,
    close: async () => {
      // SDK clients keep connections alive; without this, close() waits for them to time out.
      server.httpServer.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function abortMultipartUpload(uploads: string, uploadId: string, res: ServerResponse): Promise<void> {
  const path = /^[0-9a-f]+$/.test(uploadId) ? join(uploads, uploadId) : undefined;
  const exists = path !== undefined && (await stat(path).catch(() => undefined))?.isDirectory();
  if (path !== undefined && exists) {
    await rm(path, { recursive: true, force: true });
    res.writeHead(204).end();
    return;
  }
  res
    .writeHead(404, { 'content-type': 'application/xml' })
    .end(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code>' +
        '<Message>The specified upload does not exist.</Message></Error>',
    );
}
