// Lays out the build context of the Dockerfile's `runtime-prebuilt` target: the /app tree of the image,
// taken from the host's own `npm ci && npm run build`, so an image can be built without npm or a
// registry (CI's case). Must hold what the Dockerfile's `build` stage copies to /app, and nothing more.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Copies `entries` (paths relative to `from`) into `to`, as hard links when both sit on one file system. */
function copyTree(from: string, to: string, entries: string[]): void {
  try {
    execFileSync('cp', ['-al', ...entries, to], { cwd: from, stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    // On another file system, a real copy: slower, but the same tree.
    if (!/cross-device/i.test(String((error as { stderr?: string }).stderr))) throw error;
    execFileSync('cp', ['-a', ...entries, to], { cwd: from, stdio: 'pipe' });
  }
}

/**
 * Fills the empty directory `dir` with the image's /app: package.json, package-lock.json, proto/,
 * node_modules without the packages the lockfile marks dev-only (what `npm prune --omit=dev` removes),
 * and each package's package.json and dist/. Throws when `root` has not been built.
 */
export function stagePrebuiltContext(root: string, dir: string): void {
  const missing = ['node_modules/@gofer', 'apps/gofer/dist/main.js'].filter((path) => !existsSync(join(root, path)));
  if (missing.length > 0) {
    throw new Error(`the host build is missing (${missing.join(', ')}): run \`npm ci && npm run build\` first`);
  }
  copyTree(root, dir, ['package.json', 'package-lock.json', 'proto', 'node_modules']);
  for (const group of ['libs', 'apps']) {
    for (const name of readdirSync(join(root, group))) {
      const pkg = join(group, name);
      if (!existsSync(join(root, pkg, 'src'))) continue; // scripts/build.mjs builds exactly these
      if (!existsSync(join(root, pkg, 'dist'))) throw new Error(`${pkg}/dist is missing: run \`npm run build\` first`);
      mkdirSync(join(dir, pkg), { recursive: true });
      copyTree(join(root, pkg), join(dir, pkg), ['dist', ...(existsSync(join(root, pkg, 'package.json')) ? ['package.json'] : [])]);
    }
  }

  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  for (const [path, meta] of Object.entries(lock.packages)) {
    if (path.startsWith('node_modules/') && meta.dev) rmSync(join(dir, path), { recursive: true, force: true });
  }
  // Tool caches (vitest's) are not packages; .bin links of removed packages would dangle.
  for (const name of readdirSync(join(dir, 'node_modules'))) {
    if (name.startsWith('.') && name !== '.bin' && name !== '.package-lock.json') {
      rmSync(join(dir, 'node_modules', name), { recursive: true, force: true });
    }
  }
  const bin = join(dir, 'node_modules/.bin');
  if (existsSync(bin)) {
    for (const name of readdirSync(bin)) {
      const link = join(bin, name);
      if (lstatSync(link).isSymbolicLink() && !existsSync(link)) rmSync(link);
    }
  }
}
