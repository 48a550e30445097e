import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './gofer-process.js';

/** One nginx directive: `name args…;` or `name args… { block }`. */
export interface NginxDirective {
  name: string;
  args: string[];
  block?: NginxDirective[];
}

/** Parses an nginx configuration into its directives (comments dropped, quotes removed). */
export function parseNginxConfig(text: string): NginxDirective[] {
  const tokens = text.match(/#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[{};]|[^\s{};"'#]+/g) ?? [];
  let index = 0;
  const parseBlock = (nested: boolean): NginxDirective[] => {
    const directives: NginxDirective[] = [];
    let words: string[] = [];
    while (index < tokens.length) {
      const token = tokens[index++]!;
      if (token.startsWith('#')) continue;
      if (token === ';') {
        directives.push({ name: words[0]!, args: words.slice(1) });
        words = [];
      } else if (token === '{') {
        directives.push({ name: words[0]!, args: words.slice(1), block: parseBlock(true) });
        words = [];
      } else if (token === '}') {
        if (!nested) throw new Error('unbalanced "}" in the nginx configuration');
        return directives;
      } else {
        words.push(/^["']/.test(token) ? token.slice(1, -1) : token);
      }
    }
    if (nested || words.length > 0) throw new Error('the nginx configuration ends inside a block or a directive');
    return directives;
  };
  return parseBlock(false);
}

/** The directives named `name` in `directives` (one level, not nested blocks). */
export function directives(list: NginxDirective[], name: string): NginxDirective[] {
  return list.filter((d) => d.name === name);
}

/**
 * deploy/nginx/gofer.conf with loopback addresses in place of the compose addresses: each upstream
 * `server HOST:PORT` becomes `addresses["HOST:PORT"]` (which must be given) without `resolve` (Debian
 * 12's nginx predates it, and loopback addresses need no lookup), each `listen PORT` becomes
 * `listen 127.0.0.1:listen[PORT]`, and each `ssl_certificate`/`ssl_certificate_key PATH` becomes
 * `files[PATH]` (files the test wrote in place of docker-compose.yml's mount). A TLS listen (`ssl`)
 * whose port `listen` does not give is left out, with the certificate paths if no TLS listen is left,
 * so a test of the cleartext ports needs no certificate; any other missing address is an error.
 * Nothing else changes.
 */
export function rewriteForLoopback(
  conf: string,
  addresses: Record<string, string>,
  listen: Record<string, number>,
  files: Record<string, string> = {},
): string {
  let tls = false;
  const rewritten = conf
    .replace(/^(\s*server\s+)([A-Za-z0-9.-]+:\d+)([^;{]*);/gm, (_line, head: string, address: string, params: string) => {
      const loopback = addresses[address];
      if (!loopback) throw new Error(`no loopback address given for upstream server ${address}`);
      return `${head}${loopback}${params.replace(/\s+resolve\b/, '')};`;
    })
    .replace(/^(\s*listen\s+)(\d+)([^;]*);\n?/gm, (_line, head: string, port: string, params: string) => {
      const loopback = listen[port];
      const ssl = /\sssl\b/.test(params);
      if (!loopback && ssl) return '';
      if (!loopback) throw new Error(`no loopback port given for listen ${port}`);
      tls ||= ssl;
      return `${head}127.0.0.1:${loopback}${params};\n`;
    });
  const result = rewritten.replace(/^(\s*(?:ssl_certificate|ssl_certificate_key)\s+)(\S+);\n?/gm, (_line, head: string, path: string) => {
    if (!tls) return '';
    const local = files[path];
    if (!local) throw new Error(`no file given for ${head.trim()} ${path}`);
    return `${head}${local};\n`;
  });
  // A server left without a listen would take nginx's default port (80) instead.
  for (const server of directives(parseNginxConfig(result), 'server')) {
    if (directives(server.block!, 'listen').length === 0) throw new Error('a server of the configuration is left with no listen');
  }
  return result;
}

/** A running nginx (Debian's package) serving one http-level configuration file. */
export interface NginxProcess {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground, as one process (no master/worker split, so killing it leaves nothing
 * behind), from its own prefix directory under the system temp directory, with `httpConf` included in
 * its `http` block the way the nginx image includes conf.d/*.conf. Resolves once `readyUrl` answers.
 */
export async function startNginx(httpConf: string, readyUrl: string): Promise<NginxProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gofer-nginx-'));
  writeFileSync(join(dir, 'gofer.conf'), httpConf);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      'daemon off;',
      'master_process off;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      'events { worker_connections 512; }',
      'http {',
      '  access_log off;',
      ...temp.map((kind) => `  ${kind}_temp_path ${join(dir, kind)};`),
      `  include ${join(dir, 'gofer.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'];
  // The configuration test first, so a bad file fails with nginx's own message.
  execFileSync('nginx', [...args, '-t', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const child = spawn('nginx', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('nginx to serve', async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${output}`);
      return (await fetch(readyUrl)).ok ? true : undefined;
    }, 20_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, output: () => output, stop };
}
