// `mc` of gofer-test/minio and gofer-test/mc (scripts/test-images.mjs): the MinIO client commands
// docker-compose.yml runs, for test/image/compose-up.spec.ts: `mc alias set NAME URL KEY SECRET`,
// `mc mb [--ignore-existing] NAME/BUCKET` and `mc ready NAME`. Aliases are kept in ~/.mc/config.json as
// mc keeps them, with mc's built-in `local` (http://localhost:9000) when none is set.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

// The SDK's notice that it will want Node 22 one day: noise in every healthcheck's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const CONFIG = join(process.env.MC_CONFIG_DIR || join(homedir(), '.mc'), 'config.json');

function fail(message, code = 1) {
  console.error(`mc: <ERROR> ${message}`);
  process.exit(code);
}

function readAliases() {
  try {
    return JSON.parse(readFileSync(CONFIG, 'utf8')).aliases;
  } catch {
    return { local: { url: 'http://localhost:9000', accessKey: '', secretKey: '', api: 'S3v4', path: 'auto' } };
  }
}

function alias(name) {
  const found = readAliases()[name];
  if (!found) fail(`no alias "${name}": set it with \`mc alias set ${name} URL ACCESS_KEY SECRET_KEY\``);
  return found;
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'alias' && rest[0] === 'set' && rest.length === 5) {
  const [, name, url, accessKey, secretKey] = rest;
  const aliases = { ...readAliases(), [name]: { url, accessKey, secretKey, api: 'S3v4', path: 'auto' } };
  mkdirSync(dirname(CONFIG), { recursive: true });
  writeFileSync(CONFIG, JSON.stringify({ version: '10', aliases }, null, 2), { mode: 0o600 });
  console.log(`Added \`${name}\` successfully.`);
} else if (command === 'ready' && rest.length === 1) {
  const { url } = alias(rest[0]);
  const ok = await fetch(new URL('/minio/health/ready', url), { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
  if (!ok) fail(`${rest[0]} is not ready`);
  console.log(`The cluster '${rest[0]}' is ready`);
} else if (command === 'mb' && rest.length >= 1) {
  const ignoreExisting = rest.some((a) => a === '--ignore-existing' || a === '-p');
  const target = rest.filter((a) => !a.startsWith('-'));
  if (target.length !== 1 || !target[0].includes('/')) fail('usage: mc mb [--ignore-existing] ALIAS/BUCKET', 2);
  const [name, bucket] = target[0].split('/');
  const { url, accessKey, secretKey } = alias(name);
  const s3 = new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    console.log(`Bucket created successfully \`${target[0]}\`.`);
  } catch (error) {
    const exists = error.name === 'BucketAlreadyOwnedByYou' || error.name === 'BucketAlreadyExists';
    if (!(exists && ignoreExisting)) fail(`Unable to make bucket \`${target[0]}\`: ${error.name}: ${error.message}`);
    console.log(`Bucket \`${target[0]}\` already exists.`);
  } finally {
    s3.destroy();
  }
} else {
  fail(`gofer-test stand-in: unsupported command \`mc ${process.argv.slice(2).join(' ')}\` (only alias set, mb, ready)`, 2);
}
