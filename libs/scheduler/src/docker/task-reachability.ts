import { splitAddress } from '@gofer/config';

/**
 * Why task and trigger containers on Docker network `network` could not reach the API at
 * `advertiseAddr` (their GOFER_HOST), or undefined. A loopback address inside a container is the container itself, unless the
 * container shares the host's network.
 */
export function dockerAdvertiseAddressProblem(advertiseAddr: string, network: string): string | undefined {
  const { host } = splitAddress(advertiseAddr);
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (!loopback || network === 'host') return undefined;
  return `tasks and triggers are told to reach Gofer at ${advertiseAddr} (GOFER_HOST), a loopback address that inside a ` +
    'container is the container itself: no trigger can post its events, and a task using its API token or the gofer ' +
    'CLI will not connect. Run containers with GOFER_DOCKER_NETWORK=host, or set GOFER_ADVERTISE_ADDR to an address containers can reach';
}
