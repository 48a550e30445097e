// The subset of Nomad's `filter` query parameter (go-bexpr expressions over the listed objects) that
// Gofer's reaper uses: `==` / `!=` comparisons joined by `and`, e.g.
//   Meta["gofer.run"] == "42" and Status != "dead"
// Anything else is refused the way Nomad refuses a bad expression: HTTP 400 with the parser's reason.

type Selector = string[];
interface Clause {
  selector: Selector;
  op: '==' | '!=';
  value: string | boolean | number;
}

export class FilterError extends Error {}

const CLAUSE =
  /^\s*((?:[A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z_][A-Za-z0-9_]*|\["(?:[^"\\]|\\.)*"\])*)\s*(==|!=)\s*("(?:[^"\\]|\\.)*"|true|false|-?\d+(?:\.\d+)?)\s*$/;

export function parseFilter(expression: string): (object: Record<string, unknown>) => boolean {
  const clauses = splitAnd(expression).map(parseClause);
  return (object) =>
    clauses.every(({ selector, op, value }) => {
      const actual = select(object, selector);
      const equal = actual === value || (typeof value === 'string' && actual !== undefined && String(actual) === value);
      return op === '==' ? equal : !equal;
    });
}

function splitAnd(expression: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < expression.length; i++) {
    const char = expression[i]!;
    if (char === '\\' && quoted) {
      current += char + (expression[++i] ?? '');
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (!quoted && /^\sand\s/i.test(expression.slice(i, i + 5))) {
      parts.push(current);
      current = '';
      i += 4;
      continue;
    }
    current += char;
  }
  parts.push(current);
  return parts;
}

function parseClause(text: string): Clause {
  const match = CLAUSE.exec(text);
  if (!match) {
    throw new FilterError(
      `failed to read filter expression: nomad-dev supports only <selector> == "value" clauses joined by "and", got ${JSON.stringify(text.trim())}`,
    );
  }
  const selector: Selector = [];
  for (const part of match[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)|\["((?:[^"\\]|\\.)*)"\]/g)) {
    selector.push(part[1] ?? JSON.parse(`"${part[2]}"`));
  }
  const raw = match[3]!;
  const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw === 'true' ? true : raw === 'false' ? false : Number(raw);
  return { selector, op: match[2] as '==' | '!=', value };
}

function select(object: unknown, selector: Selector): unknown {
  let current = object;
  for (const key of selector) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
