// `minio` of gofer-test/minio (scripts/test-images.mjs): stands in for the official minio/minio image in
// test/image/compose-up.spec.ts, with s3rver (the S3 server the other tests use). What it honours of
// MinIO: `minio server DIR [--address ADDR] [--console-address ADDR]`, the MINIO_ROOT_USER /
// MINIO_ROOT_PASSWORD account (the only access key accepted), path-style buckets on :9000 and
// /minio/health/live|ready. Not MinIO: s3rver checks the access key id but not SigV4 signatures, and the
// console port answers a one-line page.
import { createServer } from 'node:http';
import S3rver from 's3rver';
import AWSAccount from 's3rver/lib/models/account.js';

function usage(message) {
  console.error(`minio (gofer-test stand-in): ${message}\nusage: minio server DIR [--address ADDR] [--console-address ADDR]`);
  process.exit(2);
}

/** `:9000`, `0.0.0.0:9000` → { host, port }. */
function address(text) {
  const i = text.lastIndexOf(':');
  if (i < 0 || !/^\d+$/.test(text.slice(i + 1))) usage(`bad address "${text}"`);
  return { host: text.slice(0, i) || '0.0.0.0', port: Number(text.slice(i + 1)) };
}

const args = process.argv.slice(2);
if (args[0] !== 'server') usage(args[0] === undefined ? 'no command' : `unsupported command "${args[0]}"`);
let directory;
let api = address(':9000');
let console_ = address(':9001');
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--address') api = address(args[++i] ?? '');
  else if (args[i] === '--console-address') console_ = address(args[++i] ?? '');
  else if (!args[i].startsWith('-') && directory === undefined) directory = args[i];
  else usage(`unsupported argument "${args[i]}"`);
}
if (!directory) usage('no data directory');

// MinIO's defaults when the variables are unset.
const user = process.env.MINIO_ROOT_USER || 'minioadmin';
const password = process.env.MINIO_ROOT_PASSWORD || 'minioadmin';
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
AWSAccount.DUMMY_ACCOUNT.createKeyPair(user, password);

const server = new S3rver({ address: api.host, port: api.port, directory, silent: true, vhostBuckets: false });
await server.run();
// MinIO's health endpoints, which s3rver would take for a bucket named "minio".
const [s3] = server.httpServer.listeners('request');
server.httpServer.removeAllListeners('request');
server.httpServer.on('request', (req, res) => {
  if (/^\/minio\/health\/(live|ready)(\?|$)/.test(req.url ?? '')) res.writeHead(200).end();
  else s3(req, res);
});
const consoleServer = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' }).end('gofer-test/minio: s3rver standing in for MinIO; no console\n');
}).listen(console_.port, console_.host);
console.log(`minio (s3rver stand-in): S3 API on ${api.host}:${api.port}, data in ${directory}, access key ${user}`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    consoleServer.close();
    server.close().then(() => process.exit(0));
  });
}
