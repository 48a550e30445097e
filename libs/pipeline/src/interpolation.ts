import { quoteForMessage } from './config-issue.js';
import { didYouMean } from './did-you-mean.js';

/** Where an interpolated value comes from (docs/design.md §2). */
export type InterpolationKind = 'pipeline_secret' | 'global_secret' | 'pipeline_object' | 'run_object';

/** Every {@link InterpolationKind}, in the order messages list them. */
export const INTERPOLATION_KINDS: readonly InterpolationKind[] = [
  'pipeline_secret',
  'global_secret',
  'pipeline_object',
  'run_object',
];

/** Keys inside `kind{{KEY}}`: 1 to 256 letters, digits, `_`, `.` or `-`. */
export const INTERPOLATION_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,256}$/;

/** One `kind{{KEY}}` reference found in a value; `start`/`end` delimit it (end exclusive). */
export interface InterpolationRef {
  kind: InterpolationKind;
  key: string;
  start: number;
  end: number;
}

/** The references in a value and the problems with any that are malformed. */
export interface InterpolationScan {
  refs: InterpolationRef[];
  errors: string[];
}

// Only a word naming a kind, or ending like one (`…secret`, `…object`), right before `{{` makes an
// interpolation: other `{{` (Go or Jinja templates in a value) are plain text.
const LOOKS_LIKE_A_KIND = /(secret|object)$/i;
const KIND_LIST = 'pipeline_secret, global_secret, pipeline_object or run_object';

/**
 * Finds the `pipeline_secret{{KEY}}`, `global_secret{{KEY}}`, `pipeline_object{{KEY}}` and
 * `run_object{{KEY}}` references in a variable or registry-auth value. References may sit inside
 * other text (`Bearer pipeline_secret{{TOKEN}}`). Attempted references that are malformed (unknown
 * kind such as `pipline_secret{{X}}`, missing `}}`, bad key) are reported in `errors`, one sentence
 * each.
 */
export function scanInterpolations(value: string): InterpolationScan {
  const refs: InterpolationRef[] = [];
  const errors: string[] = [];
  // indexOf and a backward scan rather than a regex: a word-then-`{{` regex backtracks
  // quadratically on long values without braces.
  for (let open = value.indexOf('{{'); open !== -1; open = value.indexOf('{{', open + 2)) {
    let start = open;
    while (start > 0 && isWordChar(value.charCodeAt(start - 1))) start--;
    const word = value.slice(start, open);
    const keyStart = open + 2;
    if (!isKind(word)) {
      if (LOOKS_LIKE_A_KIND.test(word)) {
        // A long word is shown cut short, so that one value cannot flood the message.
        const shown = word.length > 40 ? `…${word.slice(-39)}` : word;
        errors.push(
          `unknown interpolation "${shown}{{…}}"${didYouMean(word, INTERPOLATION_KINDS)}; use ${KIND_LIST}, e.g. pipeline_secret{{KEY}}`,
        );
      }
      continue;
    }
    const close = value.indexOf('}}', keyStart);
    if (close === -1) {
      errors.push(`unterminated "${word}{{": write ${word}{{KEY}}`);
      break;
    }
    const key = value.slice(keyStart, close);
    if (!INTERPOLATION_KEY_PATTERN.test(key)) {
      errors.push(
        `invalid key ${quoteForMessage(key)} in ${word}{{…}}: keys are 1 to 256 letters, digits, _, . or - (no spaces)`,
      );
    } else {
      refs.push({ kind: word, key, start, end: close + 2 });
    }
    open = close;
  }
  return { refs, errors };
}

/**
 * Replaces every well-formed reference in `value` with what `resolve` returns for it; the rest of
 * the text is kept as is. Callers look values up first (see {@link scanInterpolations}) because
 * secret and object stores are asynchronous.
 */
export function interpolate(value: string, resolve: (ref: InterpolationRef) => string): string {
  const { refs } = scanInterpolations(value);
  let out = '';
  let position = 0;
  for (const ref of refs) {
    out += value.slice(position, ref.start) + resolve(ref);
    position = ref.end;
  }
  return out + value.slice(position);
}

function isWordChar(code: number): boolean {
  // A-Z, a-z, 0-9 and _
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 95;
}

function isKind(word: string): word is InterpolationKind {
  return (INTERPOLATION_KINDS as readonly string[]).includes(word);
}
