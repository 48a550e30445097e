// A minimal image registry on 127.0.0.1 (Docker Registry HTTP API v2: /v2/, manifests, blobs) so the real
// engine can pull: no registry is reachable from the test machines. It serves the images it is given,
// answers MANIFEST_UNKNOWN for everything else, and can require Basic auth, recording what it was sent.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

interface Blob {
  mediaType: string;
  body: Buffer;
  digest: string;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the prefix of image references served here. */
  readonly host: string;
  /** Every request the engine made, in order. */
  readonly requests: Array<{ method: string; url: string; authorization?: string }>;
  /** Serves `repository:tag` as a one-layer linux/amd64 image whose filesystem is `layerTar`. */
  addImage(repository: string, tag: string, layerTar: Buffer, env?: string[]): void;
  close(): Promise<void>;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export async function startTestRegistry(auth?: { user: string; pass: string }): Promise<TestRegistry> {
  const blobs = new Map<string, Blob>();
  const manifests = new Map<string, Blob>();
  const requests: TestRegistry['requests'] = [];
  const expected = auth && `Basic ${Buffer.from(`${auth.user}:${auth.pass}`).toString('base64')}`;

  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    const headers = { 'Docker-Distribution-API-Version': 'registry/2.0' };
    const error = (status: number, code: string, message: string) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code, message }] }));
    };
    if (expected && req.headers.authorization !== expected) {
      res.setHeader('WWW-Authenticate', 'Basic realm="gofer-test"');
      return error(401, 'UNAUTHORIZED', 'authentication required');
    }
    const url = new URL(req.url ?? '/', 'http://registry');
    if (url.pathname === '/v2/') {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
      return res.end('{}');
    }
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    const item = match && (match[2] === 'manifests' ? manifests.get(`${match[1]}:${match[3]}`) ?? manifests.get(`${match[1]}@${match[3]}`) : blobs.get(match[3]!));
    if (!item) return error(404, match?.[2] === 'blobs' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', 'manifest unknown');
    res.writeHead(200, {
      ...headers,
      'Content-Type': item.mediaType,
      'Content-Length': item.body.length,
      'Docker-Content-Digest': item.digest,
    });
    res.end(req.method === 'HEAD' ? undefined : item.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    host,
    requests,
    addImage(repository, tag, layerTar, env = ['PATH=/bin']) {
      const layer = gzipSync(layerTar);
      const config = Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: { Env: env },
          rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
        }),
      );
      for (const body of [layer, config]) blobs.set(sha256(body), { mediaType: 'application/octet-stream', body, digest: sha256(body) });
      const manifestMediaType = 'application/vnd.docker.distribution.manifest.v2+json';
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: manifestMediaType,
          config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha256(config) },
          layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha256(layer) }],
        }),
      );
      const entry = { mediaType: manifestMediaType, body: manifest, digest: sha256(manifest) };
      manifests.set(`${repository}:${tag}`, entry);
      manifests.set(`${repository}@${entry.digest}`, entry);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
