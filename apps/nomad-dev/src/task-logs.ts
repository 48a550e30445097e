// A task's stdout or stderr as Nomad's logmon keeps it: one growing file, `alloc/logs/<task>.<type>.0`,
// read by byte offset. Kept in memory here; the container's output is appended as it arrives.

export class TaskLog {
  private chunks: Buffer[] = [];
  private length = 0;
  private listeners = new Set<(event?: 'file truncated') => void>();

  constructor(readonly file: string) {}

  get size(): number {
    return this.length;
  }

  append(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.length += data.length;
    for (const listener of [...this.listeners]) listener();
  }

  /** The bytes from `offset` (clamped to the file) to the end. */
  read(offset: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = all.length > 0 ? [all] : [];
    return all.subarray(Math.max(0, Math.min(offset, all.length)));
  }

  /** Empties the file, as log rotation's copy-truncate would; readers get a `file truncated` event. */
  truncate(): void {
    this.chunks = [];
    this.length = 0;
    for (const listener of [...this.listeners]) listener('file truncated');
  }

  onChange(listener: (event?: 'file truncated') => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
