/** A piece of a task's output and the stream it came from (`system`: Gofer's own notes, e.g. truncation). */
export interface LogChunk {
  stream: 'stdout' | 'stderr' | 'system';
  data: Buffer;
}
