/**
 * A renderer for the subset of Helm's Go templates that charts/blockflow uses, so the chart is rendered and
 * validated in tests on machines without the helm binary (when `helm` is on PATH or HELM_BIN is set, the chart
 * test renders with it as well and compares).
 * Supported: text/actions with `{{-`/`-}}` trimming and comments; if / else if / else, with, range (lists and
 * maps, with `$k, $v :=`), define, variables (`$x :=`), pipelines and parenthesised calls; the functions
 * default, trunc, trimSuffix, contains, printf (%s %d %v), replace, quote, include, toYaml, toJson, sha256sum,
 * indent, nindent, not, and, or, eq, ne, empty. Unknown functions are errors, never silently empty.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';

type Value = any;

interface TextNode { t: 'text'; text: string }
interface ActionNode { t: 'action'; pipe: Pipe }
interface IfNode { t: 'if'; branches: Array<{ cond: Pipe; body: Node[] }>; otherwise: Node[] }
interface WithNode { t: 'with'; pipe: Pipe; body: Node[]; otherwise: Node[] }
interface RangeNode { t: 'range'; vars: string[]; pipe: Pipe; body: Node[]; otherwise: Node[] }
interface DefineNode { t: 'define'; name: string; body: Node[] }
type Node = TextNode | ActionNode | IfNode | WithNode | RangeNode | DefineNode;

type Operand =
  | { k: 'lit'; v: Value }
  | { k: 'field'; base: 'dot' | string; path: string[] }
  | { k: 'call'; fn: string; args: Operand[] }
  | { k: 'sub'; pipe: Pipe };
interface Pipe { decl?: string; cmds: Operand[][] }

/** Splits a template into text and action tokens, applying trim markers and dropping comments. */
function lex(src: string): Array<{ text?: string; action?: string }> {
  const out: Array<{ text?: string; action?: string }> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    const trimLeft = src[open + 2] === '-' && /\s/.test(src[open + 3]);
    if (trimLeft) text = text.replace(/\s+$/, '');
    out.push({ text });
    const close = src.indexOf('}}', open);
    if (close < 0) throw new Error('unclosed action');
    let inner = src.slice(open + 2, close);
    const trimRight = inner.endsWith('-') && /\s/.test(inner[inner.length - 2]);
    if (trimLeft) inner = inner.slice(1);
    if (trimRight) inner = inner.slice(0, -1);
    inner = inner.trim();
    i = close + 2;
    if (trimRight) while (i < src.length && /\s/.test(src[i])) i++;
    if (!inner.startsWith('/*')) out.push({ action: inner });
  }
  return out;
}

function tokenize(s: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      tokens.push(s.slice(i, j + 1));
      i = j + 1;
    } else if (c === '(' || c === ')' || c === '|' || c === ',') {
      tokens.push(c);
      i++;
    } else if (s.startsWith(':=', i)) {
      tokens.push(':=');
      i += 2;
    } else {
      let j = i;
      while (j < s.length && !/[\s()|,]/.test(s[j]) && !s.startsWith(':=', j)) j++;
      tokens.push(s.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

function parsePipe(tokens: string[]): Pipe {
  let pos = 0;
  const pipe = (): Pipe => {
    const p: Pipe = { cmds: [] };
    if (tokens[pos]?.startsWith('$') && tokens[pos + 1] === ':=') {
      p.decl = tokens[pos];
      pos += 2;
    }
    let cmd: Operand[] = [];
    while (pos < tokens.length && tokens[pos] !== ')') {
      const t = tokens[pos];
      if (t === '|') {
        p.cmds.push(cmd);
        cmd = [];
        pos++;
        continue;
      }
      cmd.push(operand());
    }
    p.cmds.push(cmd);
    return p;
  };
  const operand = (): Operand => {
    const t = tokens[pos++];
    if (t === '(') {
      const sub = pipe();
      if (tokens[pos++] !== ')') throw new Error('missing )');
      return { k: 'sub', pipe: sub };
    }
    if (t.startsWith('"')) return { k: 'lit', v: JSON.parse(t) };
    if (/^-?\d+(\.\d+)?$/.test(t)) return { k: 'lit', v: Number(t) };
    if (t === 'true' || t === 'false') return { k: 'lit', v: t === 'true' };
    if (t === 'nil') return { k: 'lit', v: null };
    if (t === '.') return { k: 'field', base: 'dot', path: [] };
    if (t.startsWith('.')) return { k: 'field', base: 'dot', path: t.slice(1).split('.') };
    if (t.startsWith('$')) {
      const [name, ...path] = t.split('.');
      return { k: 'field', base: name, path };
    }
    return { k: 'call', fn: t, args: [] };
  };
  const p = pipe();
  if (pos !== tokens.length) throw new Error(`unexpected ${tokens[pos]}`);
  return p;
}

function parse(src: string): Node[] {
  const items = lex(src);
  let pos = 0;
  const block = (stop: string[]): { nodes: Node[]; ended: string } => {
    const nodes: Node[] = [];
    while (pos < items.length) {
      const item = items[pos++];
      if (item.text !== undefined) {
        if (item.text) nodes.push({ t: 'text', text: item.text });
        continue;
      }
      const a = item.action!;
      const word = a.split(/\s+/)[0];
      if (stop.includes(word)) return { nodes, ended: a };
      const rest = a.slice(word.length).trim();
      if (word === 'if') {
        const node: IfNode = { t: 'if', branches: [{ cond: parsePipe(tokenize(rest)), body: [] }], otherwise: [] };
        let r = block(['else', 'end']);
        node.branches[0].body = r.nodes;
        while (r.ended.startsWith('else')) {
          const tail = r.ended.slice(4).trim();
          if (tail.startsWith('if ')) {
            const b = { cond: parsePipe(tokenize(tail.slice(3))), body: [] as Node[] };
            r = block(['else', 'end']);
            b.body = r.nodes;
            node.branches.push(b);
          } else {
            r = block(['end']);
            node.otherwise = r.nodes;
          }
        }
        nodes.push(node);
      } else if (word === 'with' || word === 'range') {
        let header = rest;
        let vars: string[] = [];
        const m = /^(\$\w+)\s*(?:,\s*(\$\w+))?\s*:=\s*(.*)$/.exec(rest);
        if (word === 'range' && m) {
          vars = [m[1], m[2]].filter(Boolean) as string[];
          header = m[3];
        }
        const r = block(['else', 'end']);
        let otherwise: Node[] = [];
        if (r.ended.startsWith('else')) otherwise = block(['end']).nodes;
        const pipe = parsePipe(tokenize(header));
        nodes.push(word === 'with' ? { t: 'with', pipe, body: r.nodes, otherwise } : { t: 'range', vars, pipe, body: r.nodes, otherwise });
      } else if (word === 'define') {
        const name = JSON.parse(rest);
        nodes.push({ t: 'define', name, body: block(['end']).nodes });
      } else {
        nodes.push({ t: 'action', pipe: parsePipe(tokenize(a)) });
      }
    }
    if (stop.length) throw new Error(`missing {{ end }} (wanted ${stop.join('/')})`);
    return { nodes, ended: '' };
  };
  return block([]).nodes;
}

function truthy(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function toYaml(v: Value): string {
  if (v === null || v === undefined) return 'null';
  const sorted = (x: Value): Value =>
    Array.isArray(x) ? x.map(sorted) : x && typeof x === 'object' ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sorted(x[k])])) : x;
  return YAML.stringify(sorted(v), { lineWidth: 0 }).replace(/\n$/, '');
}

function str(v: Value): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

class Scope {
  constructor(readonly vars: Map<string, Value>, readonly parent?: Scope) {}
  get(name: string): Value {
    if (this.vars.has(name)) return this.vars.get(name);
    if (this.parent) return this.parent.get(name);
    throw new Error(`undefined variable ${name}`);
  }
  child(): Scope {
    return new Scope(new Map(), this);
  }
}

export class HelmRenderer {
  private readonly defines = new Map<string, Node[]>();

  private readonly fns: Record<string, (...a: Value[]) => Value> = {
    default: (d, v) => (truthy(v) ? v : d),
    trunc: (n, s) => str(s).slice(0, n),
    trimSuffix: (suffix, s) => (str(s).endsWith(suffix) ? str(s).slice(0, -suffix.length) : str(s)),
    contains: (sub, s) => str(s).includes(str(sub)),
    printf: (fmt: string, ...args) => {
      let i = 0;
      return fmt.replace(/%[sdv]/g, () => str(args[i++]));
    },
    replace: (oldS, newS, s) => str(s).split(oldS).join(newS),
    quote: (...a) => a.map((x) => JSON.stringify(str(x))).join(' '),
    include: (name, dot) => this.renderNodes(this.defineOf(name), dot, new Scope(new Map([['$', dot]]))),
    toYaml,
    toJson: (v) => JSON.stringify(v ?? null),
    sha256sum: (s) => createHash('sha256').update(str(s)).digest('hex'),
    indent: (n, s) => str(s).split('\n').map((l) => ' '.repeat(n) + l).join('\n'),
    nindent: (n, s) => '\n' + str(s).split('\n').map((l) => ' '.repeat(n) + l).join('\n'),
    not: (v) => !truthy(v),
    and: (...a) => a.reduce((acc, x) => (truthy(acc) ? x : acc)),
    or: (...a) => a.find(truthy) ?? a[a.length - 1],
    eq: (a, b) => a === b,
    ne: (a, b) => a !== b,
    empty: (v) => !truthy(v),
  };

  private defineOf(name: string): Node[] {
    const body = this.defines.get(name);
    if (!body) throw new Error(`no template named ${name}`);
    return body;
  }

  private evalOperand(op: Operand, dot: Value, scope: Scope, piped: Value[] = []): Value {
    switch (op.k) {
      case 'lit':
        return op.v;
      case 'sub':
        return this.evalPipe(op.pipe, dot, scope);
      case 'field': {
        let v = op.base === 'dot' ? dot : scope.get(op.base);
        for (const p of op.path) v = v == null ? undefined : v[p];
        return v;
      }
      case 'call': {
        const fn = this.fns[op.fn];
        if (!fn) throw new Error(`function ${op.fn} is not supported by this renderer`);
        return fn(...op.args.map((a) => this.evalOperand(a, dot, scope)), ...piped);
      }
    }
  }

  private evalPipe(pipe: Pipe, dot: Value, scope: Scope): Value {
    let value: Value;
    pipe.cmds.forEach((cmd, i) => {
      const piped = i === 0 ? [] : [value];
      const [head, ...args] = cmd;
      if (head.k === 'call') value = this.evalOperand({ ...head, args }, dot, scope, piped);
      else if (args.length === 0 && piped.length === 0) value = this.evalOperand(head, dot, scope);
      else throw new Error('only a function can take arguments');
    });
    if (pipe.decl) {
      scope.vars.set(pipe.decl, value);
      return undefined;
    }
    return value;
  }

  private renderNodes(nodes: Node[], dot: Value, scope: Scope): string {
    let out = '';
    for (const n of nodes) {
      if (n.t === 'text') out += n.text;
      else if (n.t === 'define') this.defines.set(n.name, n.body);
      else if (n.t === 'action') {
        const v = this.evalPipe(n.pipe, dot, scope);
        if (!n.pipe.decl) out += str(v);
      } else if (n.t === 'if') {
        const branch = n.branches.find((b) => truthy(this.evalPipe(b.cond, dot, scope)));
        out += this.renderNodes(branch ? branch.body : n.otherwise, dot, scope.child());
      } else if (n.t === 'with') {
        const v = this.evalPipe(n.pipe, dot, scope);
        out += truthy(v) ? this.renderNodes(n.body, v, scope.child()) : this.renderNodes(n.otherwise, dot, scope.child());
      } else if (n.t === 'range') {
        const v = this.evalPipe(n.pipe, dot, scope);
        const entries: Array<[Value, Value]> = Array.isArray(v)
          ? v.map((x, i) => [i, x])
          : v && typeof v === 'object'
            ? Object.keys(v).sort().map((k) => [k, v[k]])
            : [];
        if (entries.length === 0) out += this.renderNodes(n.otherwise, dot, scope.child());
        for (const [k, x] of entries) {
          const s = scope.child();
          if (n.vars.length === 2) {
            s.vars.set(n.vars[0], k);
            s.vars.set(n.vars[1], x);
          } else if (n.vars.length === 1) s.vars.set(n.vars[0], x);
          out += this.renderNodes(n.body, x, s);
        }
      }
    }
    return out;
  }

  /** Renders every template of `chartDir` with `values` over the chart's values.yaml, like `helm template`. */
  renderChart(chartDir: string, overrides: Record<string, Value>, release = { Name: 'release', Namespace: 'default' }): Map<string, string> {
    const chart = YAML.parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8'));
    const defaults = YAML.parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
    const merge = (a: Value, b: Value): Value =>
      b && typeof b === 'object' && !Array.isArray(b) && a && typeof a === 'object' && !Array.isArray(a)
        ? Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, k in b ? (b[k] === null ? undefined : merge(a[k], b[k])) : a[k]]).filter(([, v]) => v !== undefined))
        : b;
    const dot = {
      Values: merge(defaults, overrides),
      Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
      Release: { ...release, Service: 'Helm' },
    };
    const dir = join(chartDir, 'templates');
    const files = readdirSync(dir).sort();
    const parsed = new Map(files.map((f) => [f, parse(readFileSync(join(dir, f), 'utf8'))]));
    for (const [f, nodes] of parsed) if (f.startsWith('_')) this.renderNodes(nodes, dot, new Scope(new Map([['$', dot]])));
    const out = new Map<string, string>();
    for (const [f, nodes] of parsed) {
      if (f.startsWith('_') || !/\.ya?ml$/.test(f)) continue;
      out.set(f, this.renderNodes(nodes, dot, new Scope(new Map([['$', dot]]))));
    }
    return out;
  }
}
