import { describe, expect, it } from 'vitest';
import { fromOffset, lastBytes, upTo, type PlacedChunk, type PositionedChunk } from './log-chunk.js';

const chunk = (data: string, offset?: number, stream: PlacedChunk['stream'] = 'stdout'): PlacedChunk => ({ stream, data: Buffer.from(data), offset });

async function read(chunks: PlacedChunk[], from: number): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for await (const c of fromOffset((async function* () { yield* chunks; })(), from)) out.push([c.offset, c.data.toString()]);
  return out;
}

describe('fromOffset', () => {
  const tests: Array<{ name: string; chunks: PlacedChunk[]; from: number; expected: Array<[number, string]> }> = [
    { name: 'archived frames from the start', chunks: [chunk('abc'), chunk('de')], from: 0, expected: [[0, 'abc'], [3, 'de']] },
    { name: 'archived frames resumed inside a chunk', chunks: [chunk('abc'), chunk('de')], from: 2, expected: [[2, 'c'], [3, 'de']] },
    { name: 'resumed at a chunk boundary', chunks: [chunk('abc'), chunk('de')], from: 3, expected: [[3, 'de']] },
    { name: 'resumed at the end', chunks: [chunk('abc'), chunk('de')], from: 5, expected: [] },
    { name: 'resumed past the end', chunks: [chunk('abc')], from: 99, expected: [] },
    { name: 'live entries placed by their offsets', chunks: [chunk('abc', 0), chunk('de', 3)], from: 1, expected: [[1, 'bc'], [3, 'de']] },
    {
      // An adopting worker clears the stream and writes the container's whole output again: a follower
      // reading on sees offsets start over and must not print them twice.
      name: 'a stretch written again by an adopting worker is not repeated',
      chunks: [chunk('abc', 0), chunk('de', 3), chunk('abcd', 0), chunk('efg', 4)],
      from: 0,
      expected: [[0, 'abc'], [3, 'de'], [5, 'fg']],
    },
    { name: 'a gap (entries lost) is passed over, not waited for', chunks: [chunk('ab', 0), chunk('yz', 10)], from: 0, expected: [[0, 'ab'], [10, 'yz']] },
    { name: 'empty chunks are dropped', chunks: [chunk('', 0), chunk('a', 0)], from: 0, expected: [[0, 'a']] },
  ];
  it.each(tests)('$name', async ({ chunks, from, expected }) => {
    expect(await read(chunks, from)).toEqual(expected);
  });

  it('keeps each chunk\'s stream', async () => {
    const out: string[] = [];
    for await (const c of fromOffset((async function* () { yield chunk('o', 0, 'stdout'); yield chunk('e', 1, 'stderr'); })(), 0)) out.push(c.stream);
    expect(out).toEqual(['stdout', 'stderr']);
  });
});

const positioned = (...parts: Array<[number, string]>): PositionedChunk[] => parts.map(([offset, data]) => ({ stream: 'stdout', data: Buffer.from(data), offset }));
const each = async function* (chunks: PositionedChunk[]) {
  yield* chunks;
};
const flat = (chunks: PositionedChunk[]) => chunks.map((c): [number, string] => [c.offset, c.data.toString()]);

describe('upTo', () => {
  const tests: Array<{ name: string; end: number; expected: Array<[number, string]> }> = [
    { name: 'cuts inside a chunk', end: 4, expected: [[0, 'abc'], [3, 'd']] },
    { name: 'stops at a chunk boundary', end: 3, expected: [[0, 'abc']] },
    { name: 'past the end: everything', end: 99, expected: [[0, 'abc'], [3, 'de']] },
    { name: 'nothing before byte 0', end: 0, expected: [] },
  ];
  it.each(tests)('$name', async ({ end, expected }) => {
    const out: PositionedChunk[] = [];
    for await (const c of upTo(each(positioned([0, 'abc'], [3, 'de'])), end)) out.push(c);
    expect(flat(out)).toEqual(expected);
  });

  it('stops reading once past the end (a follow after the stretch is not waited for)', async () => {
    let pulled = 0;
    const endless = async function* () {
      for (let i = 0; ; i++) {
        pulled++;
        yield { stream: 'stdout' as const, data: Buffer.from('xy'), offset: i * 2 };
      }
    };
    const out: PositionedChunk[] = [];
    for await (const c of upTo(endless(), 5)) out.push(c);
    expect(flat(out)).toEqual([[0, 'xy'], [2, 'xy'], [4, 'x']]);
    expect(pulled).toBe(3);
  });
});

describe('lastBytes', () => {
  const tests: Array<{ name: string; bytes: number; expected: Array<[number, string]> }> = [
    { name: 'a tail inside the first chunk', bytes: 4, expected: [[1, 'bc'], [3, 'de']] },
    { name: 'a tail at a chunk boundary', bytes: 2, expected: [[3, 'de']] },
    { name: 'a tail inside the last chunk', bytes: 1, expected: [[4, 'e']] },
    { name: 'a log shorter than the tail: all of it', bytes: 99, expected: [[0, 'abc'], [3, 'de']] },
  ];
  it.each(tests)('$name', async ({ bytes, expected }) => {
    const { chunks, end } = await lastBytes(each(positioned([0, 'abc'], [3, 'de'])), bytes);
    expect(flat(chunks)).toEqual(expected);
    expect(end).toBe(5);
  });

  it('an empty log: nothing, ending at 0', async () => {
    expect(await lastBytes(each([]), 10)).toEqual({ chunks: [], end: 0 });
  });

  it('keeps only the window of a long log of small chunks, in order', async () => {
    const many = Array.from({ length: 10_000 }, (_, i): [number, string] => [i * 4, String(i).padStart(4, '0')]);
    const { chunks, end } = await lastBytes(each(positioned(...many)), 10);
    expect(flat(chunks)).toEqual([[39_990, '97'], [39_992, '9998'], [39_996, '9999']]);
    expect(end).toBe(40_000);
  });
});
