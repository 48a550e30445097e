import { describe, expect, it } from 'vitest';
import { fromOffset, type PlacedChunk } from './log-chunk.js';

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
