/**
 * A small, safe renderer for the Jinja subset Mage SQL blocks and io_config.yaml use:
 * `{{ name }}`, `{{ fn('arg', ...) }}`, attribute/index access (`{{ variables('cfg').x }}`, `{{ x['k'] }}`),
 * string/number/boolean/None literals, `{# comments #}` and `{{-`/`-}}` whitespace control.
 * Nothing is evaluated as code: expressions are parsed into a tiny AST and only the supplied names and
 * functions can be reached. Filters and `{% %}` tags are rejected with a TemplateError naming them.
 */
import { TemplateError } from './errors.js';

export type TemplateFunction = (...args: unknown[]) => unknown | Promise<unknown>;

export interface TemplateScope {
  /** Values for bare names (`{{ df_1 }}`, `{{ execution_date }}`). Looked up with `Map.has`, so `undefined` is a value. */
  names: ReadonlyMap<string, unknown>;
  /** Callable names (`variables`, `env_var`, `mage_secret_var`). */
  functions: Readonly<Record<string, TemplateFunction>>;
  /** Names that exist but cannot be used, with the reason shown when a template refers to them. */
  unavailable?: ReadonlyMap<string, string>;
}

type Expr =
  | { kind: 'name'; name: string }
  | { kind: 'literal'; value: unknown }
  | { kind: 'call'; name: string; args: Expr[] }
  | { kind: 'member'; target: Expr; key: Expr };

type Segment = { kind: 'text'; text: string } | { kind: 'expr'; expr: Expr; source: string; line: number; sourceLine: string };

interface Token {
  kind: 'ident' | 'string' | 'number' | 'punct';
  text: string;
  value?: unknown;
}

const KEYWORD_LITERALS: Record<string, unknown> = {
  True: true, true: true, False: false, false: false, None: null, none: null,
};

/** Renders `template`, resolving names and calls through `scope`. Throws TemplateError on bad input. */
export async function renderTemplate(template: string, scope: TemplateScope): Promise<string> {
  const segments = parseTemplate(template);
  let out = '';
  for (const segment of segments) {
    if (segment.kind === 'text') {
      out += segment.text;
      continue;
    }
    const value = await evaluate(segment.expr, scope, segment);
    out += stringify(value);
  }
  return out;
}

/** Whether `text` contains anything the renderer would act on (a cheap check before rendering). */
export function hasTemplateSyntax(text: string): boolean {
  return /\{\{|\{%|\{#/.test(text);
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i += 1) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

function sourceLineAt(text: string, index: number): string {
  const start = text.lastIndexOf('\n', index - 1) + 1;
  const end = text.indexOf('\n', index);
  return text.slice(start, end === -1 ? undefined : end).trim();
}

function parseTemplate(template: string): Segment[] {
  const segments: Segment[] = [];
  let pos = 0;
  let trimNextText = false;
  const pushText = (text: string, trimEnd: boolean): void => {
    let t = text;
    if (trimNextText) t = t.replace(/^\s+/, '');
    if (trimEnd) t = t.replace(/\s+$/, '');
    trimNextText = false;
    if (t.length > 0) segments.push({ kind: 'text', text: t });
  };
  while (pos < template.length) {
    const open = template.slice(pos).search(/\{[{%#]/);
    if (open === -1) {
      pushText(template.slice(pos), false);
      break;
    }
    const start = pos + open;
    const opener = template.slice(start, start + 2);
    const line = lineAt(template, start);
    const closer = opener === '{{' ? '}}' : opener === '{%' ? '%}' : '#}';
    const end = findCloser(template, start + 2, closer);
    if (end === -1) {
      throw new TemplateError(`Unclosed '${opener}' at line ${line}: expected '${closer}'`, sourceLineAt(template, start), line);
    }
    let inner = template.slice(start + 2, end);
    const trimBefore = inner.startsWith('-');
    const trimAfter = inner.endsWith('-');
    if (trimBefore) inner = inner.slice(1);
    if (trimAfter) inner = inner.slice(0, -1);
    pushText(template.slice(pos, start), trimBefore);
    pos = end + 2;
    trimNextText = trimAfter;
    if (opener === '{#') continue;
    if (opener === '{%') {
      const tag = inner.trim().split(/\s+/)[0] ?? '';
      throw new TemplateError(
        `Template tag '{% ${tag} %}' at line ${line} is not supported (only {{ expressions }} and {# comments #})`,
        sourceLineAt(template, start),
        line,
      );
    }
    const source = inner.trim();
    const where = { source, line, sourceLine: sourceLineAt(template, start) };
    if (source.length === 0) throw new TemplateError(`Empty expression '{{ }}' at line ${line}`, where.sourceLine, line);
    segments.push({ kind: 'expr', expr: parseExpression(source, where), source, line, sourceLine: where.sourceLine });
  }
  return segments;
}

/** Finds `closer`, skipping quoted strings so `{{ f('}}') }}` works. */
function findCloser(text: string, from: number, closer: string): number {
  let quote: string | null = null;
  for (let i = from; i < text.length; i += 1) {
    const ch = text[i];
    if (quote) {
      if (ch === '\\') i += 1;
      else if (ch === quote) quote = null;
      continue;
    }
    if (closer === '}}' && (ch === "'" || ch === '"')) {
      quote = ch;
      continue;
    }
    if (text.startsWith(closer, i)) return i;
  }
  return -1;
}

interface Where {
  source: string;
  line: number;
  sourceLine: string;
}

function fail(message: string, where: Where): never {
  throw new TemplateError(`${message} in '{{ ${where.source} }}' at line ${where.line}`, where.sourceLine, where.line);
}

function tokenize(source: string, where: Where): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (/\s/.test(ch)) {
      i += 1;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ kind: 'ident', text: m[0] });
      i += m[0].length;
      continue;
    }
    if (/[0-9]/.test(ch) || (ch === '-' && /[0-9]/.test(source[i + 1] ?? ''))) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(source.slice(i))!;
      tokens.push({ kind: 'number', text: m[0], value: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    if (ch === "'" || ch === '"') {
      let value = '';
      let j = i + 1;
      for (; j < source.length && source[j] !== ch; j += 1) {
        if (source[j] === '\\' && j + 1 < source.length) {
          j += 1;
          const esc = source[j];
          value += esc === 'n' ? '\n' : esc === 't' ? '\t' : esc;
        } else {
          value += source[j];
        }
      }
      if (j >= source.length) fail('Unterminated string literal', where);
      tokens.push({ kind: 'string', text: source.slice(i, j + 1), value });
      i = j + 1;
      continue;
    }
    if ('().,[]'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch });
      i += 1;
      continue;
    }
    if (ch === '|') {
      const filter = /^\|\s*([A-Za-z_][A-Za-z0-9_]*)?/.exec(source.slice(i))?.[1] ?? '';
      fail(`Filters are not supported ('| ${filter}')`, where);
    }
    fail(`Unsupported character '${ch}' (operators are not supported)`, where);
  }
  return tokens;
}

function parseExpression(source: string, where: Where): Expr {
  const tokens = tokenize(source, where);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const expectPunct = (p: string): void => {
    const t = tokens[pos];
    if (!t || t.kind !== 'punct' || t.text !== p) fail(`Expected '${p}'${t ? ` but found '${t.text}'` : ' at the end'}`, where);
    pos += 1;
  };
  const parsePostfix = (): Expr => {
    const t = tokens[pos];
    if (!t) fail('Expected a value', where);
    pos += 1;
    let expr: Expr;
    if (t.kind === 'string' || t.kind === 'number') {
      expr = { kind: 'literal', value: t.value };
    } else if (t.kind === 'ident') {
      const next = peek();
      if (next?.kind === 'punct' && next.text === '(') {
        pos += 1;
        const args: Expr[] = [];
        if (!(peek()?.kind === 'punct' && peek()?.text === ')')) {
          for (;;) {
            args.push(parsePostfix());
            const sep = peek();
            if (sep?.kind === 'punct' && sep.text === ',') {
              pos += 1;
              continue;
            }
            break;
          }
        }
        expectPunct(')');
        expr = { kind: 'call', name: t.text, args };
      } else if (Object.prototype.hasOwnProperty.call(KEYWORD_LITERALS, t.text)) {
        expr = { kind: 'literal', value: KEYWORD_LITERALS[t.text] };
      } else {
        expr = { kind: 'name', name: t.text };
      }
    } else {
      fail(`Unexpected '${t.text}'`, where);
    }
    for (;;) {
      const n = peek();
      if (n?.kind === 'punct' && n.text === '.') {
        pos += 1;
        const key = tokens[pos];
        if (!key || key.kind !== 'ident') fail("Expected an attribute name after '.'", where);
        pos += 1;
        expr = { kind: 'member', target: expr, key: { kind: 'literal', value: key.text } };
      } else if (n?.kind === 'punct' && n.text === '[') {
        pos += 1;
        const key = parsePostfix();
        expectPunct(']');
        expr = { kind: 'member', target: expr, key };
      } else {
        return expr;
      }
    }
  };
  const expr = parsePostfix();
  if (pos < tokens.length) fail(`Unexpected '${tokens[pos].text}'`, where);
  return expr;
}

async function evaluate(expr: Expr, scope: TemplateScope, seg: { source: string; line: number; sourceLine: string }): Promise<unknown> {
  const where: Where = { source: seg.source, line: seg.line, sourceLine: seg.sourceLine };
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'name':
      if (!scope.names.has(expr.name)) {
        const reason = scope.unavailable?.get(expr.name);
        if (reason !== undefined) fail(`'${expr.name}' is not available: ${reason}`, where);
        if (Object.prototype.hasOwnProperty.call(scope.functions, expr.name)) {
          fail(`'${expr.name}' is a function; call it as ${expr.name}('...')`, where);
        }
        fail(`'${expr.name}' is undefined`, where);
      }
      return scope.names.get(expr.name);
    case 'call': {
      if (!Object.prototype.hasOwnProperty.call(scope.functions, expr.name)) {
        const known = Object.keys(scope.functions).join(', ');
        fail(`Unknown function '${expr.name}' (available: ${known})`, where);
      }
      const args: unknown[] = [];
      for (const a of expr.args) args.push(await evaluate(a, scope, seg));
      try {
        return await scope.functions[expr.name](...args);
      } catch (err) {
        if (err instanceof TemplateError) throw err;
        fail(`${expr.name}() failed: ${err instanceof Error ? err.message : String(err)}`, where);
      }
    }
    case 'member': {
      const target = await evaluate(expr.target, scope, seg);
      const key = await evaluate(expr.key, scope, seg);
      if (target !== null && typeof target === 'object' && (typeof key === 'string' || typeof key === 'number')) {
        if (Object.prototype.hasOwnProperty.call(target, key)) return (target as Record<string, unknown>)[key];
      }
      fail(`No attribute or key ${JSON.stringify(key)} on ${describe(target)}`, where);
    }
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

/** Python's `str()` of a JSON value, which is what Jinja prints in Mage. Objects print as JSON. */
function stringify(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}
