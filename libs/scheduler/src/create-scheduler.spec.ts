import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@gofer/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advertiseAddressProblem, createScheduler } from './create-scheduler.js';
import { nomadTlsDispatcher } from './nomad/nomad-tls.js';
import { NomadClient, NomadError } from './nomad/nomad.client.js';

describe('createScheduler', () => {
  it('builds the Docker scheduler by default, without contacting the engine', () => {
    // A socket that does not exist: construction alone must not fail.
    const scheduler = createScheduler(loadConfig({ GOFER_DOCKER_HOST: 'unix:///nonexistent/docker.sock' }));
    expect(scheduler.kind).toBe('docker');
  });

  it.each(['unix:///var/run/docker.sock', '/var/run/docker.sock', 'tcp://127.0.0.1:2375', 'http://[::1]:2375'])(
    'accepts GOFER_DOCKER_HOST=%s',
    (host) => expect(createScheduler({ scheduler: 'docker', dockerHost: host, dockerNetwork: '' }).kind).toBe('docker'),
  );

  it('builds the Nomad scheduler for GOFER_SCHEDULER=nomad, without contacting Nomad', () => {
    // A closed port: construction alone must not fail.
    const scheduler = createScheduler(loadConfig({ GOFER_SCHEDULER: 'nomad', GOFER_NOMAD_ADDR: 'http://127.0.0.1:1' }));
    expect(scheduler.kind).toBe('nomad');
  });

  it('refuses a GOFER_NOMAD_CACERT that does not exist, naming the variable and the path', () => {
    const config = loadConfig({ GOFER_SCHEDULER: 'nomad', GOFER_NOMAD_CACERT: '/nonexistent/nomad-ca.pem' });
    expect(() => createScheduler(config)).toThrow('cannot read GOFER_NOMAD_CACERT="/nonexistent/nomad-ca.pem": ENOENT');
  });

  it.each(['ssh://user@host', 'https://127.0.0.1:2376', 'tcp://127.0.0.1'])(
    'refuses GOFER_DOCKER_HOST=%s naming the variable and the forms it accepts',
    (host) => {
      expect(() => createScheduler({ scheduler: 'docker', dockerHost: host, dockerNetwork: '' })).toThrow(
        `Docker address "${host}" is not supported (GOFER_DOCKER_HOST): use unix:///path/to/docker.sock`,
      );
    },
  );
});

describe('advertiseAddressProblem', () => {
  const tests: Array<{ advertiseAddr: string; dockerNetwork: string; problem: boolean }> = [
    { advertiseAddr: '127.0.0.1:8080', dockerNetwork: '', problem: true },
    { advertiseAddr: 'localhost:8080', dockerNetwork: 'bridge', problem: true },
    { advertiseAddr: '[::1]:8080', dockerNetwork: '', problem: true },
    { advertiseAddr: '127.0.0.1:8080', dockerNetwork: 'host', problem: false },
    { advertiseAddr: 'gofer-api:8080', dockerNetwork: 'gofer', problem: false },
    { advertiseAddr: '10.1.2.3:8080', dockerNetwork: '', problem: false },
  ];
  it.each(tests)('$advertiseAddr on network "$dockerNetwork": problem $problem', ({ advertiseAddr, dockerNetwork, problem }) => {
    const found = advertiseAddressProblem({ scheduler: 'docker', dockerHost: '', advertiseAddr, dockerNetwork });
    if (problem) expect(found).toMatch(/GOFER_DOCKER_NETWORK=host, or set GOFER_ADVERTISE_ADDR/);
    else expect(found).toBeUndefined();
  });
});

describe('advertiseAddressProblem on Nomad', () => {
  const nomad = (networkMode?: string) => ({ ...loadConfig({ GOFER_SCHEDULER: 'nomad' }).nomad, networkMode });
  it.each(['127.0.0.1:8080', '127.1.2.3:8080', 'localhost:8080', '[::1]:8080'])('%s in bridge mode: tasks reach their own container', (advertiseAddr) => {
    const found = advertiseAddressProblem({ scheduler: 'nomad', nomad: nomad(), advertiseAddr });
    expect(found).toMatch(/loopback address that inside a container Nomad runs is the container itself/);
    expect(found).toMatch(/set GOFER_ADVERTISE_ADDR to an address every Nomad client can reach/);
  });
  it('127.0.0.1 with network_mode host: only clients on this machine reach it', () => {
    const found = advertiseAddressProblem({ scheduler: 'nomad', nomad: nomad('host'), advertiseAddr: '127.0.0.1:8080' });
    expect(found).toMatch(/GOFER_NOMAD_NETWORK_MODE=host only those placed on a Nomad client on this machine reach it/);
  });
  it.each(['10.1.2.3:8080', 'gofer.internal:8080', '[fd00::1]:8080'])('%s is reachable from other machines: no problem', (advertiseAddr) => {
    expect(advertiseAddressProblem({ scheduler: 'nomad', nomad: nomad(), advertiseAddr })).toBeUndefined();
    expect(advertiseAddressProblem({ scheduler: 'nomad', nomad: nomad('host'), advertiseAddr })).toBeUndefined();
  });
});

// Real certificates (openssl) and a real HTTPS server on 127.0.0.1 answering GET /v1/jobs as Nomad does.
describe('Nomad TLS (GOFER_NOMAD_CACERT, _CLIENT_CERT, _CLIENT_KEY, _TLS_SERVER_NAME, _SKIP_VERIFY)', () => {
  let dir: string;
  /** A self-signed certificate for `san` and its key, as PEM file paths. */
  const selfSigned = (name: string, san: string) => {
    const [cert, key] = [join(dir, `${name}.pem`), join(dir, `${name}-key.pem`)];
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`, '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' });
    return { cert, key };
  };
  const servers: Server[] = [];
  /** An HTTPS "Nomad" with `pair`'s certificate; with `clientCa`, it requires a client certificate signed by it. */
  const nomadServer = async (pair: { cert: string; key: string }, clientCa?: string): Promise<string> => {
    const server = createServer(
      { cert: readFileSync(pair.cert), key: readFileSync(pair.key), ...(clientCa ? { ca: readFileSync(clientCa), requestCert: true, rejectUnauthorized: true } : {}) },
      (_request, response) => response.writeHead(200, { 'Content-Type': 'application/json', 'X-Nomad-Index': '1' }).end('[]'),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  /** listJobs through the dispatcher the scheduler would build from `env`. */
  const listJobs = (address: string, env: Record<string, string>) => {
    const dispatcher = nomadTlsDispatcher(loadConfig({ GOFER_SCHEDULER: 'nomad', ...env }).nomad.tls);
    return new NomadClient({ address, dispatcher, requestTimeoutMs: 10_000 }).listJobs().finally(() => dispatcher?.close());
  };
  let server: { cert: string; key: string };
  let named: { cert: string; key: string };
  let client: { cert: string; key: string };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gofer-nomad-tls-'));
    server = selfSigned('nomad-ip', 'IP:127.0.0.1');
    named = selfSigned('nomad-named', 'DNS:server.global.nomad');
    client = selfSigned('gofer-client', 'DNS:gofer');
  });
  afterAll(() => {
    for (const each of servers) {
      each.closeAllConnections();
      each.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds no dispatcher when nothing is set (Node\'s global one applies)', () => {
    expect(nomadTlsDispatcher(loadConfig({}).nomad.tls)).toBeUndefined();
  });

  it('reaches a Nomad whose certificate GOFER_NOMAD_CACERT signed; without it, the certificate is refused', async () => {
    const address = await nomadServer(server);
    await expect(listJobs(address, { GOFER_NOMAD_CACERT: server.cert })).resolves.toEqual([]);
    await expect(listJobs(address, {})).rejects.toThrow(/DEPTH_ZERO_SELF_SIGNED_CERT/);
  });

  it('checks the certificate against GOFER_NOMAD_TLS_SERVER_NAME when set', async () => {
    const address = await nomadServer(named);
    await expect(listJobs(address, { GOFER_NOMAD_CACERT: named.cert, GOFER_NOMAD_TLS_SERVER_NAME: 'server.global.nomad' })).resolves.toEqual([]);
    // The certificate names server.global.nomad, not 127.0.0.1.
    await expect(listJobs(address, { GOFER_NOMAD_CACERT: named.cert })).rejects.toThrow(/ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it('GOFER_NOMAD_SKIP_VERIFY=true accepts any certificate', async () => {
    const address = await nomadServer(named);
    await expect(listJobs(address, { GOFER_NOMAD_SKIP_VERIFY: 'true' })).resolves.toEqual([]);
  });

  it('presents GOFER_NOMAD_CLIENT_CERT and _KEY to a Nomad that requires mutual TLS', async () => {
    const address = await nomadServer(server, client.cert);
    const mutual = { GOFER_NOMAD_CACERT: server.cert, GOFER_NOMAD_CLIENT_CERT: client.cert, GOFER_NOMAD_CLIENT_KEY: client.key };
    await expect(listJobs(address, mutual)).resolves.toEqual([]);
    // Without a client certificate the server ends the connection (how depends on timing: no code to match).
    await expect(listJobs(address, { GOFER_NOMAD_CACERT: server.cert })).rejects.toBeInstanceOf(NomadError);
  });

  it('refuses files that are not PEM, or a key that is not the certificate\'s, naming the variables', () => {
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(() => nomadTlsDispatcher({ caCert: notPem })).toThrow(`GOFER_NOMAD_CACERT="${notPem}" is not a PEM file`);
    expect(() => nomadTlsDispatcher({ clientCert: client.cert, clientKey: server.key })).toThrow(
      `Nomad TLS files do not make a TLS context (GOFER_NOMAD_CLIENT_CERT="${client.cert}", GOFER_NOMAD_CLIENT_KEY="${server.key}")`,
    );
    expect(() => nomadTlsDispatcher({ clientCert: client.cert, clientKey: join(dir, 'missing-key.pem') })).toThrow(
      `cannot read GOFER_NOMAD_CLIENT_KEY="${join(dir, 'missing-key.pem')}": ENOENT`,
    );
  });
});
