import { loadConfig } from '@gofer/config';
import { describe, expect, it } from 'vitest';
import { advertiseAddressProblem, createScheduler } from './create-scheduler.js';

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
