import Docker from 'dockerode';

/**
 * Records every container the engine creates with a given label (from Docker's own event stream, so
 * it counts creations that Gofer might not even know about).
 */
export class ContainerCreations {
  readonly names: string[] = [];
  /** When each creation happened (ms since the epoch, from the engine's clock), in the order of `names`. */
  readonly times: number[] = [];
  private stream: NodeJS.ReadableStream | undefined;

  static async watch(labels: Record<string, string>): Promise<ContainerCreations> {
    const watcher = new ContainerCreations();
    const docker = new Docker({ socketPath: '/var/run/docker.sock' });
    watcher.stream = await docker.getEvents({
      filters: { type: ['container'], event: ['create'], label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
    });
    let buffer = '';
    watcher.stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (!line.trim()) continue;
        const event = JSON.parse(line);
        watcher.names.push(event.Actor?.Attributes?.name);
        watcher.times.push(event.timeNano ? Math.floor(Number(event.timeNano) / 1e6) : Number(event.time) * 1000);
      }
    });
    return watcher;
  }

  /** How many times each container name was created. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const name of this.names) counts.set(name, (counts.get(name) ?? 0) + 1);
    return counts;
  }

  stop(): void {
    (this.stream as unknown as { destroy?: () => void })?.destroy?.();
  }
}
