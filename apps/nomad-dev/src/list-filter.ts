// The subset of Nomad's `filter` query parameter (go-bexpr expressions over the listed objects) that
// Gofer uses, with go-bexpr's semantics:
//   "gofer.run" in Meta and Meta["gofer.run"] == "42" and Status != "dead"
// Clauses are `<selector> == <value>`, `<selector> != <value>` and `<value> in <selector>`, joined by
// `and` (evaluated left to right, stopping at the first false). Strings are "double-quoted" (go-bexpr
// has no escapes in them) or `raw`. A comparison whose selector names a key the object does not have
// is an error, not false (go-bexpr without its unknown-value option; Nomad answers 400 "failed to read
// result page", nomad#16758): the reason Gofer guards every Meta comparison with `in`. Anything else is
// refused as Nomad refuses an expression it cannot parse: HTTP 400 with the reason.

type Selector = string[];
type Value = string | boolean | number;
type Clause =
  | { kind: 'compare'; selector: Selector; op: '==' | '!='; value: Value }
  | { kind: 'in'; value: Value; selector: Selector };

/** An expression that does not parse, or fails on an object (Nomad: HTTP 400). */
export class FilterError extends Error {}

const TOKEN = /\s*(?:(==|!=)|(\band\b)|(\bin\b)|"([^"]*)"|`([^`]*)`|(true|false)\b|(-?\d+(?:\.\d+)?)\b|([A-Za-z_][A-Za-z0-9_]*)|(\.)|(\[)|(\])|(\S))/y;

type Token =
  | { t: 'op'; v: '==' | '!=' }
  | { t: 'and' }
  | { t: 'in' }
  | { t: 'string'; v: string }
  | { t: 'literal'; v: boolean | number }
  | { t: 'ident'; v: string }
  | { t: '.' | '[' | ']' }
  | { t: 'other'; v: string };

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expression.length) {
    if (/^\s*$/.test(expression.slice(TOKEN.lastIndex))) break;
    const m = TOKEN.exec(expression);
    if (!m) break;
    if (m[1]) tokens.push({ t: 'op', v: m[1] as '==' | '!=' });
    else if (m[2]) tokens.push({ t: 'and' });
    else if (m[3]) tokens.push({ t: 'in' });
    else if (m[4] !== undefined) tokens.push({ t: 'string', v: m[4] });
    else if (m[5] !== undefined) tokens.push({ t: 'string', v: m[5] });
    else if (m[6]) tokens.push({ t: 'literal', v: m[6] === 'true' });
    else if (m[7]) tokens.push({ t: 'literal', v: Number(m[7]) });
    else if (m[8]) tokens.push({ t: 'ident', v: m[8] });
    else if (m[9]) tokens.push({ t: '.' });
    else if (m[10]) tokens.push({ t: '[' });
    else if (m[11]) tokens.push({ t: ']' });
    else tokens.push({ t: 'other', v: m[12]! });
  }
  return tokens;
}

export function parseFilter(expression: string): (object: Record<string, unknown>) => boolean {
  const tokens = tokenize(expression);
  let i = 0;
  const fail = (why: string): never => {
    throw new FilterError(`failed to read filter expression: ${why} (nomad-dev supports ==, != and "in" clauses joined by "and")`);
  };
  const selector = (): Selector => {
    const first = tokens[i++];
    if (first?.t !== 'ident') return fail(`expected a selector at token ${i}`);
    const parts = [first.v];
    for (;;) {
      const next = tokens[i];
      if (next?.t === '.') {
        const ident = tokens[i + 1];
        if (ident?.t !== 'ident') return fail('expected a field name after "."');
        parts.push(ident.v);
        i += 2;
      } else if (next?.t === '[') {
        const key = tokens[i + 1];
        if (key?.t !== 'string' || tokens[i + 2]?.t !== ']') return fail('expected ["key"] in a selector');
        parts.push(key.v);
        i += 3;
      } else {
        return parts;
      }
    }
  };
  const value = (): Value => {
    const token = tokens[i++];
    if (token?.t === 'string' || token?.t === 'literal') return token.v;
    return fail(`expected a value at token ${i}`);
  };
  const clauses: Clause[] = [];
  while (i < tokens.length) {
    const head = tokens[i];
    if (head?.t === 'string' || head?.t === 'literal') {
      const v = value();
      if (tokens[i++]?.t !== 'in') fail('expected "in" after a value');
      clauses.push({ kind: 'in', value: v, selector: selector() });
    } else {
      const s = selector();
      const op = tokens[i++];
      if (op?.t !== 'op') fail(`expected == or != after ${s.join('.')}`);
      clauses.push({ kind: 'compare', selector: s, op: (op as { v: '==' | '!=' }).v, value: value() });
    }
    if (i < tokens.length && tokens[i++]?.t !== 'and') fail('expected "and" between clauses');
  }
  if (clauses.length === 0) fail('empty expression');
  return (object) => {
    for (const clause of clauses) {
      if (clause.kind === 'in') {
        const container = select(object, clause.selector, false);
        const found = Array.isArray(container)
          ? container.some((item) => item === clause.value)
          : container !== null && typeof container === 'object'
            ? Object.hasOwn(container, String(clause.value))
            : typeof container === 'string' && container.includes(String(clause.value));
        if (!found) return false;
        continue;
      }
      const actual = select(object, clause.selector, true);
      const equal = actual === clause.value || (typeof clause.value === 'string' && actual !== undefined && actual !== null && String(actual) === clause.value);
      if ((clause.op === '==') !== equal) return false;
    }
    return true;
  };
}

/** The value at `selector`; with `strict`, a missing key is go-bexpr's error rather than undefined. */
function select(object: unknown, selector: Selector, strict: boolean): unknown {
  let current = object;
  for (const [index, key] of selector.entries()) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) {
      if (!strict) return undefined;
      throw new FilterError(
        `failed to read result page: error finding value in datum: /${selector.join('/')} at part ${index}: couldn't find key "${key}"`,
      );
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
