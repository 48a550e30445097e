import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './gofer-process.js';

/** What scripts/extension-images.mjs shares: the bundle's banner and the .proto folders it loads. */
interface ExtensionImages {
  BANNER: string;
  protoDirs(): string[];
}

/**
 * Builds a trigger image from one TypeScript entry that uses @gofer/sdk exactly as the built-ins are
 * built (scripts/extension-images.mjs): one esbuild bundle on the local Node base image, with the
 * .proto files it loads under /proto. Returns the image name; an unchanged entry reuses the image.
 */
export async function buildTriggerImage(name: string, entry: string): Promise<string> {
  const { BANNER, protoDirs } = (await import(join(ROOT, 'scripts/extension-images.mjs'))) as ExtensionImages;
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
  const bundle = Buffer.from(result.outputFiles[0]!.contents);
  const image = `gofer-test/${name}:${createHash('sha256').update(bundle).digest('hex').slice(0, 12)}`;
  try {
    execFileSync('docker', ['image', 'inspect', image], { stdio: 'ignore' });
    return image;
  } catch {
    // not built yet
  }
  const dir = mkdtempSync(join(tmpdir(), 'gofer-trigger-image-'));
  try {
    writeFileSync(join(dir, 'main.mjs'), bundle);
    for (const protos of protoDirs()) cpSync(protos, join(dir, 'proto'), { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), ['FROM gofer-test/node:20', 'COPY proto /proto', 'COPY main.mjs /app/main.mjs', 'ENTRYPOINT ["node", "/app/main.mjs"]', ''].join('\n'));
    execFileSync('docker', ['build', '-q', '-t', image, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return image;
}
