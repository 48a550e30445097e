// Reading a secret's value from stdin: typed at a terminal without echo, or piped in. Never printed.
import type { CliIo } from './context.js';
import { CliError, UsageError } from './errors.js';

/** A generous bound: secret values are tokens, passwords and keys, not files (objects are for those). */
export const MAX_SECRET_BYTES = 1024 * 1024;

/**
 * Removes exactly one trailing line break (`\n` or `\r\n`), the one `echo` or a file's last line adds;
 * any other trailing whitespace belongs to the value.
 */
export function stripTrailingNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** A terminal stdin (what `process.stdin` is when nothing is piped in). */
interface TerminalInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/**
 * Reads a secret value from stdin. On a terminal it prompts on stderr and reads one line with echo
 * off; from a pipe it reads everything and strips one trailing newline.
 * @throws UsageError when stdin holds no value.
 */
export async function readSecretValue(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin as TerminalInput;
  const value = stdin.isTTY && stdin.setRawMode ? await readHidden(stdin, io, prompt) : stripTrailingNewline(await readAll(stdin));
  if (value === '') throw new UsageError('no secret value: pass --value VALUE, or pipe the value into stdin');
  return value;
}

async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const piece of stdin) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
    size += chunk.length;
    if (size > MAX_SECRET_BYTES) {
      throw new CliError(`the secret value on stdin is over ${MAX_SECRET_BYTES} bytes; store big content as an object instead`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One line typed with echo off: Enter ends it, Backspace edits it, Ctrl-C aborts (exit 130), Ctrl-D ends it. */
function readHidden(stdin: TerminalInput, io: CliIo, prompt: string): Promise<string> {
  io.stderr.write(prompt);
  const wasRaw = stdin.isRaw ?? false;
  stdin.setRawMode!(true);
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode!(wasRaw);
      stdin.pause();
      io.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (data: Buffer | string) => {
      for (const char of data.toString()) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new CliError('cancelled: nothing was stored', 130));
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else value += char;
      }
    };
    stdin.on('data', onData);
  });
}
