import { describe, expect, it } from 'vitest';
import { interpolate, scanInterpolations } from './interpolation.js';

describe('scanInterpolations', () => {
  it('finds each kind of reference, alone or inside text', () => {
    const value = 'pipeline_secret{{A}} global_secret{{b.c}}:pipeline_object{{d-e}}/run_object{{F_1}}';
    expect(scanInterpolations(value)).toStrictEqual({
      refs: [
        { kind: 'pipeline_secret', key: 'A', start: 0, end: 20 },
        { kind: 'global_secret', key: 'b.c', start: 21, end: 41 },
        { kind: 'pipeline_object', key: 'd-e', start: 42, end: 64 },
        { kind: 'run_object', key: 'F_1', start: 65, end: 82 },
      ],
      errors: [],
    });
  });

  it.each([
    ['plain text', 'hello'],
    ['a Go template', '{{ .Name }} and {{range .}}'],
    ['a word that does not look like a kind', 'foo{{bar}}'],
    ['an empty value', ''],
  ])('leaves %s alone', (_, value) => {
    expect(scanInterpolations(value)).toStrictEqual({ refs: [], errors: [] });
  });

  it.each([
    ['pipline_secret{{A}}', 'unknown interpolation "pipline_secret{{…}}" (did you mean "pipeline_secret"?); use pipeline_secret, global_secret, pipeline_object or run_object, e.g. pipeline_secret{{KEY}}'],
    ['secret{{A}}', 'unknown interpolation "secret{{…}}"; use pipeline_secret, global_secret, pipeline_object or run_object, e.g. pipeline_secret{{KEY}}'],
    ['Run_Object{{A}}', 'unknown interpolation "Run_Object{{…}}" (did you mean "run_object"?); use pipeline_secret, global_secret, pipeline_object or run_object, e.g. pipeline_secret{{KEY}}'],
    ['x pipeline_secret{{A', 'unterminated "pipeline_secret{{": write pipeline_secret{{KEY}}'],
    ['pipeline_secret{{ A }}', 'invalid key " A " in pipeline_secret{{…}}: keys are 1 to 256 letters, digits, _, . or - (no spaces)'],
    ['run_object{{a/b}}', 'invalid key "a/b" in run_object{{…}}: keys are 1 to 256 letters, digits, _, . or - (no spaces)'],
  ])('reports %j', (value, message) => {
    expect(scanInterpolations(value).errors).toStrictEqual([message]);
  });

  it('shows a long unknown kind cut short', () => {
    const word = `${'x'.repeat(100_000)}_secret`;
    expect(scanInterpolations(`${word}{{A}}`).errors).toStrictEqual([
      `unknown interpolation "…${word.slice(-39)}{{…}}"; use pipeline_secret, global_secret, pipeline_object or run_object, e.g. pipeline_secret{{KEY}}`,
    ]);
  });

  it('stays linear on long values without braces', () => {
    const value = 'a'.repeat(200_000) + '{{';
    expect(scanInterpolations(value).errors).toStrictEqual([]);
  });
});

describe('interpolate', () => {
  it('replaces well-formed references and keeps the rest of the text', () => {
    const resolved = interpolate('Bearer pipeline_secret{{TOKEN}} at run_object{{url}} {{ .Name }}', (ref) => `<${ref.kind}:${ref.key}>`);
    expect(resolved).toBe('Bearer <pipeline_secret:TOKEN> at <run_object:url> {{ .Name }}');
  });

  it('does not re-read replaced text as references', () => {
    expect(interpolate('pipeline_secret{{A}}', () => 'pipeline_secret{{B}}')).toBe('pipeline_secret{{B}}');
  });
});
