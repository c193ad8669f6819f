/**
 * Jinja for SQL blocks and io_config.yaml, rendered with nunjucks (a Jinja2-compatible engine) and tuned to
 * behave as Mage's `jinja2.Template(query, undefined=StrictUndefined)`:
 * - output is never escaped (it is SQL, not HTML);
 * - values print as Python's `str()` (`True`, `None`, `['a', 'b']`), also through `~`, `join` and `string`;
 * - printing an undefined name is an error naming it (StrictUndefined); `is defined` and `default` still work;
 * - `True`/`False`/`None`, `dict.items()`/`.get()`, `list.append()`, slices and Python string methods
 *   (`.upper()`, `.split(',')`, `', '.join(xs)`...) work; Jinja filters and tests nunjucks lacks are added
 *   (`tojson`, `unique`, `map`, `min`, `max`, `items`, `attr`, `format`, `count`, full `selectattr`, the `none`
 *   test...) and keyword arguments of the common filters (`sort(attribute='x')`) are honoured;
 * - a single trailing newline is dropped (Jinja's keep_trailing_newline=False).
 * Templates only reach the names and functions of their scope: JavaScript internals (`constructor`,
 * prototypes, methods of host objects) are not reachable through attribute access or names.
 * Functions may be async (secrets): the template is rendered again once their results are known.
 *
 * Errors (syntax, undefined names, unknown functions, failing helpers) are TemplateErrors naming the line;
 * nothing is returned for a template that failed, so a half-rendered query never runs.
 */
import { createRequire } from 'node:module';
import nunjucks from 'nunjucks';
import { TemplateError } from './errors.js';
import { PyDate, pyJson, pyRepr, pyStr } from './py-values.js';

export type TemplateFunction = (...args: unknown[]) => unknown | Promise<unknown>;

export interface TemplateScope {
  /** Values for bare names (`{{ df_1 }}`, `{{ execution_date }}`). Looked up with `Map.has`, so `undefined` is a value. */
  names: ReadonlyMap<string, unknown>;
  /** Callable names (`variables`, `env_var`, `mage_secret_var`). */
  functions: Readonly<Record<string, TemplateFunction>>;
  /** Names that exist but cannot be used, with the reason shown when a template refers to them. */
  unavailable?: ReadonlyMap<string, string>;
  /**
   * A whole expression that is only a string literal (`{{ 'load_orders' }}`) naming one of these keys prints
   * the mapped text instead (the upstream table), as Mage substitutes upstream references before Jinja runs;
   * `{ unavailable }` makes such a reference an error with that reason. Default none.
   */
  references?: ReadonlyMap<string, string | { unavailable: string }>;
}

export interface RenderOptions {
  /** What the template is, for error messages, e.g. `SQL block 'orders'`. Default: messages name no origin. */
  origin?: string;
}

/** Whether `text` contains anything the renderer would act on (a cheap check before rendering). */
export function hasTemplateSyntax(text: string): boolean {
  return /\{\{|\{%|\{#/.test(text);
}

/** Bounds re-renders for async functions whose arguments depend on other async results. */
const MAX_PASSES = 16;

/** Renders `template`, resolving names and calls through `scope`. Throws TemplateError on bad input. */
export async function renderTemplate(template: string, scope: TemplateScope, options: RenderOptions = {}): Promise<string> {
  // Jinja drops one trailing newline of the source unless keep_trailing_newline is set; Mage does not set it.
  const source = template.replace(/\r?\n$/, '');
  const { text, hidden } = substituteReferences(source, scope);
  let compiled: nunjucks.Template;
  try {
    compiled = new nunjucks.Template(text, env, undefined, true);
  } catch (err) {
    throw toTemplateError(err, source, text, options);
  }
  const memo = new Map<string, Settled>();
  for (let pass = 0; pass < MAX_PASSES; pass += 1) {
    const pending: Promise<void>[] = [];
    const context = buildContext(scope, hidden, memo, pending);
    let output: string | undefined;
    let failure: unknown;
    try {
      output = compiled.render(context);
    } catch (err) {
      failure = err;
    }
    if (pending.length === 0) {
      if (failure !== undefined) throw toTemplateError(failure, source, text, options);
      return output ?? '';
    }
    // Async results stood in as '' during this pass, so neither its output nor its errors count.
    await Promise.all(pending);
  }
  throw new TemplateError(`${prefix(options)}Too many dependent async lookups (more than ${MAX_PASSES} rounds)`);
}

type Settled = { ok: true; value: unknown } | { ok: false; error: TemplateFailure };

/**
 * An error raised by our runtime hooks or helpers. `message` may contain `{expr}`, replaced with the source
 * text of the `{{ }}` expression at `line`/`column` when known. Lines and columns are 1-based.
 */
class TemplateFailure extends Error {
  constructor(
    message: string,
    public line?: number,
    public column?: number,
  ) {
    super(message);
    this.name = 'TemplateFailure';
  }
}

/** A name the scope knows but cannot provide (an upstream without output). */
class Unavailable {
  constructor(
    readonly display: string,
    readonly reason: string,
  ) {}
}

const HIDDEN_PREFIX = '__blockflow_ref_';

/** Replaces `{{ 'uuid' }}` for referenced uuids with a hidden name, keeping whitespace control and line numbers. */
function substituteReferences(source: string, scope: TemplateScope): { text: string; hidden: Map<string, unknown> } {
  const hidden = new Map<string, unknown>();
  const refs = scope.references;
  if (!refs || refs.size === 0) return { text: source, hidden };
  const byLiteral = new Map<string, string>();
  const text = source.replace(/\{\{(-?)(\s*)(['"])((?:(?!\3)[^\\\n])*)\3(\s*)(-?)\}\}/g, (whole, l: string, ws1: string, _q, literal: string, ws2: string, r: string) => {
    const target = refs.get(literal);
    if (target === undefined) return whole;
    let name = byLiteral.get(literal);
    if (!name) {
      name = `${HIDDEN_PREFIX}${byLiteral.size}`;
      byLiteral.set(literal, name);
      hidden.set(name, typeof target === 'string' ? target : new Unavailable(`'${literal}'`, target.unavailable));
    }
    return `{{${l}${ws1}${name}${ws2}${r}}}`;
  });
  return { text, hidden };
}

/** JSON values are copied per pass so `.append()`/`.update()` in one pass cannot change the next, or the caller's data. */
function cloneJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneJson);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cloneJson(v)]));
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function buildContext(scope: TemplateScope, hidden: Map<string, unknown>, memo: Map<string, Settled>, pending: Promise<void>[]) {
  const ctx: Record<string, unknown> = Object.create(null);
  for (const [name, fn] of Object.entries(scope.functions)) {
    ctx[name] = (...args: unknown[]): unknown => {
      const key = `${name}\u0000${safeKey(args)}`;
      const hit = memo.get(key);
      if (hit) {
        if (hit.ok) return hit.value;
        throw hit.error;
      }
      let result: unknown;
      try {
        result = fn(...args);
      } catch (err) {
        if (err instanceof TemplateFailure) throw err;
        throw new TemplateFailure(`${name}() failed: ${errorText(err)}`);
      }
      if (result instanceof Promise) {
        pending.push(
          result.then(
            (value: unknown) => void memo.set(key, { ok: true, value }),
            (err: unknown) => void memo.set(key, { ok: false, error: new TemplateFailure(`${name}() failed: ${errorText(err)}`) }),
          ),
        );
        return '';
      }
      return result;
    };
  }
  for (const [name, value] of scope.names) ctx[name] = cloneJson(value);
  for (const [name, reason] of scope.unavailable ?? []) ctx[name] = new Unavailable(`'${name}'`, reason);
  for (const [name, value] of hidden) ctx[name] = value;
  return ctx;
}

function safeKey(args: unknown[]): string {
  try {
    return JSON.stringify(args, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '';
  } catch {
    return String(args);
  }
}

function prefix(options: RenderOptions): string {
  return options.origin ? `Template error in ${options.origin}: ` : '';
}

/** The `{{ ... }}` expression starting at 1-based `column` of `line` in `text`. */
function expressionAt(text: string, line: number, column: number): string | undefined {
  const src = text.split('\n')[line - 1];
  if (src === undefined) return undefined;
  const start = src.indexOf('{{', Math.max(0, column - 1));
  if (start === -1) return undefined;
  const end = src.indexOf('}}', start + 2);
  const inner = src.slice(start + 2, end === -1 ? undefined : end).replace(/^-/, '').replace(/-$/, '').trim();
  return inner.replace(new RegExp(`${HIDDEN_PREFIX}\\d+`, 'g'), 'reference');
}

/** The first `{{`, `{%` or `{#` in `text` that has no closer after it. */
function unclosedTag(text: string): { opener: string; closer: string; line: number } | undefined {
  const re = /\{([{%#])/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const closer = m[1] === '{' ? '}}' : m[1] === '%' ? '%}' : '#}';
    const end = text.indexOf(closer, m.index + 2);
    if (end === -1) return { opener: m[0], closer, line: text.slice(0, m.index).split('\n').length };
    re.lastIndex = end + 2;
  }
  return undefined;
}

interface NunjucksError extends Error {
  lineno?: number;
  colno?: number;
  cause?: unknown;
}

/** Turns anything thrown while compiling or rendering into a TemplateError naming the line. */
function toTemplateError(err: unknown, source: string, text: string, options: RenderOptions): TemplateError {
  const e = err as NunjucksError;
  const cause = e?.cause instanceof Error ? e.cause : undefined;
  const failure = err instanceof TemplateFailure ? err : cause instanceof TemplateFailure ? cause : undefined;
  let message = failure ? failure.message : cause ? cause.message : errorText(err);
  // nunjucks prefixes `(path) [Line n, Column m]` and the cause's class, possibly nested.
  for (let previous = ''; previous !== message; ) {
    previous = message;
    message = message.replace(/^\([^)]*\)(?: \[Line \d+(?:, Column \d+)?\])?\s*/, '').replace(/^(?:Template render error: |Error: )/, '');
  }
  if (/^template not found/.test(message)) message += ' (a SQL block has no templates to include, import or extend)';
  let line = failure?.line ?? (typeof e?.lineno === 'number' && e.lineno > 0 ? e.lineno : undefined);
  const column = failure?.column ?? (typeof e?.colno === 'number' && e.colno > 0 ? e.colno : undefined);
  if (line === undefined) {
    // The lexer reports an unclosed tag without a position: name the tag that is never closed.
    const open = unclosedTag(text);
    if (open) {
      message = `Unclosed '${open.opener}' (expected '${open.closer}'): ${message}`;
      line = open.line;
    }
  }
  if (message.includes('{expr}')) {
    const expr = line !== undefined && column !== undefined ? expressionAt(text, line, column) : undefined;
    message = message.replaceAll('{expr}', expr ?? 'expression');
  }
  if (line === undefined) return new TemplateError(`${prefix(options)}${message}`);
  const sourceLine = (source.split('\n')[line - 1] ?? '').trim();
  return new TemplateError(`${prefix(options)}${message} at line ${line}`, sourceLine, line);
}

// ---------------------------------------------------------------------------------------------------------
// The environment and the runtime hooks. nunjucks' compiled templates call the shared `runtime` module, so
// the hooks are installed on it once; nothing else in Blockflow renders with nunjucks.

interface NunjucksInternals {
  runtime: Record<string, unknown> & { SafeString: new (s: string) => unknown };
  lib: { TemplateError: new (message: unknown, lineno?: number, colno?: number) => Error };
  compiler: { Compiler: { prototype: Record<string, unknown> } };
  parser: { Parser: { prototype: Record<string, unknown> } };
  installJinjaCompat(): void;
}

const internals = createRequire(import.meta.url)('nunjucks') as NunjucksInternals;

const env = new nunjucks.Environment(null, {
  autoescape: false,
  throwOnUndefined: true,
  // Keeps nunjucks' error objects (with lineno, colno and the original cause) instead of re-created ones.
  dev: true,
  trimBlocks: false,
  lstripBlocks: false,
});

type Fn = (...args: any[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

function installHooks(): void {
  internals.installJinjaCompat();
  const rt = internals.runtime;
  const compatMemberLookup = rt.memberLookup as Fn;
  const SafeString = rt.SafeString;

  // Jinja scopes: a `{% set %}` inside a loop body does not change the variable outside the loop. nunjucks'
  // loops push their frame without arguments; templates and macros pass isolateWrites explicitly.
  const Frame = rt.Frame as { prototype: { push(isolateWrites?: boolean): unknown } };
  Frame.prototype.push = function push(this: unknown, isolateWrites?: boolean): unknown {
    return new (rt.Frame as new (parent: unknown, isolate: boolean) => unknown)(this, isolateWrites ?? true);
  };

  rt.contextOrFrameLookup = (context: { ctx: Record<string, unknown>; env: { globals: Record<string, unknown> } }, frame: { lookup(n: string): unknown }, name: string): unknown => {
    const local = frame.lookup(name);
    if (local !== undefined) return local;
    if (Object.hasOwn(context.ctx, name)) {
      const value = context.ctx[name];
      if (value instanceof Unavailable) throw new TemplateFailure(`${value.display} is not available: ${value.reason}`);
      return value;
    }
    if (Object.hasOwn(context.env.globals, name)) return context.env.globals[name];
    if (name === 'True') return true;
    if (name === 'False') return false;
    if (name === 'None') return null;
    return undefined;
  };

  rt.memberLookup = function memberLookup(this: unknown, obj: unknown, key: unknown, ...rest: unknown[]): unknown {
    if (rest.length === 2) return compatMemberLookup.call(this, obj, key, ...rest); // a slice: x[1:3]
    return lookupMember(obj, key, compatMemberLookup);
  };

  // Only undefined is an error (StrictUndefined); None prints as 'None'. Functions are not printable.
  rt.ensureDefined = (value: unknown, lineno: number, colno: number): unknown => {
    if (value === undefined) throw new TemplateFailure(`'{expr}' is undefined`, lineno + 1, colno + 1);
    if (typeof value === 'function') throw new TemplateFailure(`'{expr}' is a function; call it, e.g. {expr}('...')`, lineno + 1, colno + 1);
    return value;
  };

  rt.suppressValue = (value: unknown): string => {
    if (typeof value === 'function') throw new TemplateFailure('A function cannot be printed; call it');
    return value instanceof SafeString ? String(value) : pyStr(value);
  };

  rt.pyConcat = (left: unknown, right: unknown): string => {
    if (left === undefined || right === undefined) throw new TemplateFailure("An undefined value is joined with '~'");
    return pyStr(left) + pyStr(right);
  };

  const plainCallWrap = rt.callWrap as Fn;
  rt.callWrap = (fn: unknown, name: string, context: { ctx: Record<string, unknown>; env: { globals: Record<string, unknown> } }, args: unknown[]): unknown => {
    if (fn === undefined || fn === null) {
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        const known = [...Object.keys(context.ctx).filter((k) => typeof context.ctx[k] === 'function'), ...Object.keys(context.env.globals)];
        throw new TemplateFailure(`Unknown function '${name}' (available: ${[...new Set(known)].sort().join(', ')})`);
      }
      throw new TemplateFailure(`Cannot call ${name.replace(/--expression--/g, 'an expression')}: it is undefined`);
    }
    return plainCallWrap(fn, name, context, args);
  };

  // Errors from hooks and helpers carry the 0-based position of the last call; nunjucks' own are 1-based.
  rt.handleError = (error: unknown, lineno: number, colno: number): unknown => {
    if (error instanceof TemplateFailure) {
      if (error.line === undefined && typeof lineno === 'number') {
        error.line = lineno + 1;
        error.column = colno + 1;
      }
      return error;
    }
    const e = error as NunjucksError;
    if (e && e.lineno) return e;
    return new internals.lib.TemplateError(error, typeof lineno === 'number' ? lineno + 1 : lineno, typeof colno === 'number' ? colno + 1 : colno);
  };

  const Compiler = internals.compiler.Compiler.prototype as Record<string, Fn> & { _emit(s: string): void; compile(n: unknown, f: unknown): void };
  Compiler.compileConcat = function compileConcat(this: typeof Compiler, node: { left: unknown; right: unknown }, frame: unknown): void {
    this._emit('runtime.pyConcat(');
    this.compile(node.left, frame);
    this._emit(', ');
    this.compile(node.right, frame);
    this._emit(')');
  };

  // Python equality for `==` / `!=`: no JavaScript coercion (`1 == '1'` is False), lists and dicts by value,
  // macro output equal to its text, True == 1. Chained comparisons keep nunjucks' code.
  rt.pyEq = pyEquals;
  const compileCompare = Compiler.compileCompare;
  Compiler.compileCompare = function (this: typeof Compiler, node: { expr: unknown; ops: { type: string; expr: unknown }[] }, frame: unknown): void {
    const op = node.ops.length === 1 ? node.ops[0].type : undefined;
    if (op !== '==' && op !== '!=') {
      compileCompare.call(this, node, frame);
      return;
    }
    this._emit(op === '==' ? 'runtime.pyEq(' : '!runtime.pyEq(');
    this.compile(node.expr, frame);
    this._emit(', ');
    this.compile(node.ops[0].expr, frame);
    this._emit(')');
  };

  // `{% for x in xs if cond %}` (a Jinja loop filter) parses in nunjucks as an inline `if` without `else`,
  // which silently loops over nothing; refuse it instead.
  const Parser = internals.parser.Parser.prototype as Record<string, Fn>;
  const parseFor = Parser.parseFor;
  Parser.parseFor = function (this: { fail(m: string, l?: number, c?: number): never }, ...args: unknown[]): unknown {
    const node = parseFor.apply(this, args) as { arr?: { typename?: string; else_?: unknown; lineno: number; colno: number } };
    if (node.arr?.typename === 'InlineIf' && !node.arr.else_) {
      this.fail("Loop filters ('{% for x in items if cond %}') are not supported; put an {% if %} inside the loop", node.arr.lineno, node.arr.colno);
    }
    return node;
  };
}

const STRING_METHODS: Record<string, (s: string, ...args: unknown[]) => unknown> = {
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  strip: (s, chars) => stripChars(s, chars, true, true),
  lstrip: (s, chars) => stripChars(s, chars, true, false),
  rstrip: (s, chars) => stripChars(s, chars, false, true),
  title: (s) => s.toLowerCase().replace(/(^|[^A-Za-z])([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase()),
  capitalize: (s) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase(),
  split: (s, sep, maxsplit) => pySplit(s, sep, maxsplit),
  replace: (s, a, b, count) => pyReplace(s, String(a), String(b), count),
  startswith: (s, p) => (Array.isArray(p) ? p : [p]).some((x) => s.startsWith(String(x))),
  endswith: (s, p) => (Array.isArray(p) ? p : [p]).some((x) => s.endsWith(String(x))),
  join: (s, items) => toList(items).map(pyStr).join(s),
  format: (s, ...args) => pyFormat(s, args),
  zfill: (s, width) => (s.startsWith('-') ? '-' + s.slice(1).padStart(Number(width) - 1, '0') : s.padStart(Number(width), '0')),
  count: (s, sub) => (String(sub) === '' ? s.length + 1 : s.split(String(sub)).length - 1),
  find: (s, sub) => s.indexOf(String(sub)),
  isdigit: (s) => /^[0-9]+$/.test(s),
  isalpha: (s) => /^[A-Za-z]+$/.test(s),
  isalnum: (s) => /^[A-Za-z0-9]+$/.test(s),
  isupper: (s) => /[A-Z]/.test(s) && s === s.toUpperCase(),
  islower: (s) => /[a-z]/.test(s) && s === s.toLowerCase(),
};

/** Python's list methods; the mutating ones return None, as Python (so `{{ xs.append(1) or '' }}` prints ''). */
const LIST_METHODS: Record<string, (xs: unknown[], ...args: unknown[]) => unknown> = {
  append: (xs, x) => {
    xs.push(x);
    return null;
  },
  extend: (xs, ys) => {
    xs.push(...toList(ys));
    return null;
  },
  insert: (xs, i, x) => {
    xs.splice(Number(i), 0, x);
    return null;
  },
  pop: (xs, i) => {
    if (xs.length === 0) throw new Error('pop from empty list');
    return i === undefined ? xs.pop() : xs.splice(Number(i), 1)[0];
  },
  remove: (xs, x) => {
    const i = xs.indexOf(x);
    if (i === -1) throw new Error('list.remove(x): x not in list');
    xs.splice(i, 1);
    return null;
  },
  index: (xs, x) => {
    const i = xs.indexOf(x);
    if (i === -1) throw new Error(`${pyRepr(x)} is not in list`);
    return i;
  },
  count: (xs, x) => xs.filter((y) => y === x).length,
};

const DATE_MEMBERS = new Set(['year', 'month', 'day', 'hour', 'minute', 'second', 'microsecond', 'weekday', 'isoweekday', 'isoformat', 'strftime', 'date', 'timestamp']);

/** Attribute and item access as Jinja offers it, limited to data: never a prototype or a host method. */
function lookupMember(obj: unknown, key: unknown, compat: Fn): unknown {
  if (obj === undefined || obj === null || typeof obj === 'function') return undefined;
  if (obj instanceof internals.runtime.SafeString) obj = String(obj);
  if (typeof obj === 'string') {
    if (typeof key === 'number') return Number.isInteger(key) ? obj.at(key) : undefined;
    const method = typeof key === 'string' && Object.hasOwn(STRING_METHODS, key) ? STRING_METHODS[key] : undefined;
    const s = obj;
    return method ? (...args: unknown[]) => method(s, ...args) : undefined;
  }
  if (obj instanceof PyDate) {
    if (typeof key !== 'string' || !DATE_MEMBERS.has(key)) return undefined;
    const value = (obj as unknown as Record<string, unknown>)[key];
    return typeof value === 'function' ? (...args: unknown[]) => (value as Fn).apply(obj, args) : value;
  }
  if (Array.isArray(obj)) {
    if (typeof key === 'number') return Number.isInteger(key) ? obj.at(key) : undefined;
    if (typeof key === 'string' && /^-?\d+$/.test(key)) return obj.at(Number(key));
    const method = typeof key === 'string' && Object.hasOwn(LIST_METHODS, key) ? LIST_METHODS[key] : undefined;
    const list = obj;
    return method ? (...args: unknown[]) => method(list, ...args) : undefined;
  }
  if (isPlainObject(obj)) {
    const k = typeof key === 'number' ? String(key) : key;
    if (typeof k === 'string' && Object.hasOwn(obj, k)) return obj[k];
    if (typeof k === 'string' && ['items', 'keys', 'values', 'get', 'pop', 'setdefault', 'update', 'iteritems', 'iterkeys', 'itervalues', 'has_key'].includes(k)) {
      return compat(obj, k);
    }
    return undefined;
  }
  return undefined;
}

function pyEquals(a: unknown, b: unknown): boolean {
  const SafeString = internals.runtime.SafeString;
  const x = a instanceof SafeString || a instanceof PyDate ? String(a) : a;
  const y = b instanceof SafeString || b instanceof PyDate ? String(b) : b;
  if (typeof x === 'boolean' && typeof y === 'number') return Number(x) === y;
  if (typeof x === 'number' && typeof y === 'boolean') return x === Number(y);
  if (Array.isArray(x) && Array.isArray(y)) return x.length === y.length && x.every((v, i) => pyEquals(v, y[i]));
  if (isPlainObject(x) && isPlainObject(y)) {
    const keys = Object.keys(x);
    return keys.length === Object.keys(y).length && keys.every((k) => Object.hasOwn(y, k) && pyEquals(x[k], y[k]));
  }
  if (x === undefined || y === undefined) return x === y;
  return x === y;
}

function stripChars(s: string, chars: unknown, left: boolean, right: boolean): string {
  if (chars === undefined || chars === null) {
    if (left && right) return s.trim();
    return left ? s.trimStart() : s.trimEnd();
  }
  const set = new Set(String(chars));
  let a = 0;
  let b = s.length;
  if (left) while (a < b && set.has(s[a])) a += 1;
  if (right) while (b > a && set.has(s[b - 1])) b -= 1;
  return s.slice(a, b);
}

function pySplit(s: string, sep: unknown, maxsplit: unknown): string[] {
  const max = maxsplit === undefined || maxsplit === null ? -1 : Number(maxsplit);
  if (sep === undefined || sep === null) {
    const parts = s.trim().split(/\s+/).filter((p) => p.length > 0);
    if (max < 0 || parts.length <= max + 1) return parts;
    const head = parts.slice(0, max);
    let rest = s.trim();
    for (const h of head) rest = rest.slice(rest.indexOf(h) + h.length).trimStart();
    return [...head, rest];
  }
  const parts = s.split(String(sep));
  if (max < 0 || parts.length <= max + 1) return parts;
  return [...parts.slice(0, max), parts.slice(max).join(String(sep))];
}

function pyReplace(s: string, a: string, b: string, count: unknown): string {
  let n = count === undefined || count === null ? -1 : Number(count);
  if (n < 0) return s.split(a).join(b);
  let out = '';
  let rest = s;
  while (n > 0) {
    const i = rest.indexOf(a);
    if (i === -1) break;
    out += rest.slice(0, i) + b;
    rest = rest.slice(i + a.length);
    n -= 1;
  }
  return out + rest;
}

/** `'{} {name} {0}'.format(...)` with positional and keyword arguments (nunjucks passes keywords last). */
function pyFormat(s: string, args: unknown[]): string {
  const { positional, keywords } = splitKeywords(args);
  let auto = 0;
  return s.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (m, field: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const name = (field ?? '').split(/[!:]/)[0];
    if (name === '') return pyStr(positional[auto++]);
    if (/^\d+$/.test(name)) return pyStr(positional[Number(name)]);
    return pyStr(keywords[name]);
  });
}

/** nunjucks passes `f(a, k=1)` as `f(a, {k: 1, __keywords: true})`. */
function splitKeywords(args: unknown[]): { positional: unknown[]; keywords: Record<string, unknown> } {
  const last = args[args.length - 1];
  if (isPlainObject(last) && last.__keywords === true) {
    const { __keywords: _ignored, ...keywords } = last;
    return { positional: args.slice(0, -1), keywords };
  }
  return { positional: args, keywords: {} };
}

function toList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return [...value];
  if (isPlainObject(value)) return Object.keys(value);
  if (value instanceof Set || value instanceof Map) return [...value.keys()];
  return value === undefined || value === null ? [] : [value];
}

/** `a.b.0` attribute paths, as Jinja's `attribute=` arguments, through the same safe member lookup. */
function attrPath(item: unknown, path: unknown): unknown {
  let v = item;
  for (const part of String(path).split('.')) v = lookupMember(v, /^\d+$/.test(part) ? Number(part) : part, internals.runtime.memberLookup as Fn);
  return v;
}

function installFilters(): void {
  const e = env as unknown as { getFilter(n: string): Fn; getTest(n: string): Fn; addFilter(n: string, f: Fn): void; addTest(n: string, f: Fn): void; addGlobal(n: string, v: unknown): void };
  const builtin = (name: string): Fn => e.getFilter(name);
  /** Maps Jinja keyword arguments onto the positional parameters of nunjucks' filter. */
  const withKeywords = (name: string, params: string[], impl: Fn = builtin(name)): void => {
    e.addFilter(name, function (this: unknown, value: unknown, ...args: unknown[]) {
      const { positional, keywords } = splitKeywords(args);
      const merged = params.map((p, i) => (Object.hasOwn(keywords, p) ? keywords[p] : positional[i]));
      while (merged.length > 0 && merged[merged.length - 1] === undefined) merged.pop();
      return impl.call(this, value, ...merged);
    });
  };
  const asStr = (name: string, impl: (s: string, ...a: unknown[]) => unknown): void => e.addFilter(name, (v: unknown, ...a: unknown[]) => impl(pyStr(v), ...a));

  asStr('upper', (s) => s.toUpperCase());
  asStr('lower', (s) => s.toLowerCase());
  asStr('capitalize', STRING_METHODS.capitalize);
  asStr('title', STRING_METHODS.title);
  asStr('trim', (s, chars) => stripChars(s, chars, true, true));
  withKeywords('replace', ['old', 'new', 'count'], (v: unknown, a: unknown, b: unknown, count: unknown) => pyReplace(pyStr(v), pyStr(a), pyStr(b), count));
  e.addFilter('string', (v: unknown) => pyStr(v));
  withKeywords('join', ['d', 'attribute'], (v: unknown, d: unknown = '', attribute: unknown) =>
    toList(v).map((x) => pyStr(attribute === undefined ? x : attrPath(x, attribute))).join(pyStr(d)),
  );
  withKeywords('default', ['default_value', 'boolean']);
  e.addFilter('d', builtin('default'));
  withKeywords('sort', ['reverse', 'case_sensitive', 'attribute']);
  withKeywords('truncate', ['length', 'killwords', 'end']);
  withKeywords('round', ['precision', 'method']);
  withKeywords('indent', ['width', 'first']);
  withKeywords('dictsort', ['case_sensitive', 'by']);
  withKeywords('groupby', ['attribute']);
  withKeywords('batch', ['linecount', 'fill_with']);
  withKeywords('slice', ['slices', 'fill_with']);
  withKeywords('sum', ['attribute', 'start']);
  withKeywords('center', ['width']);
  withKeywords('tojson', ['indent'], (v: unknown, indent: unknown) => pyJson(v, indent === undefined ? undefined : Number(indent)));
  e.addFilter('pprint', (v: unknown) => pyRepr(v));
  e.addFilter('count', builtin('length'));
  e.addFilter('items', (v: unknown) => (isPlainObject(v) ? Object.entries(v) : []));
  e.addFilter('attr', (v: unknown, name: unknown) => lookupMember(v, name, internals.runtime.memberLookup as Fn));
  e.addFilter('format', (v: unknown, ...args: unknown[]) => printfFormat(pyStr(v), args));
  withKeywords('unique', ['case_sensitive', 'attribute'], (v: unknown, caseSensitive: unknown, attribute: unknown) => {
    const seen = new Set<unknown>();
    return toList(v).filter((x) => {
      let k = attribute === undefined ? x : attrPath(x, attribute);
      if (!caseSensitive && typeof k === 'string') k = k.toLowerCase();
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  });
  const extreme = (sign: number) => (v: unknown, caseSensitive: unknown, attribute: unknown) => {
    const list = toList(v);
    const key = (x: unknown) => {
      const k = attribute === undefined ? x : attrPath(x, attribute);
      return !caseSensitive && typeof k === 'string' ? k.toLowerCase() : k;
    };
    let best: unknown;
    for (const x of list) if (best === undefined || sign * compare(key(x), key(best)) > 0) best = x;
    return best;
  };
  withKeywords('min', ['case_sensitive', 'attribute'], extreme(-1));
  withKeywords('max', ['case_sensitive', 'attribute'], extreme(1));
  e.addFilter('map', function (this: unknown, v: unknown, ...args: unknown[]) {
    const { positional, keywords } = splitKeywords(args);
    const list = toList(v);
    if (Object.hasOwn(keywords, 'attribute')) {
      return list.map((x) => {
        const got = attrPath(x, keywords.attribute);
        return got === undefined && Object.hasOwn(keywords, 'default') ? keywords.default : got;
      });
    }
    const filterName = positional[0];
    if (typeof filterName !== 'string') throw new TemplateFailure("map() needs a filter name or attribute='...'");
    const f = e.getFilter(filterName);
    return list.map((x) => f.call(this, x, ...positional.slice(1)));
  });
  const attrFilter = (keep: boolean) =>
    function (this: unknown, v: unknown, attribute: unknown, testName?: unknown, ...testArgs: unknown[]) {
      const test = testName === undefined ? (x: unknown) => Boolean(x) && !(Array.isArray(x) && x.length === 0) : e.getTest(String(testName));
      return toList(v).filter((x) => Boolean(test.call(this, attrPath(x, attribute), ...testArgs)) === keep);
    };
  e.addFilter('selectattr', attrFilter(true));
  e.addFilter('rejectattr', attrFilter(false));

  e.addTest('none', (v: unknown) => v === null);
  e.addTest('boolean', (v: unknown) => typeof v === 'boolean');
  e.addTest('true', (v: unknown) => v === true);
  e.addTest('false', (v: unknown) => v === false);
  e.addTest('integer', (v: unknown) => typeof v === 'number' && Number.isInteger(v));
  e.addTest('float', (v: unknown) => typeof v === 'number' && !Number.isInteger(v));
  e.addTest('sequence', (v: unknown) => Array.isArray(v) || typeof v === 'string' || isPlainObject(v));
  e.addTest('in', (v: unknown, container: unknown) => (internals.runtime.inOperator as Fn)(v, container));

  e.addGlobal('dict', (...args: unknown[]) => ({ ...splitKeywords(args).keywords }));
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = pyStr(a);
  const y = pyStr(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Jinja's `format` filter: Python `%` formatting for `%s`, `%d`, `%i`, `%f` (with precision), `%r` and `%%`. */
function printfFormat(format: string, args: unknown[]): string {
  const { positional, keywords } = splitKeywords(args);
  let i = 0;
  return format.replace(/%(?:\(([^)]+)\))?([-+ 0#]*)(\d+)?(?:\.(\d+))?([sdifrx%])/g, (_m, key: string | undefined, flags: string, width: string | undefined, precision: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    const value = key !== undefined ? keywords[key] : positional[i++];
    let text: string;
    if (conv === 'd' || conv === 'i') text = String(Math.trunc(Number(value)));
    else if (conv === 'f') text = Number(value).toFixed(precision === undefined ? 6 : Number(precision));
    else if (conv === 'x') text = Math.trunc(Number(value)).toString(16);
    else if (conv === 'r') text = pyRepr(value);
    else text = pyStr(value);
    if (width !== undefined) text = flags.includes('-') ? text.padEnd(Number(width)) : text.padStart(Number(width), flags.includes('0') && conv !== 's' ? '0' : ' ');
    return text;
  });
}

// Installed last: the hooks use the tables and helpers above.
installHooks();
installFilters();
