import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliIo } from './context.js';
import { CliError, UsageError } from './errors.js';
import { MAX_SECRET_BYTES, readSecretValue, stripTrailingNewline } from './secret-input.js';

describe('stripTrailingNewline', () => {
  const cases: Array<[string, string]> = [
    ['s3cret\n', 's3cret'],
    ['s3cret', 's3cret'],
    ['s3cret\r\n', 's3cret'],
    ['s3cret\n\n', 's3cret\n'],
    ['two\nlines\n', 'two\nlines'],
    ['trailing space \n', 'trailing space '],
    ['\n', ''],
  ];
  it.each(cases)('%j -> %j', (input, output) => expect(stripTrailingNewline(input)).toBe(output));
});

/** An io whose stdin is a pipe (not a terminal), with stderr captured. */
function piped(...chunks: Array<string | Buffer>) {
  const stdin = new PassThrough();
  for (const chunk of chunks) stdin.write(chunk);
  stdin.end();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdin, stdout: new PassThrough(), stderr, env: {} };
  return { io, err: () => err };
}

/** An io whose stdin pretends to be a terminal in raw mode, recording mode changes. */
function terminal(typed: string) {
  const stdin = Object.assign(new PassThrough(), {
    isTTY: true,
    isRaw: false,
    modes: [] as boolean[],
    setRawMode(mode: boolean) {
      this.isRaw = mode;
      this.modes.push(mode);
      return this;
    },
  });
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdin, stdout: new PassThrough(), stderr, env: {} };
  setImmediate(() => stdin.write(typed));
  return { io, stdin, err: () => err };
}

describe('readSecretValue', () => {
  it('reads a pipe whole, in pieces, stripping one trailing newline and printing nothing', async () => {
    const { io, err } = piped('multi', '-part\n', 'value\n\n');
    expect(await readSecretValue(io, 'value: ')).toBe('multi-part\nvalue\n');
    expect(err()).toBe('');
  });

  it('keeps bytes as UTF-8', async () => {
    const { io } = piped(Buffer.from('pässwörd\n'));
    expect(await readSecretValue(io, 'value: ')).toBe('pässwörd');
  });

  it('refuses an empty value as a usage error', async () => {
    await expect(readSecretValue(piped('\n').io, 'value: ')).rejects.toThrow(UsageError);
    await expect(readSecretValue(piped().io, 'value: ')).rejects.toThrow(/pass --value VALUE, or pipe the value/);
  });

  it('refuses a value over the size bound', async () => {
    await expect(readSecretValue(piped(Buffer.alloc(MAX_SECRET_BYTES + 1, 'a')).io, 'v: ')).rejects.toThrow(/store big content as an object/);
  });

  it('reads a terminal line with echo off: only the prompt and a newline appear', async () => {
    const { io, stdin, err } = terminal('hunter22\x7f\r');
    expect(await readSecretValue(io, 'value for TOKEN (hidden): ')).toBe('hunter2');
    expect(err()).toBe('value for TOKEN (hidden): \n');
    expect(stdin.modes).toEqual([true, false]);
  });

  it('aborts on Ctrl-C with exit code 130 and restores the terminal', async () => {
    const { io, stdin } = terminal('abc\x03');
    const error = await readSecretValue(io, 'v: ').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(130);
    expect(stdin.isRaw).toBe(false);
  });
});
