import { describe, expect, it } from 'vitest';
import { coalescing } from './use-load.js';

/** A load whose every call waits until the test ends it, with the answer it is given. */
function controlledLoad() {
  const calls: Array<(answer: string) => void> = [];
  const answers: string[] = [];
  const load = () =>
    new Promise<void>((resolve, reject) => {
      calls.push((answer) => {
        if (answer === 'fail') reject(new Error('down'));
        else answers.push(answer);
        resolve();
      });
    });
  return { load, calls, answers };
}
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('coalescing', () => {
  it('keeps one load in flight, runs exactly one more for any triggers meanwhile, and keeps every answer', async () => {
    const { load, calls, answers } = controlledLoad();
    const trigger = coalescing(load);
    trigger();
    trigger();
    trigger();
    trigger();
    expect(calls).toHaveLength(1); // the others wait for it, not cancel it
    calls[0]!('first');
    await settled();
    expect(answers).toEqual(['first']); // the first answer lands although others were asked for
    expect(calls).toHaveLength(2); // three triggers meanwhile: one more load
    calls[1]!('second');
    await settled();
    expect(calls).toHaveLength(2); // nothing asked during the second: nothing more
    expect(answers).toEqual(['first', 'second']);
  });

  it('runs again at once when idle, and after a failed load as after any other', async () => {
    const { load, calls, answers } = controlledLoad();
    const trigger = coalescing(load);
    trigger();
    calls[0]!('one');
    await settled();
    trigger();
    expect(calls).toHaveLength(2);
    trigger();
    calls[1]!('fail');
    await settled();
    expect(calls).toHaveLength(3);
    calls[2]!('three');
    await settled();
    expect(answers).toEqual(['one', 'three']);
  });
});
