#!/usr/bin/env node
// Builds the local images the integration tests run, because no registry is reachable in CI or on the
// build machines (see ENVIRONMENT.md). Idempotent: an image that already exists is left alone unless
// `--force` is given.
//
//   busybox:latest      Debian's busybox-static with a symlink per applet (a real busybox image is fine too)
//   gofer-test/node:20  this machine's node binary, the libraries it links, and busybox; the base image for
//                       trigger/notifier Dockerfiles in CI (`--build-arg NODE_IMAGE=gofer-test/node:20`)
//
// Usage: node scripts/test-images.mjs [--force]
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const BUSYBOX_IMAGE = 'busybox:latest';
const NODE_IMAGE = 'gofer-test/node:20';
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

/** Copies the node binary and every library ldd lists (including the dynamic loader) under `root`. */
function addNode(root) {
  const node = realpathSync(run('sh', ['-c', 'command -v node']).trim());
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  copyFileSync(node, join(root, 'usr/local/bin/node'));
  chmodSync(join(root, 'usr/local/bin/node'), 0o755);
  for (const line of run('ldd', [node]).split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)";
    // linux-vdso has no file.
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (!match) continue;
    const lib = match[1];
    // Keep the path the loader asks for; copy the file behind any symlink.
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    copyFileSync(realpathSync(lib), join(root, lib));
    chmodSync(join(root, lib), 0o755);
  }
  return run(node, ['--version']).trim();
}

function dockerImport(root, image, env) {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '-c', '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const importer = spawn('docker', ['import', '-c', `ENV ${env}`, '-', image], { stdio: ['pipe', 'pipe', 'pipe'] });
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

async function build(image, layout, env) {
  const previous = imageId(image);
  if (!force && previous) {
    console.log(`${image}: present`);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'gofer-image-'));
  try {
    const detail = layout(root);
    await dockerImport(root, image, env);
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
}

main().catch((err) => {
  console.error(`test-images: ${err instanceof UsageError ? err.message : err.stack ?? err}`);
  process.exit(1);
});
