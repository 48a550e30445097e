import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { CliIo, ContextFor } from './context.js';
import { buildProgram, runCli } from './program.js';

/** Every command of the tree, as the words typed after `gofer` (the program itself is `[]`). */
function commandPaths(command: Command, path: string[] = []): string[][] {
  return [path, ...command.commands.flatMap((sub) => commandPaths(sub, [...path, sub.name()]))];
}

function captureIo(): { io: CliIo; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  return { io: { stdout, stderr, stdin: new PassThrough(), env: {} }, out: () => out, err: () => err };
}

const noContext: ContextFor = () => {
  throw new Error('--help must not reach an action');
};

const paths = commandPaths(buildProgram(captureIo().io, noContext));

describe('every command’s --help ends with examples of that command', () => {
  it('walks the whole tree', () => {
    expect(paths.length).toBeGreaterThan(25);
  });

  it.each(paths.map((path) => [['gofer', ...path].join(' '), path] as const))('%s', async (name, path) => {
    const { io, out, err } = captureIo();
    const code = await runCli([...path, '--help'], io);
    expect(err()).toBe('');
    expect(code).toBe(0);
    const help = out();
    expect(help).toMatch(/^Examples:$/m);
    // The examples close the help: after the last "Examples:" every line is an example.
    const examples = help.slice(help.lastIndexOf('Examples:')).trimEnd().split('\n').slice(1);
    expect(examples.filter((line) => !line.startsWith('  $ '))).toEqual([]);
    // At least one runs this very command: `gofer run …` does not count for `gofer run list`.
    const own = new RegExp(`^  \\$ ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?: |$)`);
    expect(examples.filter((line) => own.test(line))).not.toEqual([]);
  });
});
