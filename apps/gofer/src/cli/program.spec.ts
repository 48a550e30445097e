import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliIo } from './context.js';
import { resolveGlobals } from './context.js';
import { runCli } from './program.js';

/** Runs the CLI in-process with captured output. Only argument handling is exercised here: none of
 * these commands reaches an action that calls the API. */
async function gofer(args: string[], env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdout, stderr, stdin: new PassThrough(), env };
  const code = await runCli(args, io);
  return { code, out, err };
}

describe('gofer usage errors exit 2 with one line on stderr', () => {
  const cases: Array<[string[], RegExp]> = [
    [['pipeline', 'run', 'hello', '-v', 'NOEQUALS'], /'NOEQUALS' is invalid\. expected KEY=VALUE/],
    [['pipeline', 'get'], /missing required argument 'ID'/],
    [['run', 'get', 'hello', 'abc'], /a run id is a positive integer/],
    [['pipeline', 'lst'], /unknown command 'lst'.*Did you mean list\?/],
    [['--output', 'yaml', 'pipeline', 'list'], /Allowed choices are plain, json/],
    [['service', 'start', '--roles', 'api,db'], /unknown role "db"/],
    [['pipeline', 'get', 'a', 'b'], /too many arguments/],
    [['--nope'], /unknown option '--nope'/],
    [['token', 'create', '--expires', '30'], /argument '30' is invalid\. expected a lifetime like 30d/],
    [['token', 'create', '--metadata', 'owner'], /expected KEY=VALUE, e\.g\. --metadata owner=ci/],
    [['token', 'create', '--kind', 'root'], /Allowed choices are management, client/],
    [['token', 'create', '--kind', 'management', '--namespaces', 'team-a'], /--namespaces is for client tokens/],
    [['token', 'create', '--namespaces', 'Team A'], /"Team A" is not a namespace id/],
    [['namespace', 'get'], /missing required argument 'ID'/],
    [['pipeline', 'object', 'put', 'hello', '../etc'], /an object key is 1-256 of/],
    [['run', 'object', 'get', 'hello', 'x', 'key'], /a run id is a positive integer/],
    [['run', 'object', 'list', 'hello'], /missing required argument 'RUN'/],
    [['secret', 'global', 'put', 'KEY', '--namespaces', '/open'], /has no closing "\/"/],
    [['secret', 'pipeline', 'put', 'hello', 'KEY', '--value', ''], /--value is empty/],
    [['event', 'list', '--after', 'x'], /expected a whole number/],
  ];
  it.each(cases)('%j', async (args, message) => {
    const { code, out, err } = await gofer(args);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(message);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err).toMatch(/\(see: gofer.* --help\)\n$/);
  });

  it('rejects a bad GOFER_OUTPUT before calling the API', async () => {
    const { code, err } = await gofer(['pipeline', 'list'], { GOFER_OUTPUT: 'yaml' });
    expect(code).toBe(2);
    expect(err).toBe('error: GOFER_OUTPUT must be "plain" or "json", not "yaml"\n');
  });
});

describe('gofer help', () => {
  it('exits 0 and shows examples', async () => {
    const { code, out } = await gofer(['pipeline', 'run', '--help']);
    expect(code).toBe(0);
    expect(out).toContain('gofer pipeline run hello -v WHO=world -v LEVEL=debug --wait');
    expect(out).toContain('--wait');
  });

  it('lists every command group at the top level', async () => {
    const { code, out } = await gofer(['--help']);
    expect(code).toBe(0);
    for (const group of ['service', 'pipeline', 'run', 'taskrun', 'secret', 'namespace', 'token', 'event']) {
      expect(out).toMatch(new RegExp(`^  ${group} `, 'm'));
    }
  });

  it('lists the object commands under pipeline and run, and token bootstrap under service', async () => {
    expect((await gofer(['pipeline', '--help'])).out).toMatch(/^  object +store files with a pipeline/m);
    expect((await gofer(['run', 'object', '--help'])).out).toMatch(/^  put <PIPELINE> <RUN> <KEY> \[FILE\]/m);
    expect((await gofer(['service', 'token', '--help'])).out).toMatch(/^  bootstrap +issue the first management token/m);
  });
});

describe('resolveGlobals', () => {
  it('prefers flags, then environment, then defaults', () => {
    expect(resolveGlobals({}, {})).toEqual({ host: '127.0.0.1:8080', token: undefined, namespace: 'default', output: 'plain' });
    const env = { GOFER_HOST: 'gofer:9000', GOFER_TOKEN: 't', GOFER_NAMESPACE: 'team', GOFER_OUTPUT: 'json' };
    expect(resolveGlobals({}, env)).toEqual({ host: 'gofer:9000', token: 't', namespace: 'team', output: 'json' });
    expect(resolveGlobals({ host: 'h:1', namespace: 'x', output: 'plain', token: 'u' }, env)).toEqual({
      host: 'h:1',
      token: 'u',
      namespace: 'x',
      output: 'plain',
    });
  });

  it('rejects a host without a port', () => {
    expect(() => resolveGlobals({ host: 'localhost' }, {})).toThrow(/--host must be HOST:PORT/);
  });
});
