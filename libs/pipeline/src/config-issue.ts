/**
 * One problem found in a pipeline config: where it is and what is wrong.
 * Rendered for people as `${path}: ${message}` (see {@link formatConfigIssues}).
 */
export interface ConfigIssue {
  /**
   * Where the problem is: a field path such as `tasks[3].depends_on.build`; `line 4, column 2` for a
   * YAML/JSON syntax error; {@link ROOT_PATH} for the document as a whole.
   */
  path: string;
  /** What is wrong and, where it helps, what to do about it. */
  message: string;
}

/** The path of issues about the whole document (empty file, too large, not a mapping …). */
export const ROOT_PATH = '(root)';

/** A path into the config document as keys and list indexes, e.g. `['tasks', 3, 'image']`. */
export type ConfigPath = ReadonlyArray<PropertyKey>;

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * Renders a document path the way users write it: `tasks[3].depends_on.build`.
 * Keys that are not plain words are quoted (`variables["MY VAR"]`) so the path stays unambiguous.
 */
export function formatConfigPath(path: ConfigPath): string {
  if (path.length === 0) return ROOT_PATH;
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      if (!PLAIN_KEY.test(key)) out += `[${JSON.stringify(key)}]`;
      else out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

/** Quotes a user's value for a message, shortened so one bad value cannot flood the output. */
export function quoteForMessage(value: string, max = 40): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max - 1)}…` : value);
}

/** Renders one issue as `path: message`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  return `${issue.path}: ${issue.message}`;
}

/** Renders issues one per line, in the order given (validation returns them in document order). */
export function formatConfigIssues(errors: readonly ConfigIssue[]): string {
  return errors.map(formatConfigIssue).join('\n');
}
