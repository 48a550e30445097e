#!/usr/bin/env node
// Builds the local images the integration tests run, because no registry is reachable in CI or on the
// build machines (see docs/environment.md). Idempotent: an image that already exists is left alone unless
// `--force` is given.
//
//   busybox:latest      Debian's busybox-static with a symlink per applet (a real busybox image is fine too)
//   gofer-test/node:20  this machine's node binary, the libraries it links, and busybox; the base image for
//                       trigger/notifier Dockerfiles in CI (`--build-arg NODE_IMAGE=gofer-test/node:20`)
//   gofer-test/postgres:15  Debian's PostgreSQL 15 (/usr/lib/postgresql/15), its libraries, tzdata and busybox;
//                       stands in for the official `postgres` image: same PGDATA volume, POSTGRES_* variables,
//                       first-start initdb, root entry point that drops to uid 999, STOPSIGNAL SIGINT
//                       (scripts/dev-service-images/postgres-entrypoint.sh)
//   gofer-test/redis:7  this machine's redis-server and redis-cli, their libraries and busybox; stands in for the
//                       official `redis` image: /data volume and workdir, redis-server as uid 999, protected
//                       mode off (scripts/dev-service-images/redis-entrypoint.sh)
//
//   gofer-test/nginx:latest  Debian's nginx (1.22), openssl and curl, their libraries and busybox; stands in for
//                       the official `nginx` image docker-compose.yml runs: /etc/nginx/conf.d/*.conf inside the
//                       http block, `nginx -g 'daemon off;'`, logs to stdout/stderr, user nginx (uid 101),
//                       STOPSIGNAL SIGQUIT (scripts/compose-images/nginx-entrypoint.sh says what differs)
//   gofer-test/minio:latest, gofer-test/mc:latest  the Node image plus s3rver as `minio server DIR` and a MinIO
//                       client as `mc` (alias set, mb, ready), for the minio and minio-bucket services
//                       (scripts/compose-images/minio.mjs, mc.mjs)
//
// The stand-ins carry a content label (entry point, Dockerfile, server version or bundle) and are rebuilt
// when it changes.
//
// Usage: node scripts/test-images.mjs [--force]
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const BUSYBOX_IMAGE = 'busybox:latest';
const NODE_IMAGE = 'gofer-test/node:20';
// Node plus the gofer CLI (one bundled file), for tasks that call Gofer from inside their container.
const CLI_IMAGE = 'gofer-test/cli:latest';
// Stand-ins for the official images `gofer service start` runs when no Postgres or Redis is configured.
const POSTGRES_IMAGE = 'gofer-test/postgres:15';
const POSTGRES_HOME = '/usr/lib/postgresql/15';
const REDIS_IMAGE = 'gofer-test/redis:7';
// The official images' postgres and redis users.
const SERVICE_UID = 999;
// Stand-ins for the other images docker-compose.yml runs (test/image/compose-up.spec.ts).
const NGINX_IMAGE = 'gofer-test/nginx:latest';
const MINIO_IMAGE = 'gofer-test/minio:latest';
const MC_IMAGE = 'gofer-test/mc:latest';
// The official nginx image's nginx user.
const NGINX_UID = 101;
const COMPOSE_IMAGES = join(import.meta.dirname, 'compose-images');
const ROOT = join(import.meta.dirname, '..');
const force = process.argv.slice(2).includes('--force');

class UsageError extends Error {}

function run(cmd, args, options = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

function checkDocker() {
  try {
    run('docker', ['version', '--format', '{{.Server.APIVersion}}']);
  } catch (err) {
    const reason = err.code === 'ENOENT' ? 'the docker CLI is not installed' : (err.stderr || err.message).trim();
    throw new UsageError(
      `cannot reach the Docker engine: ${reason}\n` +
        `Start dockerd (e.g. \`dockerd --bridge=none --iptables=false &\`) and check that ${process.env.DOCKER_HOST || '/var/run/docker.sock'} answers.`,
    );
  }
}

function imageId(name) {
  try {
    return run('docker', ['image', 'inspect', '--format', '{{.Id}}', name]).trim();
  } catch {
    return undefined;
  }
}

function findBusybox() {
  for (const candidate of ['/bin/busybox', '/usr/bin/busybox']) {
    if (existsSync(candidate) && isStatic(candidate)) return candidate;
  }
  if (process.getuid?.() !== 0) {
    throw new UsageError('busybox-static is not installed: run `sudo apt-get install -y busybox-static` (or run this script as root)');
  }
  console.log('installing busybox-static …');
  execFileSync('apt-get', ['install', '-y', 'busybox-static'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (!existsSync('/bin/busybox')) throw new UsageError('apt-get installed busybox-static but /bin/busybox is missing');
  return '/bin/busybox';
}

// A dynamically linked busybox (Debian's `busybox` package) would not run inside an image without its libc.
function isStatic(path) {
  try {
    return /not a dynamic executable|statically linked/.test(run('ldd', [path]));
  } catch (err) {
    return /not a dynamic executable/.test(`${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

/** Lays out bin/busybox, a symlink per applet, /tmp and a minimal /etc under `root`. */
function addBusybox(root, busybox) {
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(busybox, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const applet of run(busybox, ['--list']).split('\n').map((s) => s.trim())) {
    if (applet === '' || applet === 'busybox' || applet.includes('/')) continue;
    symlinkSync('busybox', join(root, 'bin', applet));
  }
  mkdirSync(join(root, 'tmp'));
  chmodSync(join(root, 'tmp'), 0o1777);
  // `whoami`, `id` and friends look users up here.
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  mkdirSync(join(root, 'root'), { mode: 0o700 });
}

/** Copies every library ldd lists for `binaries` (including the dynamic loader) under `root`. */
function addLibraries(root, binaries) {
  const libs = new Set();
  for (const binary of binaries) {
    for (const line of run('ldd', [binary]).split('\n')) {
      // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)";
      // linux-vdso has no file.
      const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
      if (match) libs.add(match[1]);
    }
  }
  for (const lib of libs) {
    // Keep the path the loader asks for; copy the file behind any symlink.
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    copyFileSync(realpathSync(lib), join(root, lib));
    chmodSync(join(root, lib), 0o755);
  }
}

/** Copies the node binary and every library it links under `root`. */
function addNode(root) {
  const node = realpathSync(run('sh', ['-c', 'command -v node']).trim());
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  copyFileSync(node, join(root, 'usr/local/bin/node'));
  chmodSync(join(root, 'usr/local/bin/node'), 0o755);
  addLibraries(root, [node]);
  return run(node, ['--version']).trim();
}

/** Copies a directory tree to the same path under `root`, symlinks and modes as they are. */
function copyTree(root, path) {
  mkdirSync(join(root, dirname(path)), { recursive: true });
  run('cp', ['-a', path, join(root, path)]);
}

/** Adds the official images' service user (uid and gid 999) to the /etc/passwd and /etc/group addBusybox wrote. */
function addServiceUser(root, name, home) {
  appendFileSync(join(root, 'etc/passwd'), `${name}:x:${SERVICE_UID}:${SERVICE_UID}:${name}:${home}:/bin/sh\n`);
  appendFileSync(join(root, 'etc/group'), `${name}:x:${SERVICE_UID}:\n`);
}

function addEntrypoint(root, script) {
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  copyFileSync(script, join(root, 'usr/local/bin/docker-entrypoint.sh'));
  chmodSync(join(root, 'usr/local/bin/docker-entrypoint.sh'), 0o755);
}

function findPostgres() {
  if (!existsSync(join(POSTGRES_HOME, 'bin/postgres'))) {
    throw new UsageError(`${POSTGRES_HOME}/bin/postgres is missing: run \`sudo apt-get install -y postgresql-15\``);
  }
  return run(join(POSTGRES_HOME, 'bin/postgres'), ['--version']).trim();
}

function findRedis() {
  const server = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((path) => existsSync(path));
  if (!server) throw new UsageError('redis-server is missing: run `sudo apt-get install -y redis-server`');
  const cli = ['/usr/bin/redis-cli', '/usr/local/bin/redis-cli'].find((path) => existsSync(path));
  return { server, cli, version: run(server, ['--version']).trim() };
}

/** Lays out PostgreSQL where Debian installs it, with a data directory and socket directory for uid 999. */
function layoutPostgres(root, busybox, entrypoint) {
  addBusybox(root, busybox);
  addServiceUser(root, 'postgres', '/var/lib/postgresql');
  copyTree(root, join(POSTGRES_HOME, 'bin'));
  copyTree(root, join(POSTGRES_HOME, 'lib'));
  // JIT needs libLLVM (over 100 MB); without llvmjit.so the server runs with jit unavailable.
  for (const name of ['bitcode', 'llvmjit.so', 'llvmjit_types.bc']) rmSync(join(root, POSTGRES_HOME, 'lib', name), { recursive: true, force: true });
  const share = '/usr/share/postgresql/15';
  copyTree(root, share);
  rmSync(join(root, share, 'man'), { recursive: true, force: true });
  // As in the official image: initdb writes this sample into postgresql.conf, so servers listen on all addresses.
  const sample = join(root, share, 'postgresql.conf.sample');
  writeFileSync(sample, readFileSync(sample, 'utf8').replace(/^#?listen_addresses\s*=\s*\S+/m, "listen_addresses = '*'"));
  // Debian builds PostgreSQL against the system's tzdata; initdb takes the zone /etc/localtime names.
  copyTree(root, '/usr/share/zoneinfo');
  symlinkSync('/usr/share/zoneinfo/Etc/UTC', join(root, 'etc/localtime'));
  const binaries = readdirSync(join(root, POSTGRES_HOME, 'bin'))
    .map((name) => join(POSTGRES_HOME, 'bin', name))
    .filter((path) => statSync(path).isFile());
  const modules = readdirSync(join(root, POSTGRES_HOME, 'lib'))
    .filter((name) => name.endsWith('.so'))
    .map((name) => join(POSTGRES_HOME, 'lib', name));
  addLibraries(root, [...binaries, ...modules]);
  addEntrypoint(root, entrypoint);
  // Mode 1777 as in the official image, so `--user` runs work too; the entry point tightens it to 0700.
  mkdirSync(join(root, 'var/lib/postgresql/data'), { recursive: true });
  chmodSync(join(root, 'var/lib/postgresql/data'), 0o1777);
  mkdirSync(join(root, 'var/run/postgresql'), { recursive: true });
  chmodSync(join(root, 'var/run/postgresql'), 0o3777);
}

function layoutRedis(root, busybox, redis, entrypoint) {
  addBusybox(root, busybox);
  addServiceUser(root, 'redis', '/data');
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  // Debian's redis-server is a symlink to redis-check-rdb, which picks its mode from argv[0]: copy it by name.
  const binaries = [[redis.server, 'redis-server'], ...(redis.cli ? [[redis.cli, 'redis-cli']] : [])];
  for (const [path, name] of binaries) {
    copyFileSync(realpathSync(path), join(root, 'usr/local/bin', name));
    chmodSync(join(root, 'usr/local/bin', name), 0o755);
  }
  addLibraries(root, binaries.map(([path]) => path));
  addEntrypoint(root, entrypoint);
  mkdirSync(join(root, 'data'));
}

/** Lays out Debian's nginx where the nginx image keeps its files, with the openssl and curl compose runs in it. */
function layoutNginx(root, busybox) {
  addBusybox(root, busybox);
  chmodSync(root, 0o755);
  appendFileSync(join(root, 'etc/passwd'), `nginx:x:${NGINX_UID}:${NGINX_UID}:nginx:/nonexistent:/bin/false\n`);
  appendFileSync(join(root, 'etc/group'), `nginx:x:${NGINX_UID}:\n`);
  const binaries = ['/usr/sbin/nginx', '/usr/bin/openssl', '/usr/bin/curl'];
  for (const binary of binaries) {
    mkdirSync(join(root, dirname(binary)), { recursive: true });
    copyFileSync(realpathSync(binary), join(root, binary));
    chmodSync(join(root, binary), 0o755);
  }
  addLibraries(root, binaries);
  mkdirSync(join(root, 'etc/nginx/conf.d'), { recursive: true });
  copyFileSync(join(COMPOSE_IMAGES, 'nginx.conf'), join(root, 'etc/nginx/nginx.conf'));
  copyFileSync(join(COMPOSE_IMAGES, 'default.conf'), join(root, 'etc/nginx/conf.d/default.conf'));
  copyFileSync('/etc/nginx/mime.types', join(root, 'etc/nginx/mime.types'));
  // `openssl req` reads its defaults from here (Debian's path, a link to /etc/ssl).
  mkdirSync(join(root, 'etc/ssl'), { recursive: true });
  copyFileSync('/etc/ssl/openssl.cnf', join(root, 'etc/ssl/openssl.cnf'));
  mkdirSync(join(root, 'usr/lib/ssl'), { recursive: true });
  symlinkSync('/etc/ssl/openssl.cnf', join(root, 'usr/lib/ssl/openssl.cnf'));
  // As in the official image: logs go to the container's output.
  mkdirSync(join(root, 'var/log/nginx'), { recursive: true });
  symlinkSync('/dev/stdout', join(root, 'var/log/nginx/access.log'));
  symlinkSync('/dev/stderr', join(root, 'var/log/nginx/error.log'));
  // Debian's build keeps its temporary files under /var/lib/nginx; /run holds the pid file and conf.d's copy.
  for (const dir of ['var/lib/nginx', 'var/lock', 'run']) mkdirSync(join(root, dir), { recursive: true });
  mkdirSync(join(root, 'usr/share/nginx/html'), { recursive: true });
  writeFileSync(join(root, 'usr/share/nginx/html/index.html'), '<!doctype html><title>gofer-test/nginx</title><p>nginx stand-in\n');
  copyFileSync(join(COMPOSE_IMAGES, 'nginx-entrypoint.sh'), join(root, 'docker-entrypoint.sh'));
  chmodSync(join(root, 'docker-entrypoint.sh'), 0o755);
}

/** Bundles scripts/compose-images/<name>.mjs and its dependencies into one ESM file. */
function bundleScript(name) {
  return bundle(join(COMPOSE_IMAGES, `${name}.mjs`));
}

/** Puts each bundle under /opt/gofer-test with a command of its name in /usr/local/bin. */
function layoutScripts(root, bundles) {
  chmodSync(root, 0o755);
  mkdirSync(join(root, 'opt/gofer-test'), { recursive: true });
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  for (const [name, bundle] of bundles) {
    writeFileSync(join(root, 'opt/gofer-test', `${name}.mjs`), bundle);
    writeFileSync(join(root, 'usr/local/bin', name), `#!/bin/sh\nexec /usr/local/bin/node /opt/gofer-test/${name}.mjs "$@"\n`);
    chmodSync(join(root, 'usr/local/bin', name), 0o755);
  }
}

/** The stand-ins of the nginx, MinIO and MinIO client images docker-compose.yml runs. */
async function buildComposeImages(getBusybox) {
  for (const tool of ['nginx', 'openssl', 'curl']) {
    try {
      run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      throw new UsageError(`${tool} is missing: run \`sudo apt-get install -y nginx openssl curl\``);
    }
  }
  const versions = [
    // nginx prints its version on stderr.
    run('sh', ['-c', 'nginx -v 2>&1']).trim(),
    run('openssl', ['version']).trim(),
    run('curl', ['--version']).split('\n')[0],
  ].join('\n');
  const nginxDockerfile = [
    'FROM scratch',
    'ADD rootfs.tar /',
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'ENTRYPOINT ["/docker-entrypoint.sh"]',
    'EXPOSE 80',
    // Graceful: finish the requests in flight, as the official image stops.
    'STOPSIGNAL SIGQUIT',
    'CMD ["nginx", "-g", "daemon off;"]',
    '',
  ].join('\n');
  const nginxFiles = ['nginx.conf', 'default.conf', 'nginx-entrypoint.sh'].map((f) => readFileSync(join(COMPOSE_IMAGES, f)));
  await build(NGINX_IMAGE, (root) => {
    layoutNginx(root, getBusybox());
    return versions.split('\n')[0];
  }, undefined, { dockerfile: nginxDockerfile, hash: contentHash(nginxDockerfile, ...nginxFiles, versions) });

  const base = imageId(NODE_IMAGE);
  const minio = await bundleScript('minio');
  const mc = await bundleScript('mc');
  const minioDockerfile = [
    `FROM ${NODE_IMAGE}`,
    'ADD rootfs.tar /',
    'VOLUME /data',
    'EXPOSE 9000 9001',
    'ENTRYPOINT ["minio"]',
    'CMD ["server", "/data"]',
    '',
  ].join('\n');
  // The official minio image carries mc too (its healthcheck is `mc ready local`).
  await build(MINIO_IMAGE, (root) => layoutScripts(root, [['minio', minio], ['mc', mc]]), undefined, {
    dockerfile: minioDockerfile,
    hash: contentHash(minioDockerfile, base, minio, mc),
  });
  const mcDockerfile = [`FROM ${NODE_IMAGE}`, 'ADD rootfs.tar /', 'ENTRYPOINT ["mc"]', ''].join('\n');
  await build(MC_IMAGE, (root) => layoutScripts(root, [['mc', mc]]), undefined, {
    dockerfile: mcDockerfile,
    hash: contentHash(mcDockerfile, base, mc),
  });
}

function dockerImport(root, image, env, hash) {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '-c', '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const changes = ['-c', `ENV ${env}`, ...(hash ? ['-c', `LABEL gofer.content=${hash}`] : [])];
    const importer = spawn('docker', ['import', ...changes, '-', image], { stdio: ['pipe', 'pipe', 'pipe'] });
    tar.stdout.pipe(importer.stdin);
    let stderr = '';
    tar.stderr.on('data', (d) => (stderr += d));
    importer.stderr.on('data', (d) => (stderr += d));
    let tarCode;
    tar.on('close', (code) => (tarCode = code));
    importer.on('error', reject);
    importer.on('close', (code) => {
      if (code === 0 && tarCode === 0) resolve();
      else reject(new Error(`importing ${image} failed (tar exit ${tarCode}, docker import exit ${code}): ${stderr.trim()}`));
    });
  });
}

/**
 * Bundles the built CLI (apps/gofer/dist, so run `npm run build` first) into one ESM file. The service
 * side (`gofer service start` …) is left out: the image only runs client commands.
 */
async function bundleCli() {
  const entry = join(ROOT, 'apps/gofer/dist/main.js');
  if (!existsSync(entry)) throw new UsageError(`${entry} is missing: run \`npm run build\` first`);
  // The service side stays out of the bundle.
  return bundle(entry, [{
    name: 'cli-only',
    setup(b) {
      b.onResolve({ filter: /\/service\/[a-z-]+\.js$/ }, (args) => ({ path: args.path, external: true }));
    },
  }]);
}

/** `entry` and its dependencies as one ESM file for Node 20 (esbuild), with `plugins`. */
async function bundle(entry, plugins = []) {
  const { build: esbuild } = await import('esbuild');
  const result = await esbuild({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    // CommonJS dependencies (grpc-js) call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __goferRequire } from 'node:module'; const require = __goferRequire(import.meta.url);" },
    plugins,
  });
  return Buffer.from(result.outputFiles[0].contents);
}

/** The image's content hash, kept as a label so an unchanged image is not rebuilt. */
function imageLabel(name, label) {
  try {
    return run('docker', ['image', 'inspect', '--format', `{{index .Config.Labels "${label}"}}`, name]).trim();
  } catch {
    return undefined;
  }
}

/**
 * Builds `image` from `root` with a Dockerfile (for what `docker import` cannot set: STOPSIGNAL, files not
 * owned by root): `root` goes in as rootfs.tar, root-owned except `owned`, which belong to uid 999.
 */
function dockerBuild(root, image, dockerfile, owned, hash) {
  const context = mkdtempSync(join(tmpdir(), 'gofer-image-context-'));
  try {
    const tar = join(context, 'rootfs.tar');
    const common = ['-C', root, '--numeric-owner'];
    run('tar', [...common, '--owner=0', '--group=0', ...owned.map((path) => `--exclude=.${path}`), '-cf', tar, '.']);
    run('tar', [...common, `--owner=${SERVICE_UID}`, `--group=${SERVICE_UID}`, '-rf', tar, ...owned.map((path) => `.${path}`)]);
    writeFileSync(join(context, 'Dockerfile'), dockerfile);
    // No RUN step, so the legacy builder needs neither a network nor a registry.
    run('docker', ['build', '-q', '--label', `gofer.content=${hash}`, '-t', image, context]);
  } catch (error) {
    throw new Error(`docker build of ${image} failed: ${(error.stderr || error.message).trim()}`);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

async function build(image, layout, env, options = {}) {
  const previous = imageId(image);
  if (!force && previous && (options.hash === undefined || imageLabel(image, 'gofer.content') === options.hash)) {
    console.log(`${image}: present`);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'gofer-image-'));
  try {
    const detail = layout(root);
    if (options.dockerfile) dockerBuild(root, image, options.dockerfile, options.owned ?? [], options.hash);
    else await dockerImport(root, image, env, options.hash);
    // With --force the old image is left untagged; drop it unless a container still uses it.
    if (previous && previous !== imageId(image)) {
      try {
        run('docker', ['image', 'rm', previous]);
      } catch {}
    }
    console.log(`${image}: built${detail ? ` (${detail})` : ''}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The official-image stand-ins; a Dockerfile that changes (or a new server version) rebuilds them. */
async function buildServiceImages(getBusybox) {
  const postgresVersion = findPostgres();
  const postgresEntrypoint = join(ROOT, 'scripts/dev-service-images/postgres-entrypoint.sh');
  const postgresDockerfile = [
    'FROM scratch',
    'ADD rootfs.tar /',
    `ENV PATH=${POSTGRES_HOME}/bin:/usr/local/bin:/bin PG_MAJOR=15 PGDATA=/var/lib/postgresql/data`,
    'VOLUME /var/lib/postgresql/data',
    'ENTRYPOINT ["docker-entrypoint.sh"]',
    // Fast shutdown: SIGTERM would wait for every client to disconnect.
    'STOPSIGNAL SIGINT',
    'EXPOSE 5432',
    'CMD ["postgres"]',
    '',
  ].join('\n');
  await build(POSTGRES_IMAGE, (root) => {
    layoutPostgres(root, getBusybox(), postgresEntrypoint);
    return postgresVersion;
  }, undefined, {
    dockerfile: postgresDockerfile,
    owned: ['/var/lib/postgresql', '/var/run/postgresql'],
    hash: contentHash(postgresDockerfile, readFileSync(postgresEntrypoint), postgresVersion),
  });

  const redis = findRedis();
  const redisEntrypoint = join(ROOT, 'scripts/dev-service-images/redis-entrypoint.sh');
  const redisDockerfile = [
    'FROM scratch',
    'ADD rootfs.tar /',
    'ENV PATH=/usr/local/bin:/bin',
    'VOLUME /data',
    'WORKDIR /data',
    'ENTRYPOINT ["docker-entrypoint.sh"]',
    'EXPOSE 6379',
    'CMD ["redis-server"]',
    '',
  ].join('\n');
  await build(REDIS_IMAGE, (root) => {
    layoutRedis(root, getBusybox(), redis, redisEntrypoint);
    return redis.version;
  }, undefined, {
    dockerfile: redisDockerfile,
    owned: ['/data'],
    hash: contentHash(redisDockerfile, readFileSync(redisEntrypoint), redis.version, redis.cli ?? ''),
  });
}

function contentHash(...parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

async function main() {
  checkDocker();
  let busybox;
  const getBusybox = () => (busybox ??= findBusybox());
  await build(BUSYBOX_IMAGE, (root) => {
    const bb = getBusybox();
    addBusybox(root, bb);
    return `from ${bb}`;
  }, 'PATH=/bin');
  await build(NODE_IMAGE, (root) => {
    addBusybox(root, getBusybox());
    return `node ${addNode(root)}`;
  }, 'PATH=/usr/local/bin:/bin');
  const bundle = await bundleCli();
  const protos = ['gofer.proto', 'trigger.proto'].map((file) => [file, readFileSync(join(ROOT, 'proto/gofer/v1', file))]);
  const hash = createHash('sha256').update(bundle).update(Buffer.concat(protos.map(([, text]) => text))).update(readFileSync(join(ROOT, 'package.json'))).digest('hex').slice(0, 16);
  await build(CLI_IMAGE, (root) => {
    addBusybox(root, getBusybox());
    const version = addNode(root);
    // The client finds proto/ three levels above its own file (libs/proto/dist in the repository).
    mkdirSync(join(root, 'opt/gofer/lib/cli/dist'), { recursive: true });
    writeFileSync(join(root, 'opt/gofer/lib/cli/dist/gofer.mjs'), bundle);
    mkdirSync(join(root, 'opt/gofer/proto/gofer/v1'), { recursive: true });
    for (const [file, text] of protos) writeFileSync(join(root, 'opt/gofer/proto/gofer/v1', file), text);
    // …and its version in package.json, as in the repository.
    writeFileSync(join(root, 'opt/gofer/package.json'), JSON.stringify({ version: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version }));
    writeFileSync(join(root, 'usr/local/bin/gofer'), '#!/bin/sh\nexec /usr/local/bin/node /opt/gofer/lib/cli/dist/gofer.mjs "$@"\n');
    chmodSync(join(root, 'usr/local/bin/gofer'), 0o755);
    return `node ${version}, gofer CLI ${hash}`;
  }, 'PATH=/usr/local/bin:/bin', { hash });
  await buildServiceImages(getBusybox);
  await buildComposeImages(getBusybox);
  // The built-in triggers' and notifiers' images, gofer/<app>:<version>, on the Node image above.
  const { buildExtensionImages } = await import('./extension-images.mjs');
  await buildExtensionImages({ force, nodeImage: NODE_IMAGE });
}

main().catch((err) => {
  console.error(`test-images: ${err instanceof UsageError ? err.message : err.stack ?? err}`);
  process.exit(1);
});
