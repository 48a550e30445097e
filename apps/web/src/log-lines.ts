// A task log's bytes into lines for the logs page: per stream (a line of stdout and one of stderr
// never run together), ANSI colours rendered as classes (the page's CSP allows no inline styles).
import { AnsiUp } from 'ansi_up';

export interface LogLine {
  stderr: boolean;
  /** The line as written, escape sequences included (what search looks in and Download saves). */
  text: string;
  /** The line as HTML, colours as `ansi-*` classes. */
  html: string;
}

type Stream = 'out' | 'err';

/** A line longer than this is not looked through for its end when a read starts mid-line. */
const MAX_SKIP = 64 * 1024;

/**
 * Splits one read of a log (a tail, a stretch before it, or the whole log) into lines. A read that
 * starts inside the log starts mid-line: that partial line is dropped, and {@link start} says where
 * the first whole line begins (the "load earlier" read ends there, so no line is cut or shown twice).
 */
export class LogLines {
  private readonly ansi = { out: new AnsiUp(), err: new AnsiUp() };
  private readonly decoders = { out: new TextDecoder(), err: new TextDecoder() };
  private readonly partial = { out: '', err: '' };
  private skipping: boolean;
  /** Byte offset, in the attempt's log, of the first byte turned into a line; -1 before any. */
  start = -1;
  /** Where the bytes read so far end (where a resumed read starts). */
  end = 0;

  constructor(startsMidLine: boolean) {
    this.skipping = startsMidLine;
    for (const a of Object.values(this.ansi)) a.use_classes = true;
  }

  /** Adds a chunk that begins at byte `offset` of the log; returns the whole lines it completed. */
  push(stderr: boolean, bytes: Uint8Array, offset: number): LogLine[] {
    this.end = offset + bytes.length;
    let data = bytes;
    let at = offset;
    if (this.skipping) {
      if (this.start < 0) this.start = offset;
      const newline = data.indexOf(0x0a);
      const giveUp = Math.max(0, MAX_SKIP - (at - this.start)); // where in this chunk the search stops
      if ((newline < 0 || newline >= giveUp) && giveUp >= data.length) return []; // still inside the cut line
      // Past the cut line (or given up on a line too long to look through): lines start here.
      const cut = newline >= 0 && newline < giveUp ? newline + 1 : giveUp;
      data = data.subarray(cut);
      at += cut;
      this.skipping = false;
      this.start = at;
    } else if (this.start < 0) {
      this.start = offset;
    }
    const key: Stream = stderr ? 'err' : 'out';
    return this.split(key, this.decoders[key].decode(data, { stream: true }), false);
  }

  /** Ends the read: the last partial line of each stream, if any. */
  finish(): LogLine[] {
    const out: LogLine[] = [];
    for (const key of ['out', 'err'] as const) {
      const rest = this.decoders[key].decode();
      if (this.partial[key] || rest) out.push(...this.split(key, rest, true));
    }
    return out;
  }

  private split(key: Stream, text: string, end: boolean): LogLine[] {
    const parts = (this.partial[key] + text).split('\n');
    this.partial[key] = end ? '' : parts.pop()!;
    return parts.map((part) => ({ stderr: key === 'err', text: part, html: this.ansi[key].ansi_to_html(part) }));
  }
}
