// Node module hooks that run the TypeScript sources directly (no build, no workspace links): `@gofer/<lib>`
// resolves to libs/<lib>/src/index.ts, `./x.js` to `./x.ts` when only the .ts exists, and .ts files are
// transpiled with SWC using the repository's .swcrc. Registered by ts-register.mjs; used by the CLI
// process tests to spawn `gofer` exactly as a user would, from source.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transform } from '@swc/core';

const root = new URL('../../', import.meta.url);
const swcrc = JSON.parse(readFileSync(new URL('.swcrc', root), 'utf8'));
delete swcrc.$schema;

export async function resolve(specifier, context, next) {
  const lib = /^@gofer\/([a-z-]+)$/.exec(specifier);
  if (lib) return { url: new URL(`libs/${lib[1]}/src/index.ts`, root).href, shortCircuit: true };
  if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts') && specifier.startsWith('.')) {
    const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (!existsSync(new URL(specifier, context.parentURL)) && existsSync(ts)) return { url: ts.href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const path = fileURLToPath(url);
  const { code } = await transform(readFileSync(path, 'utf8'), {
    ...swcrc,
    filename: path,
    sourceMaps: 'inline',
    swcrc: false,
    configFile: false,
  });
  return { format: 'module', source: code, shortCircuit: true };
}
