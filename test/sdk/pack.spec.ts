// The SDK packs and works on its own: `npm pack` in libs/sdk (its prepack builds dist/), the tarball
// installed into a project outside the monorepo, the README's examples type-checked against the packed
// declarations, and a trigger served from it by plain node, answering Info and stopping on SIGTERM.
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TriggerTestClient } from './trigger-test-client.js';

const repo = join(import.meta.dirname, '../..');
const sdk = join(repo, 'libs/sdk');
let work: string;
let project: string;
let packed: { filename: string; files: { path: string }[] };

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gofer-sdk-pack-'));
  const output = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: sdk, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  [packed] = JSON.parse(output) as (typeof packed)[];

  // A project outside the monorepo: the tarball under node_modules/@gofer/sdk, its dependencies linked
  // from the repository's node_modules (nothing is downloaded).
  project = join(work, 'project');
  mkdirSync(join(project, 'node_modules/@gofer'), { recursive: true });
  execFileSync('tar', ['-xzf', join(work, packed.filename), '-C', join(project, 'node_modules/@gofer')]);
  renameSync(join(project, 'node_modules/@gofer/package'), join(project, 'node_modules/@gofer/sdk'));
  const manifest = JSON.parse(readFileSync(join(project, 'node_modules/@gofer/sdk/package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const name of [...Object.keys(manifest.dependencies), '@types']) {
    const scope = name.startsWith('@') && name.includes('/') ? name.split('/')[0]! : undefined;
    if (scope) mkdirSync(join(project, 'node_modules', scope), { recursive: true });
    try {
      symlinkSync(join(repo, 'node_modules', name), join(project, 'node_modules', name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-gofer-sdk', private: true, type: 'module' }));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed SDK', () => {
  it('holds the built code, its declarations, the proto and the README, and no sources', () => {
    const files = packed.files.map((file) => file.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'proto/gofer/v1/trigger.proto', 'dist/index.js', 'dist/index.d.ts', 'dist/trigger/serve-trigger.js', 'dist/trigger/serve-trigger.d.ts']));
    expect(files.filter((file) => file.startsWith('src/') || file.includes('.spec.') || file.endsWith('.map') || file.startsWith('.build-'))).toEqual([]);
  });

  it('type-checks the README examples against the packed declarations', () => {
    const readme = readFileSync(join(project, 'node_modules/@gofer/sdk/README.md'), 'utf8');
    const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
    expect(examples).toHaveLength(2);
    examples.forEach((code, i) => writeFileSync(join(project, `example-${i}.ts`), code));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], skipLibCheck: false },
        include: ['example-*.ts'],
      }),
    );
    execFileSync(join(repo, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: project, stdio: 'pipe' });
  });

  it('serves a trigger from plain node, answers Info, and stops on SIGTERM', async () => {
    writeFileSync(
      join(project, 'main.js'),
      `import { serveTrigger } from '@gofer/sdk';
const trigger = await serveTrigger({
  name: 'packed',
  description: 'Served from the tarball.',
  subscribe() {},
  unsubscribe() {},
  shutdown() { process.stdout.write('shutdown\\n'); },
});
process.stdout.write(JSON.stringify({ port: trigger.port }) + '\\n');
`,
    );
    const key = randomUUID();
    const child = spawn(process.execPath, ['main.js'], {
      cwd: project,
      env: { PATH: process.env.PATH, GOFER_TRIGGER_KEY: key, GOFER_TRIGGER_PORT: '0', GOFER_HOST: '127.0.0.1:1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    try {
      const first = await lines.next();
      if (first.done) throw new Error(`the trigger exited before serving: ${stderr}`);
      const { port } = JSON.parse(first.value) as { port: number };
      const client = new TriggerTestClient(port);
      try {
        expect(await client.call('info', {}, key)).toMatchObject({ name: 'packed', description: 'Served from the tarball.', subscriptions: 0 });
      } finally {
        client.close();
      }
      child.kill('SIGTERM');
      expect((await lines.next()).value).toBe('shutdown');
      expect(await exited).toBe(0);
      expect(stderr.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['trigger serving', 'shutting down', 'trigger stopped']);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
