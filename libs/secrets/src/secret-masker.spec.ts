import { describe, expect, it } from 'vitest';
import { MASK, MIN_LINE_FRAGMENT_BYTES, SecretMasker, type MaskingStream } from './secret-masker.js';

/** Pushes `chunks` through a fresh stream; returns every emitted buffer (the last one from end()). */
function run(masker: SecretMasker, chunks: Buffer[]): Buffer[] {
  const stream = masker.stream();
  const emitted = chunks.map((chunk) => stream.push(chunk));
  emitted.push(stream.end());
  return emitted;
}

function splitAt(data: Buffer, cuts: number[]): Buffer[] {
  const points = [0, ...cuts, data.length];
  return points.slice(1).map((end, i) => data.subarray(points[i], end));
}

/**
 * The specification, written the slow and obvious way: find every occurrence of every masked string
 * (overlaps included), merge occurrences that share a byte, replace each merged run with one mask.
 */
function referenceMask(values: string[], input: Buffer): Buffer {
  const patterns = new Set<string>();
  for (const value of values) {
    if (value === '') continue;
    patterns.add(value);
    if (value.trim() !== '') patterns.add(value.trim());
    if (/[\r\n]/.test(value)) {
      for (const line of value.split(/\r\n|\r|\n/)) {
        if (Buffer.byteLength(line.trim()) >= MIN_LINE_FRAGMENT_BYTES) patterns.add(line.trim());
      }
    }
  }
  const occurrences: Array<[number, number]> = [];
  for (const pattern of patterns) {
    const bytes = Buffer.from(pattern);
    for (let at = input.indexOf(bytes); at !== -1; at = input.indexOf(bytes, at + 1)) occurrences.push([at, at + bytes.length]);
  }
  occurrences.sort((a, b) => a[0] - b[0]);
  const pieces: Buffer[] = [];
  let cursor = 0;
  let run: [number, number] | undefined;
  for (const [start, end] of occurrences) {
    if (run && start < run[1]) {
      run[1] = Math.max(run[1], end);
      continue;
    }
    if (run) cursor = run[1];
    pieces.push(input.subarray(cursor, start), Buffer.from(MASK));
    run = [start, end];
  }
  if (run) cursor = run[1];
  pieces.push(input.subarray(cursor));
  return Buffer.concat(pieces);
}

/** Every split of `input` into two chunks, plus one byte at a time and all at once. */
function splits(input: Buffer): Buffer[][] {
  const result: Buffer[][] = [[input], splitAt(input, Array.from({ length: Math.max(0, input.length - 1) }, (_, i) => i + 1))];
  for (let cut = 0; cut <= input.length; cut++) result.push(splitAt(input, [cut]));
  return result;
}

const pem = [
  '-----BEGIN PRIVATE KEY-----',
  'MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEAq7BFUpkGp3+XQorz',
  'Ab3=',
  '-----END PRIVATE KEY-----',
].join('\n');
const json = '{\n  "user": "deploy-bot",\n  "password": "c0rrect-h0rse"\n}\n';

const cases: Array<{ name: string; values: string[]; input: string; expected: string }> = [
  { name: 'one occurrence', values: ['s3cret'], input: 'token=s3cret;', expected: `token=${MASK};` },
  { name: 'at the start and the end', values: ['s3cret'], input: 's3cret and s3cret', expected: `${MASK} and ${MASK}` },
  { name: 'the whole input', values: ['s3cret'], input: 's3cret', expected: MASK },
  { name: 'adjacent occurrences', values: ['s3cret'], input: 's3crets3cret', expected: `${MASK}${MASK}` },
  { name: 'adjacent different values', values: ['ab', 'cd'], input: 'xabcdx', expected: `x${MASK}${MASK}x` },
  { name: 'overlapping occurrences of one value', values: ['aba'], input: 'xababax', expected: `x${MASK}x` },
  { name: 'a run of a repeated value', values: ['aa'], input: 'aaaaa b aa', expected: `${MASK} b ${MASK}` },
  { name: 'overlapping different values (no tail leaks)', values: ['abc', 'cde'], input: '-abcde-', expected: `-${MASK}-` },
  { name: 'a value that is a prefix of another: longest wins', values: ['pass', 'password'], input: 'password passw pass', expected: `${MASK} ${MASK}w ${MASK}` },
  { name: 'a value inside another', values: ['b', 'abc'], input: 'abc b ab', expected: `${MASK} ${MASK} a${MASK}` },
  { name: 'an incomplete value is kept', values: ['s3cret'], input: 's3cre s3c', expected: 's3cre s3c' },
  { name: 'a one-character value', values: ['x'], input: 'xaxx', expected: `${MASK}a${MASK}${MASK}` },
  { name: 'empty values are ignored', values: ['', 'abc', ''], input: 'abc', expected: MASK },
  { name: 'no values', values: [], input: 'nothing to hide', expected: 'nothing to hide' },
  { name: 'multi-byte UTF-8', values: ['пароль🔑'], input: 'é пароль🔑 €', expected: `é ${MASK} €` },
  { name: 'overlapping multi-byte occurrences', values: ['€€'], input: '€€€ €€', expected: `${MASK} ${MASK}` },
  { name: 'a value with regex and HTML characters', values: ['a.*b$<i>'], input: 'aXXb a.*b$<i>', expected: `aXXb ${MASK}` },
  { name: 'a value with a trailing newline, printed without it', values: ['hunter2\n'], input: 'pw=hunter2.', expected: `pw=${MASK}.` },
  { name: 'a value with a trailing newline, printed with it', values: ['hunter2\n'], input: 'pw=hunter2\nnext', expected: `pw=${MASK}next` },
  { name: 'a multi-line value printed whole', values: [pem], input: `key:\n${pem}\ndone`, expected: `key:\n${MASK}\ndone` },
  {
    name: 'one line of a multi-line value',
    values: [pem],
    input: 'line: MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEAq7BFUpkGp3+XQorz\n',
    expected: `line: ${MASK}\n`,
  },
  { name: 'header lines of a PEM value are masked (long enough)', values: [pem], input: '-----END PRIVATE KEY-----', expected: MASK },
  { name: 'short lines of a multi-line value are not', values: [pem, json], input: 'Ab3= ----- { }', expected: 'Ab3= ----- { }' },
  { name: 'one line of a JSON value', values: [json], input: 'got:   "user": "deploy-bot",\n', expected: `got:   ${MASK}\n` },
  { name: 'CRLF multi-line values', values: ['first-line-abc\r\nsecond-line-def'], input: 'a second-line-def b first-line-abc\r\nsecond-line-def', expected: `a ${MASK} b ${MASK}` },
  { name: 'a multi-line value with an indented line', values: ['x\n    indented-part\n'], input: '>indented-part<', expected: `>${MASK}<` },
  { name: 'a line exactly at the minimum length', values: ['12345678\nab'], input: '12345678 1234567', expected: `${MASK} 1234567` },
  { name: 'bytes that are not UTF-8', values: ['abc'], input: '\u0000\u00ff abc', expected: `\u0000\u00ff ${MASK}` },
];

describe('SecretMasker', () => {
  it.each(cases)('masks $name, however the input is split', ({ values, input, expected }) => {
    const masker = new SecretMasker(values);
    const bytes = Buffer.from(input);
    expect(referenceMask(values, bytes).toString()).toBe(expected);
    for (const chunks of splits(bytes)) {
      expect(Buffer.concat(run(masker, chunks)).toString()).toBe(expected);
    }
    expect(masker.maskString(input)).toBe(expected);
    expect(masker.mask(bytes).toString()).toBe(expected);
  });

  it('masks a value split over many pushes, including inside a character', () => {
    const masker = new SecretMasker(['ключ-🔑-key']);
    const bytes = Buffer.from('<ключ-🔑-key>');
    const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    const emitted = run(masker, chunks);
    expect(Buffer.concat(emitted).toString()).toBe(`<${MASK}>`);
  });

  it('emits what cannot be a secret at once, holding back only a possible start', () => {
    const masker = new SecretMasker(['s3cret']);
    const stream = masker.stream();
    expect(stream.push(Buffer.from('hello ')).toString()).toBe('hello ');
    expect(stream.pendingBytes).toBe(0);
    expect(stream.push(Buffer.from('world s3c')).toString()).toBe('world ');
    expect(stream.pendingBytes).toBe(3);
    expect(stream.push(Buffer.from('ond ')).toString()).toBe('s3cond ');
    expect(stream.push(Buffer.from('s3cr')).toString()).toBe('');
    expect(stream.push(Buffer.from('et')).toString()).toBe(MASK);
    expect(stream.pendingBytes).toBe(0);
    expect(stream.push(Buffer.from('!s')).toString()).toBe('!');
    expect(stream.end().toString()).toBe('s');
  });

  it('holds a complete value while a longer one may still follow', () => {
    const stream = new SecretMasker(['token', 'token-long']).stream();
    expect(stream.push(Buffer.from('a token')).toString()).toBe('a ');
    expect(stream.push(Buffer.from('-l')).toString()).toBe('');
    // The final "t" could start another "token".
    expect(stream.push(Buffer.from('ost')).toString()).toBe(`${MASK}-los`);
    expect(stream.end().toString()).toBe('t');
  });

  it('announces a match early when a later overlap could only extend it', () => {
    // "xab" is complete; "abzz" may still overlap it, but cannot start before the "a".
    const stream = new SecretMasker(['xab', 'abzz']).stream();
    expect(stream.push(Buffer.from('xabz')).toString()).toBe(MASK);
    expect(stream.push(Buffer.from('z!')).toString()).toBe('!');
    expect(stream.end().toString()).toBe('');
  });

  it('releases held bytes at end()', () => {
    const stream = new SecretMasker(['s3cret']).stream();
    expect(stream.push(Buffer.from('s3cre')).toString()).toBe('');
    expect(stream.end().toString()).toBe('s3cre');
    expect(stream.end()).toHaveLength(0);
    expect(() => stream.push(Buffer.from('x'))).toThrow('MaskingStream.push() after end()');
  });

  it('keeps streams independent', () => {
    const masker = new SecretMasker(['s3cret']);
    const stdout = masker.stream();
    const stderr = masker.stream();
    expect(stdout.push(Buffer.from('s3c')).toString()).toBe('');
    expect(stderr.push(Buffer.from('ret s3')).toString()).toBe('ret ');
    expect(stdout.push(Buffer.from('ret')).toString()).toBe(MASK);
    expect(stderr.end().toString()).toBe('s3');
  });

  it('is not affected by the caller reusing its chunk buffer', () => {
    const stream = new SecretMasker(['s3cret']).stream();
    const chunk = Buffer.from('ab s3c');
    const first = stream.push(chunk).toString();
    chunk.fill('z');
    expect(first + stream.push(Buffer.from('ret')).toString() + stream.end().toString()).toBe(`ab ${MASK}`);
  });

  it('passes chunks through untouched when there is nothing to mask', () => {
    const stream = new SecretMasker(['', '']).stream();
    const chunk = Buffer.from('plain');
    expect(stream.push(chunk)).toBe(chunk);
    expect(stream.push(Buffer.alloc(0))).toHaveLength(0);
  });

  it('counts the masked strings', () => {
    const masker = new SecretMasker(['abc', 'abc', ' padded ', 'line-number-one\nline-number-two\n}']);
    // abc; " padded " and "padded"; the whole multi-line value and its two long lines (not "}").
    expect(masker.patternCount).toBe(6);
    expect(masker.maxPatternBytes).toBe(Buffer.byteLength('line-number-one\nline-number-two\n}'));
  });
});

describe('SecretMasker on random input (property)', () => {
  // Deterministic PRNG so a failure is reproducible (mulberry32).
  function random(seed: number) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  // No character of "[masked]" appears, so a mask can never spell a secret with its neighbours.
  const alphabet = ['x', 'y', 'z', 'X', 'Y', '0', '1', ' ', '\n', 'é', '€', '😀'];

  function scenario(seed: number) {
    const next = random(seed);
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
    const text = (length: number) => Array.from({ length }, () => pick(alphabet)).join('');
    const values = Array.from({ length: 1 + Math.floor(next() * 5) }, () => text(1 + Math.floor(next() * 12)));
    // Some values share prefixes with others, some are multi-line with long lines.
    if (next() < 0.5) values.push(values[0]! + text(3));
    if (next() < 0.5) values.push(`${text(9)}\n${text(10)}\n${text(2)}`);
    let input = '';
    while (input.length < 200 + next() * 400) input += next() < 0.15 ? pick(values) : text(1 + Math.floor(next() * 8));
    if (next() < 0.3) input += values[values.length - 1]!.split('\n')[0];
    return { next, values, input: Buffer.from(input) };
  }

  function randomChunks(next: () => number, input: Buffer, maxChunk: number): Buffer[] {
    const cuts: number[] = [];
    for (let at = 0; at < input.length; ) {
      at += 1 + Math.floor(next() * maxChunk);
      if (at < input.length) cuts.push(at);
    }
    return splitAt(input, cuts);
  }

  it.each(Array.from({ length: 150 }, (_, i) => i + 1))('seed %i: any chunking gives the one-shot result and never emits a secret', (seed) => {
    const { next, values, input } = scenario(seed);
    const masker = new SecretMasker(values);
    const expected = referenceMask(values, input);
    const wholeValues = values.filter((value) => value !== '').map((value) => Buffer.from(value));
    const longestValue = Math.max(...wholeValues.map((value) => value.length));

    const chunkings = [[input], ...[1, 2, 3, 7, 16, 64].map((max) => randomChunks(next, input, max))];
    if (seed <= 10) for (let cut = 0; cut <= input.length; cut++) chunkings.push(splitAt(input, [cut]));

    for (const chunks of chunkings) {
      const stream: MaskingStream = masker.stream();
      const emitted: Buffer[] = [];
      const problems: string[] = [];
      // The end of what was emitted before, long enough to hold all but one byte of any value.
      let tail = Buffer.alloc(0);
      for (const chunk of chunks) {
        const output = stream.push(chunk);
        emitted.push(output);
        // (Plain checks here, one expect per chunking: expect() is slow enough to dominate the test.)
        if (stream.pendingBytes > masker.maxPatternBytes - 1) problems.push(`held ${stream.pendingBytes} bytes`);
        // Nothing emitted, on its own or joined with what came before, contains a secret.
        const joined = Buffer.concat([tail, output]);
        for (const value of wholeValues) if (joined.includes(value)) problems.push(`emitted ${JSON.stringify(value.toString())}`);
        tail = joined.subarray(Math.max(0, joined.length - longestValue));
      }
      emitted.push(stream.end());
      expect(problems).toEqual([]);
      expect(stream.pendingBytes).toBe(0);
      const output = Buffer.concat(emitted);
      expect(output.equals(expected)).toBe(true);
      for (const value of wholeValues) expect(output.includes(value)).toBe(false);
    }
  });
});
