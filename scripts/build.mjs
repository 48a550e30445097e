// Compiles every lib and app from src/ to dist/ with SWC (per file, keeping decorator metadata for
// NestJS). Type checking is separate: `npm run typecheck`.
import { chmodSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// apps/web is the browser UI: Vite bundles it (below), SWC does not compile it for Node.
const packages = ['libs', 'apps'].flatMap((dir) =>
  readdirSync(join(root, dir)).map((name) => join(dir, name)).filter((p) => existsSync(join(root, p, 'src')) && p !== join('apps', 'web')),
);
const swc = join(root, 'node_modules/.bin/swc');
for (const pkg of packages) {
  rmSync(join(root, pkg, 'dist'), { recursive: true, force: true });
  execFileSync(
    swc,
    ['src', '-d', 'dist', '--strip-leading-paths', '--quiet', '--config-file', join(root, '.swcrc'),
      '--ignore', '**/*.spec.ts'],
    { cwd: join(root, pkg), stdio: 'inherit' },
  );
}
// The web UI, into apps/web/dist: static files the API role serves under /ui (apps/gofer/src/api/web-ui.ts).
execFileSync(join(root, 'node_modules/.bin/vite'), ['build', '--config', join(root, 'apps/web/vite.config.ts')], { cwd: root, stdio: 'inherit' });
// The `gofer` bin (package.json) runs this file directly: `npm link` and the image need it executable.
chmodSync(join(root, 'apps/gofer/dist/main.js'), 0o755);
