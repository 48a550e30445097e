import { connect, createServer, type Server, type Socket } from 'node:net';

/** Where connections went, for asserting that traffic moved to a surviving upstream. */
export interface BalancerStats {
  /** Client connections open right now. */
  active: number;
  /** Client connections forwarded to each upstream (by `host:port`), since the balancer started. */
  forwarded: Record<string, number>;
  /** Connections open to each upstream right now. */
  open: Record<string, number>;
  /** Upstream connects that failed (the next upstream was tried). */
  skipped: number;
  /** Client connections closed because no upstream took them. */
  refused: number;
}

/**
 * A connection-level (L4) round-robin load balancer in front of several Gofer API replicas, as an
 * operator would put a TCP balancer or DNS round-robin in front of a cluster's gRPC port: each client
 * connection goes to the next upstream; an upstream that refuses the connect is skipped for the next
 * one; a connection whose upstream dies is closed (the client reconnects and lands on a live one).
 * It listens on 127.0.0.1 on a free port. No health checks: a dead replica costs one failed connect.
 */
export class TcpBalancer {
  private next = 0;
  private readonly sockets = new Set<Socket>();
  private readonly counts = { skipped: 0, refused: 0 };
  private readonly forwarded: Record<string, number> = {};
  private readonly open: Record<string, number> = {};

  private constructor(
    private readonly server: Server,
    /** The port the balancer listens on (127.0.0.1). */
    readonly port: number,
    private readonly upstreams: readonly string[],
  ) {
    for (const upstream of upstreams) {
      this.forwarded[upstream] = 0;
      this.open[upstream] = 0;
    }
    server.on('connection', (client) => this.accept(client));
  }

  /** Starts a balancer in front of `upstreams` (`host:port` each). */
  static async start(upstreams: readonly string[]): Promise<TcpBalancer> {
    if (upstreams.length === 0) throw new Error('a balancer needs at least one upstream');
    const server = createServer({ noDelay: true });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (typeof address === 'object' && address) resolve(address.port);
        else reject(new Error('the balancer has no port'));
      });
    });
    return new TcpBalancer(server, port, upstreams);
  }

  /** `127.0.0.1:<port>`: the cluster's entry point, for clients and for GOFER_ADVERTISE_ADDR. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  stats(): BalancerStats {
    return { active: this.sockets.size, forwarded: { ...this.forwarded }, open: { ...this.open }, ...this.counts };
  }

  /** Closes every connection and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy(); // each client's 'close' destroys its upstream
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.pause(); // bytes wait in the socket until an upstream takes them
    client.on('error', () => undefined);
    client.once('close', () => this.sockets.delete(client));
    const first = this.next;
    this.next = (this.next + 1) % this.upstreams.length;
    this.tryUpstream(client, first, 0);
  }

  private tryUpstream(client: Socket, index: number, tried: number): void {
    if (client.destroyed) return;
    if (tried === this.upstreams.length) {
      this.counts.refused += 1;
      client.destroy();
      return;
    }
    const target = this.upstreams[index % this.upstreams.length];
    const [host, port] = splitAddress(target);
    const upstream = connect({ host, port, noDelay: true });
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      if (client.destroyed) {
        upstream.destroy(); // the client gave up while this connect was under way
        return;
      }
      this.forwarded[target] += 1;
      this.open[target] += 1;
      upstream.once('close', () => {
        this.open[target] -= 1;
        client.destroy();
      });
      client.once('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', () => {
      if (connected) return; // 'close' follows and closes the client
      this.counts.skipped += 1;
      upstream.destroy();
      this.tryUpstream(client, index + 1, tried + 1);
    });
  }
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}
