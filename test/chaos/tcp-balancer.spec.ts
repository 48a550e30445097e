import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gofer-process.js';
import { TcpBalancer } from '../support/tcp-balancer.js';

/** An upstream that answers each line with its own name, so a client can tell where it landed. */
interface Upstream {
  name: string;
  address: string;
  server: Server;
  sockets: Set<Socket>;
}

async function upstream(name: string): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', () => socket.write(name));
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  return { name, address: `127.0.0.1:${port}`, server, sockets };
}

/** Stops an upstream the hard way: its open connections die with it, as with a SIGKILLed process. */
async function kill(u: Upstream): Promise<void> {
  u.sockets.forEach((s) => s.destroy());
  await new Promise((r) => u.server.close(r));
}

/** Connects through the balancer and returns who answered, and the socket. */
async function ask(port: number): Promise<{ answer: string; socket: Socket; closed: () => boolean }> {
  const socket = connect({ host: '127.0.0.1', port });
  let closed = false;
  socket.on('error', () => undefined);
  socket.once('close', () => (closed = true));
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket.write('who?');
  await waitFor('an answer', async () => (answer || closed ? true : undefined), 5_000);
  return { answer, socket, closed: () => closed };
}

describe('TcpBalancer', () => {
  let a: Upstream;
  let b: Upstream;
  let balancer: TcpBalancer;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    a = await upstream('a');
    b = await upstream('b');
    balancer = await TcpBalancer.start([a.address, b.address]);
  });

  afterEach(async () => {
    sockets.splice(0).forEach((s) => s.destroy());
    await balancer.close();
    for (const u of [a, b]) {
      if (u.server.listening) await kill(u);
    }
  });

  it('spreads connections round-robin and counts them', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { answer, socket } = await ask(balancer.port);
      sockets.push(socket);
      answers.push(answer);
    }
    expect(answers).toEqual(['a', 'b', 'a', 'b']);
    expect(balancer.stats()).toMatchObject({ forwarded: { [a.address]: 2, [b.address]: 2 }, open: { [a.address]: 2, [b.address]: 2 }, skipped: 0 });
    expect(balancer.address).toBe(`127.0.0.1:${balancer.port}`);
  });

  it('closes the connections of an upstream that dies, and skips it for new ones', async () => {
    const onA = await ask(balancer.port);
    sockets.push(onA.socket);
    expect(onA.answer).toBe('a');
    await kill(a);
    await waitFor('the client of the dead upstream to be closed', async () => (onA.closed() ? true : undefined), 5_000);
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { answer, socket } = await ask(balancer.port);
      sockets.push(socket);
      answers.push(answer);
    }
    expect(answers).toEqual(['b', 'b', 'b']);
    expect(balancer.stats().skipped).toBeGreaterThan(0);
    expect(balancer.stats().open[a.address]).toBe(0);
  });

  it('closes a client that no upstream takes', async () => {
    await kill(a);
    await kill(b);
    const { answer, closed } = await ask(balancer.port);
    expect(answer).toBe('');
    expect(closed()).toBe(true);
    expect(balancer.stats()).toMatchObject({ refused: 1, skipped: 2 });
  });

  it('refuses to start without upstreams', async () => {
    await expect(TcpBalancer.start([])).rejects.toThrow('at least one upstream');
  });
});
