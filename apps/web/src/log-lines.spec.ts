import { describe, expect, it } from 'vitest';
import { LogLines } from './log-lines.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const texts = (lines: Array<{ text: string }>) => lines.map((l) => l.text);

describe('LogLines', () => {
  it('splits a log read from its start into lines, per stream, the last partial one at the end', () => {
    const lines = new LogLines(false);
    const out = [
      ...lines.push(false, bytes('one\ntw'), 0),
      ...lines.push(true, bytes('err\n'), 6),
      ...lines.push(false, bytes('o\nthree'), 10),
      ...lines.finish(),
    ];
    expect(texts(out)).toEqual(['one', 'err', 'two', 'three']);
    expect(out.map((l) => l.stderr)).toEqual([false, true, false, false]);
    expect([lines.start, lines.end]).toEqual([0, 17]);
  });

  it('drops the cut line a read from inside the log starts with, and says where whole lines begin', () => {
    const lines = new LogLines(true);
    expect(lines.push(false, bytes('ut line'), 100)).toEqual([]); // no newline yet: still the cut line
    expect(texts(lines.push(false, bytes(' end\nfirst\nsec'), 107))).toEqual(['first']);
    expect(lines.start).toBe(112);
    expect(texts(lines.finish())).toEqual(['sec']);
  });

  it('keeps a multi-byte character split across chunks whole', () => {
    const lines = new LogLines(false);
    const all = bytes('é\n');
    expect(texts([...lines.push(false, all.subarray(0, 1), 0), ...lines.push(false, all.subarray(1), 1)])).toEqual(['é']);
  });

  it('renders colours as classes, carried to the next line of the same stream', () => {
    const lines = new LogLines(false);
    const out = lines.push(false, bytes('\u001b[32mgreen\nstill green\u001b[0m\n'), 0);
    expect(out[0]!.html).toBe('<span class="ansi-green-fg">green</span>');
    expect(out[1]!.html).toBe('<span class="ansi-green-fg">still green</span>');
    expect(out[0]!.text).toBe('\u001b[32mgreen');
  });

  it('gives up looking for the end of an endless cut line after 64 KiB, and shows the rest', () => {
    const lines = new LogLines(true);
    expect(lines.push(false, bytes('x'.repeat(60 * 1024)), 0)).toEqual([]);
    expect(texts(lines.push(false, bytes(`${'y'.repeat(8 * 1024)}\n`), 60 * 1024))).toEqual(['y'.repeat(4 * 1024)]);
    expect(lines.start).toBe(64 * 1024);
  });

  it('escapes HTML in the log', () => {
    const lines = new LogLines(false);
    expect(lines.push(false, bytes('<img src=x onerror=alert(1)>\n'), 0)[0]!.html).toBe('&lt;img src=x onerror=alert(1)&gt;');
  });
});
