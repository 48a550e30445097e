import { ByteAutomaton } from './byte-automaton.js';

/** What every occurrence of a secret is replaced with. */
export const MASK = '[masked]';
const MASK_BYTES = Buffer.from(MASK);
const EMPTY = Buffer.alloc(0);

/**
 * Shortest line of a multi-line secret that is masked on its own (UTF-8 bytes, after trimming
 * whitespace).
 *
 * A program may print one line of a multi-line secret (one line of a PEM key, one field of a JSON
 * document), so each line is masked too, as GitHub Actions does. Short lines are mostly structure
 * (`{`, `}`, `],`, `-----`, `---`, `true`, `EOF`) that would blank unrelated output wherever it
 * appears, while carrying too little of the secret to matter: they are left alone. Whole values
 * are masked whatever their length.
 */
export const MIN_LINE_FRAGMENT_BYTES = 8;

/**
 * Knows the secret values of one task and makes a {@link MaskingStream} per output stream.
 *
 * Masked byte strings, for each non-empty value:
 * - the whole value, whatever its length;
 * - the value without leading and trailing whitespace (a value read from a file often ends with a
 *   newline the program does not print), whatever its length;
 * - each line of a multi-line value (split on `\n`, `\r\n` or `\r`, trimmed) of at least
 *   {@link MIN_LINE_FRAGMENT_BYTES} bytes.
 *
 * Every byte that belongs to any occurrence of any of them is hidden; occurrences that overlap
 * become one {@link MASK}, occurrences that only touch stay one mask each (`ss` → `[masked][masked]`
 * when `s` is a secret). So when one value is a prefix of another, the longer one is masked whole.
 *
 * Matching is on UTF-8 bytes, so a chunk may end inside a character or a secret.
 * Not covered: encodings of a value (base64, URL or JSON escaping) other than the lines above.
 */
export class SecretMasker {
  readonly #automaton: ByteAutomaton;
  readonly #patternCount: number;

  /** @param values - The plain values of every secret the task receives; empty strings are ignored. */
  constructor(values: Iterable<string>) {
    const patterns = new Map<string, Buffer>();
    const add = (text: string) => {
      if (text !== '' && !patterns.has(text)) patterns.set(text, Buffer.from(text, 'utf8'));
    };
    for (const value of values) {
      if (typeof value !== 'string' || value === '') continue;
      add(value);
      add(value.trim());
      if (/[\r\n]/.test(value)) {
        for (const line of value.split(/\r\n|\r|\n/)) {
          const fragment = line.trim();
          if (Buffer.byteLength(fragment) >= MIN_LINE_FRAGMENT_BYTES) add(fragment);
        }
      }
    }
    this.#patternCount = patterns.size;
    this.#automaton = new ByteAutomaton([...patterns.values()]);
  }

  /** How many distinct byte strings are masked (values, trimmed values and line fragments). */
  get patternCount(): number {
    return this.#patternCount;
  }

  /** Length in bytes of the longest masked string; a stream holds back at most one byte less. */
  get maxPatternBytes(): number {
    return this.#automaton.maxPatternLength;
  }

  /** A masking state for one output stream (stdout and stderr each need their own). */
  stream(): MaskingStream {
    return new MaskingStream(this.#automaton);
  }

  /** Masks a complete buffer (e.g. an error message that quotes output). */
  mask(data: Buffer): Buffer {
    const stream = this.stream();
    const head = stream.push(data);
    const tail = stream.end();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  }

  /** Masks a complete string. */
  maskString(text: string): string {
    return this.#patternCount === 0 ? text : this.mask(Buffer.from(text, 'utf8')).toString('utf8');
  }
}

interface MaskedRange {
  /** Absolute stream offsets, end exclusive. */
  start: number;
  end: number;
  /** Its {@link MASK} has been emitted; the bytes up to `end` are dropped as they become final. */
  emitted: boolean;
}

/**
 * Masks one output stream incrementally: {@link push} each chunk as it arrives and emit what it
 * returns, then emit what {@link end} returns.
 *
 * A push returns every byte that can no longer be part of a secret, at once: only a tail that could
 * still be the start of a secret is held back (at most {@link SecretMasker.maxPatternBytes} − 1
 * bytes). There is deliberately no way to force those bytes out — that would leak a secret split
 * across chunks. They are released by the next push that rules the match out (or masks it), and at
 * the latest by {@link end}. Output is the same however the input is split into chunks.
 */
export class MaskingStream {
  readonly #automaton: ByteAutomaton;
  #state = 0;
  /** Bytes read so far. */
  #read = 0;
  /** Offset of the first byte whose output is not decided yet; {@link #held} holds the bytes from here. */
  #decided = 0;
  #held: Buffer = EMPTY;
  /** Matches not completely emitted yet, in order, never overlapping. */
  readonly #ranges: MaskedRange[] = [];
  #ended = false;

  /** @internal Made by {@link SecretMasker.stream}. */
  constructor(automaton: ByteAutomaton) {
    this.#automaton = automaton;
  }

  /** Bytes held back because they could still be the start of a secret (informational). */
  get pendingBytes(): number {
    return this.#read - this.#decided;
  }

  /**
   * Reads the next chunk; returns what may be emitted now (possibly empty). The result may share
   * memory with `chunk`: do not modify `chunk` while the result is in use.
   */
  push(chunk: Buffer): Buffer {
    if (this.#ended) throw new Error('MaskingStream.push() after end()');
    if (this.#automaton.maxPatternLength === 0) return chunk;
    const { next, classOf, classCount, matchLength, holdLength } = this.#automaton;
    const base = this.#decided;
    const data = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    let state = this.#state;
    const offset = this.#read;
    for (let i = 0; i < chunk.length; i++) {
      state = next[state * classCount + classOf[chunk[i]!]!]!;
      const length = matchLength[state]!;
      if (length !== 0) this.#addMatch(offset + i + 1 - length, offset + i + 1);
    }
    this.#state = state;
    this.#read += chunk.length;
    // No later match can start before `final`, so everything before it is decided.
    const final = this.#read - holdLength[state]!;
    return this.#emit(data, base, final);
  }

  /** Ends the stream: returns everything still held back, masked. The stream cannot be used after. */
  end(): Buffer {
    if (this.#ended) return EMPTY;
    this.#ended = true;
    const output = this.#emit(this.#held, this.#decided, this.#read);
    this.#held = EMPTY;
    return output;
  }

  /** Records a match; one that overlaps pending ranges merges with them into one. */
  #addMatch(start: number, end: number): void {
    const ranges = this.#ranges;
    let emitted = false;
    // Matches arrive in order of their end, so only the last ranges can overlap this one.
    while (ranges.length > 0 && ranges[ranges.length - 1]!.end > start) {
      const previous = ranges.pop()!;
      start = Math.min(start, previous.start);
      emitted ||= previous.emitted;
    }
    ranges.push({ start, end, emitted });
  }

  /**
   * Emits the output for bytes [decided, final): raw bytes outside ranges, one mask per range. A range
   * that starts before `final` is announced now even if it may still grow (a later match can only
   * start at or after `final`, so it cannot change where the range starts).
   */
  #emit(data: Buffer, base: number, final: number): Buffer {
    const pieces: Buffer[] = [];
    const ranges = this.#ranges;
    let cursor = this.#decided;
    let done = 0;
    for (; done < ranges.length; done++) {
      const range = ranges[done]!;
      if (range.start >= final) break;
      if (!range.emitted) {
        if (cursor < range.start) pieces.push(data.subarray(cursor - base, range.start - base));
        pieces.push(MASK_BYTES);
        range.emitted = true;
      }
      if (range.end > final) {
        cursor = final;
        break;
      }
      cursor = range.end;
    }
    if (done > 0) ranges.splice(0, done);
    if (cursor < final) pieces.push(data.subarray(cursor - base, final - base));
    this.#decided = final;
    // Copied: the caller may reuse its chunk's memory once push() returns.
    this.#held = final - base < data.length ? Buffer.from(data.subarray(final - base)) : EMPTY;
    if (pieces.length === 0) return EMPTY;
    // A lone mask is copied so that no caller can alter the shared one.
    return pieces.length === 1 && pieces[0] !== MASK_BYTES ? pieces[0]! : Buffer.concat(pieces);
  }
}
