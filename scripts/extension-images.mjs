#!/usr/bin/env node
// Builds the images of Gofer's own extensions: every apps/<app> that has a Dockerfile (the built-in
// triggers and notifiers). For each, src/main.ts is bundled with esbuild into apps/<app>/dist/main.mjs,
// the .proto files the bundle loads at run time are copied under apps/<app>/dist/proto, and then
//
//   docker build --build-arg NODE_IMAGE=gofer-test/node:20 -t gofer/<app>:<version> apps/<app>
//
// with <version> from the root package.json. An image whose `gofer.content` label matches the hash of
// what went into it (bundle, protos, Dockerfile, base image, version) is left alone unless --force.
// scripts/test-images.mjs runs this after building the base image.
//
// Usage: node scripts/extension-images.mjs [--force] [--best-effort] [--node-image IMAGE] [--prefix PREFIX] [APP…]
//   --node-image  base image (NODE_IMAGE build argument); env GOFER_NODE_IMAGE; default gofer-test/node:20
//                 when it exists here, else node:22-bookworm-slim (pulled)
//   --best-effort a failure is a warning and exit 0 (`npm start` goes on without the built-ins' images)
//   --prefix      image name prefix; env GOFER_IMAGE_PREFIX; default gofer/
//   APP…          only these apps (e.g. trigger-cron); default every app with a Dockerfile
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(import.meta.dirname, '..');
const DEFAULT_NODE_IMAGE = 'gofer-test/node:20';
const PUBLIC_NODE_IMAGE = 'node:22-bookworm-slim';
const DEFAULT_PREFIX = 'gofer/';

// Code in the bundle that came from CommonJS calls require() and reads __dirname (grpc-js,
// grpc-health-check, protobufjs); an ES module has neither, so the bundle defines them.
export const BANNER = [
  "import { createRequire as __goferCreateRequire } from 'node:module';",
  "import { dirname as __goferDirname } from 'node:path';",
  "import { fileURLToPath as __goferFileURLToPath } from 'node:url';",
  'const require = __goferCreateRequire(import.meta.url);',
  'const __filename = __goferFileURLToPath(import.meta.url);',
  'const __dirname = __goferDirname(__filename);',
].join(' ');

/**
 * Directories of .proto files the bundle reads at run time, each found two directories above the module
 * that loads it: the SDK's copy of trigger.proto (libs/sdk/src/trigger/trigger-proto.ts) and
 * grpc-health-check's health.proto (build/src/health.js). In the bundle both modules are main.mjs, so
 * both look in <main.mjs>/../../proto: that is where the Dockerfile puts dist/proto.
 */
export function protoDirs() {
  const require = createRequire(import.meta.url);
  return [join(ROOT, 'libs/sdk/proto'), join(dirname(require.resolve('grpc-health-check/package.json')), 'proto')];
}

class UsageError extends Error {}

function run(cmd, args, options = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...options });
}

function inspect(image, format) {
  try {
    return run('docker', ['image', 'inspect', '--format', format, image]).trim();
  } catch {
    return undefined;
  }
}

/** Every apps/<app> with a Dockerfile, or the ones named. */
function extensionApps(only) {
  const all = readdirSync(join(ROOT, 'apps')).filter((app) => existsSync(join(ROOT, 'apps', app, 'Dockerfile'))).sort();
  for (const app of only) {
    if (!all.includes(app)) throw new UsageError(`apps/${app} has no Dockerfile (apps with one: ${all.join(', ') || 'none'})`);
  }
  return only.length > 0 ? only : all;
}

/** Bundles apps/<app>/src/main.ts into one ES module, @gofer/* resolved through the root tsconfig's paths. */
async function bundle(app) {
  const entry = join(ROOT, 'apps', app, 'src/main.ts');
  if (!existsSync(entry)) throw new UsageError(`apps/${app} has a Dockerfile but no src/main.ts to bundle`);
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    tsconfig: join(ROOT, 'tsconfig.json'),
    logLevel: 'silent',
    banner: { js: BANNER },
  });
  return Buffer.from(result.outputFiles[0].contents);
}

/** Every file under `dir`, as [path relative to dir, contents], in a stable order. */
function filesUnder(dir, base = dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? filesUnder(path, base) : [[relative(base, path), readFileSync(path)]];
    });
}

/**
 * Builds every extension image. Resolves to the images built or found up to date; rejects naming the
 * app whose bundle or build failed.
 */
export async function buildExtensionImages(options = {}) {
  // The local test base when there is one (no registry needed), else the public Node image the
  // Dockerfiles default to, which `docker build` pulls.
  const nodeImage = options.nodeImage || process.env.GOFER_NODE_IMAGE || (inspect(DEFAULT_NODE_IMAGE, '{{.Id}}') ? DEFAULT_NODE_IMAGE : PUBLIC_NODE_IMAGE);
  const prefix = options.prefix ?? process.env.GOFER_IMAGE_PREFIX ?? DEFAULT_PREFIX;
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  if (!inspect(nodeImage, '{{.Id}}') && nodeImage === PUBLIC_NODE_IMAGE) {
    try {
      run('docker', ['pull', nodeImage]);
    } catch (error) {
      throw new UsageError(`base image ${nodeImage} is not here and cannot be pulled (${(error.stderr || error.message).trim()}): run \`node scripts/test-images.mjs\` (it builds gofer-test/node:20 from this machine's node) or pass --node-image`);
    }
  }
  const baseId = inspect(nodeImage, '{{.Id}}');
  if (!baseId) throw new UsageError(`base image ${nodeImage} is missing: run \`node scripts/test-images.mjs\` (it builds gofer-test/node:20) or pass --node-image`);
  const protos = protoDirs().flatMap((dir) => filesUnder(dir));
  const images = [];
  for (const app of extensionApps(options.apps ?? [])) {
    const image = `${prefix}${app}:${version}`;
    const dir = join(ROOT, 'apps', app);
    const code = await bundle(app).catch((error) => {
      throw new Error(`bundling apps/${app}/src/main.ts failed: ${error.message}`);
    });
    const hash = createHash('sha256');
    hash.update(code).update(readFileSync(join(dir, 'Dockerfile'))).update(baseId).update(version);
    for (const [path, text] of protos) hash.update(path).update(text);
    const content = hash.digest('hex').slice(0, 16);
    images.push(image);
    // Written even when the image is up to date: `npm run build` empties dist/.
    rmSync(join(dir, 'dist/proto'), { recursive: true, force: true });
    for (const [path, text] of protos) {
      mkdirSync(dirname(join(dir, 'dist/proto', path)), { recursive: true });
      writeFileSync(join(dir, 'dist/proto', path), text);
    }
    writeFileSync(join(dir, 'dist/main.mjs'), code);
    const previous = inspect(image, '{{.Id}}');
    if (!options.force && previous && inspect(image, '{{index .Config.Labels "gofer.content"}}') === content) {
      console.log(`${image}: present`);
      continue;
    }
    try {
      // The legacy builder and BuildKit both take this; no RUN step needs a network.
      run('docker', ['build', '--build-arg', `NODE_IMAGE=${nodeImage}`, '--label', `gofer.content=${content}`, '-t', image, dir]);
    } catch (error) {
      throw new Error(`docker build of ${image} failed: ${(error.stderr || error.message).trim()}`);
    }
    // The image this one replaces is left untagged: drop it unless a container still uses it.
    if (previous && previous !== inspect(image, '{{.Id}}')) {
      try {
        run('docker', ['image', 'rm', previous]);
      } catch {}
    }
    console.log(`${image}: built (${(code.length / 1024).toFixed(0)} KiB bundle on ${nodeImage}, ${content})`);
  }
  return images;
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        force: { type: 'boolean', default: false }, 'node-image': { type: 'string' }, prefix: { type: 'string' },
        'best-effort': { type: 'boolean', default: false },
      },
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(`${error.message}\nusage: node scripts/extension-images.mjs [--force] [--node-image IMAGE] [--prefix PREFIX] [APP…]`);
  }
  const { values, positionals } = parsed;
  try {
    await buildExtensionImages({ force: values.force, nodeImage: values['node-image'], prefix: values.prefix, apps: positionals });
  } catch (error) {
    // `npm start`: Gofer runs without its built-ins' images; `gofer trigger get` then says the image is missing.
    if (!values['best-effort']) throw error;
    console.error(`extension-images: the built-in triggers and notifiers will not start: ${error.message}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(`extension-images: ${error instanceof UsageError ? error.message : (error.stack ?? error)}`);
    process.exit(1);
  });
}
