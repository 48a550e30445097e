import { describe, expect, it } from 'vitest';
import { boundedStatusMessage, MAX_STATUS_MESSAGE_BYTES } from './status-message.js';

const sent = (message: string) => encodeURI(message).length;

describe('boundedStatusMessage', () => {
  it('keeps a message that fits as it is', () => {
    const message = 'tasks[0].image: required\ntasks: cycle a -> b -> a';
    expect(boundedStatusMessage(message)).toBe(message);
  });

  it('keeps whole lines while they fit, then says how much was left out', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `tasks[${i}].depends_on.tsak: unknown task "tsak" (did you mean "task"?)`);
    const message = lines.join('\n');
    const bounded = boundedStatusMessage(message);
    expect(sent(bounded)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    const out = bounded.split('\n');
    const kept = out.length - 1;
    expect(out.slice(0, kept)).toStrictEqual(lines.slice(0, kept));
    const leftOut = Buffer.byteLength(message) - Buffer.byteLength(lines.slice(0, kept).join('\n'));
    expect(out[kept]).toBe(`… and ${200 - kept} more problems (${leftOut} bytes left out)`);
    expect(kept).toBeGreaterThan(20);
  });

  it('adds the count of a list that ends by counting what it left out itself', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `tasks[${i}].image: required; a task needs the container image to run, e.g. busybox:latest`);
    const message = [...lines, '(root): 400 more errors not shown; fix the ones above first'].join('\n');
    const out = boundedStatusMessage(message).split('\n');
    const kept = out.length - 1;
    expect(out[kept]).toMatch(new RegExp(`^… and ${100 - kept + 400} more problems \\(\\d+ bytes left out\\)$`));
  });

  it('counts bytes as sent: percent-encoded, so spaces and non-ASCII text take more', () => {
    const line = 'é '.repeat(100);
    const bounded = boundedStatusMessage(Array(40).fill(line).join('\n'));
    expect(sent(bounded)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    expect(Buffer.byteLength(bounded)).toBeLessThan(MAX_STATUS_MESSAGE_BYTES / 2);
    expect(bounded.split('\n').at(-1)).toMatch(/^… and \d+ more problems \(\d+ bytes left out\)$/);
  });

  it('cuts a first line too long by itself, at a whole character', () => {
    const bounded = boundedStatusMessage(`${'🚀'.repeat(5000)}\nsecond`, 1000);
    expect(sent(bounded)).toBeLessThanOrEqual(1000);
    const [first, summary] = bounded.split('\n');
    expect(first).toMatch(/^(🚀)+…$/u);
    const shownBytes = Buffer.byteLength(first!) - Buffer.byteLength('…');
    expect(summary).toBe(`… and 1 more problem (${5000 * 4 + 7 - shownBytes} bytes left out)`);
  });

  it('replaces lone surrogates, which cannot be sent', () => {
    expect(boundedStatusMessage('bad \ud800 and \udfff, good 🚀')).toBe('bad \uFFFD and \uFFFD, good 🚀');
    expect(() => encodeURI(boundedStatusMessage(`${'\ud800'.repeat(10_000)}`))).not.toThrow();
  });
});
