import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from './gofer-process.js';

/**
 * Builds the image of a built-in app (`apps/notifier-webhook` …) as scripts/extension-images.mjs does —
 * src/main.ts bundled into dist/main.mjs, the app's Dockerfile on the local Node base image — under
 * `tag`, so a test can run it without the shared images being built. Remove it with {@link removeImage}.
 */
export async function buildAppImage(app: string, tag: string): Promise<void> {
  const context = mkdtempSync(join(tmpdir(), `gofer-${app}-`));
  try {
    mkdirSync(join(context, 'dist'));
    await build({
      entryPoints: [join(ROOT, 'apps', app, 'src/main.ts')], outfile: join(context, 'dist/main.mjs'),
      bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'error',
    });
    copyFileSync(join(ROOT, 'apps', app, 'Dockerfile'), join(context, 'Dockerfile'));
    execFileSync('docker', ['build', '--quiet', '--build-arg', 'NODE_IMAGE=gofer-test/node:20', '-t', tag, context], { stdio: 'pipe' });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

export function removeImage(tag: string): void {
  try {
    execFileSync('docker', ['image', 'rm', '--force', tag], { stdio: 'pipe' });
  } catch {
    // already gone
  }
}
