// Runs once before the suite: fails fast, with a message that says what to start, when a service the
// integration tests need is missing. (CI starts them in .ci/run.)
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

export default async function setup(): Promise<void> {
  const missing: string[] = [];
  if (!(await reachable('127.0.0.1', 5432))) missing.push('Postgres on 127.0.0.1:5432');
  if (!(await reachable('127.0.0.1', 6379))) missing.push('Redis on 127.0.0.1:6379');
  try {
    execFileSync('docker', ['version', '--format', '{{.Server.APIVersion}}'], { stdio: 'pipe' });
  } catch {
    missing.push('Docker engine on /var/run/docker.sock');
  }
  // The web UI's tests drive the system's Chromium (Playwright cannot download a browser here).
  if (!existsSync('/usr/bin/chromium')) missing.push('Chromium at /usr/bin/chromium (apt-get install chromium)');
  if (missing.length > 0) {
    throw new Error(`integration tests need: ${missing.join(', ')} (see .ci/run for how CI starts them)`);
  }
}
