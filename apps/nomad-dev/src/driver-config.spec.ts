import { describe, expect, it } from 'vitest';
import { decodeDriverConfig } from './docker-task.runner.js';

// What Nomad's client does to a docker task's config before the driver sees it (HCL decoding).
describe('decodeDriverConfig', () => {
  const env = { NOMAD_JOB_ID: 'job-1', GREETING: 'hi' };

  it('evaluates templates over the task environment and unescapes $${ and %%{', () => {
    expect(decodeDriverConfig({ image: 'busybox:latest', args: ['${GREETING} ${NOMAD_JOB_ID}', '$${HOME} %%{x}'] }, env)).toEqual({
      image: 'busybox:latest', args: ['hi job-1', '${HOME} %{x}'],
    });
  });

  it('fails an unknown variable as Nomad does ("Unknown variable")', () => {
    expect(() => decodeDriverConfig({ command: 'echo ${HOME}' }, env)).toThrow(/Unknown variable: There is no variable named "HOME"/);
  });

  it('takes labels only as a list of maps (the driver spec says list(map(string)))', () => {
    expect(decodeDriverConfig({ labels: [{ a: '1' }, { b: '2' }] }, env)).toEqual({ labels: [{ a: '1' }, { b: '2' }] });
    expect(() => decodeDriverConfig({ labels: { a: '1' } }, env)).toThrow(/list of map of string required/);
  });
});
