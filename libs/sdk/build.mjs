// Builds the packable SDK (`npm pack` runs it as `prepack`): JavaScript with the repository's SWC
// config, as scripts/build.mjs compiles every package, and type declarations with tsc
// (tsconfig.build.json), so consumers outside the monorepo get dist/*.js and dist/*.d.ts.
//
// Others' tests run against dist/ while this runs, so dist/ is never removed: the output is built in a
// scratch directory beside it, then each file is moved in with an atomic rename and files the build no
// longer produces are deleted.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const sdk = new URL('.', import.meta.url).pathname;
const root = join(sdk, '../..');
const scratch = join(sdk, `.build-${process.pid}`);
const dist = join(sdk, 'dist');

/** Every file under `dir`, relative to it. */
const filesUnder = (dir) =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))) : [];

try {
  execFileSync(
    join(root, 'node_modules/.bin/swc'),
    ['src', '-d', scratch, '--strip-leading-paths', '--quiet', '--config-file', join(root, '.swcrc'), '--ignore', '**/*.spec.ts'],
    { cwd: sdk, stdio: 'inherit' },
  );
  execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', scratch], { cwd: sdk, stdio: 'inherit' });
  const built = filesUnder(scratch);
  for (const file of built) {
    mkdirSync(dirname(join(dist, file)), { recursive: true });
    renameSync(join(scratch, file), join(dist, file));
  }
  const keep = new Set(built);
  for (const file of filesUnder(dist)) if (!keep.has(file)) rmSync(join(dist, file));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
