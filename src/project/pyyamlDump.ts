/**
 * A port of PyYAML's emitter (yaml.dump / yaml.safe_dump with default options) for the values YAML files
 * hold: mappings, sequences, strings, numbers, booleans, null and timestamps. Mage writes pipeline
 * metadata.yaml and triggers.yaml with these defaults, so files we write are byte-identical to Mage's:
 * keys sorted, block style, empty collections as `{}` / `[]`, sequences in a mapping not indented, lines
 * folded at 80 columns, non-ASCII text in double quotes with escapes (allow_unicode=False), and strings that
 * would read back as another type (`'yes'`, `'1.0'`, `'2024-01-01'`) single-quoted.
 */

/** A YAML 1.1 timestamp written plain (unquoted), as PyYAML writes a Python datetime. */
export class YamlTimestamp {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
  toJSON(): string {
    return this.text;
  }
}

export interface PyYamlDumpOptions {
  /** Sort mapping keys by code point, as PyYAML's default sort_keys=True. Default true. */
  sortKeys?: boolean;
  /** Preferred line width (PyYAML best_width). Default 80. */
  width?: number;
  /** Indentation step (PyYAML best_indent). Default 2. */
  indent?: number;
}

type ScalarNode = { kind: 'scalar'; text: string; implicitPlain: boolean };
type SeqNode = { kind: 'seq'; items: Node[] };
type MapNode = { kind: 'map'; pairs: [Node, Node][] };
type Node = ScalarNode | SeqNode | MapNode;

// PyYAML's implicit resolvers (yaml/resolver.py), keyed by first character as PyYAML looks them up.
const BOOL_RE = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const FLOAT_RE =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT_RE =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const MERGE_RE = /^(?:<<)$/;
const NULL_RE = /^(?:~|null|Null|NULL|)$/;
/** PyYAML's timestamp resolver; also used to decide which strings are written as timestamps. */
export const PY_TIMESTAMP_RE =
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;
const VALUE_RE = /^(?:=)$/;

const RESOLVERS: [string, RegExp][] = [
  ['yYnNtTfFoO', BOOL_RE],
  ['-+0123456789.', FLOAT_RE],
  ['-+0123456789', INT_RE],
  ['<', MERGE_RE],
  ['~nN', NULL_RE],
  ['0123456789', PY_TIMESTAMP_RE],
  ['=', VALUE_RE],
];

/** True when PyYAML would read `text`, written plain, back as a string. */
function resolvesToStr(text: string): boolean {
  if (text === '') return false; // the null resolver owns the empty scalar
  const first = text[0];
  return !RESOLVERS.some(([firsts, re]) => firsts.includes(first) && re.test(text));
}

/** Python's repr(float), lower-cased, with PyYAML's `.0` fix for exponents without a dot. */
function pyFloat(v: number): string {
  if (Number.isNaN(v)) return '.nan';
  if (v === Infinity) return '.inf';
  if (v === -Infinity) return '-.inf';
  const neg = v < 0 || Object.is(v, -0);
  const [mant, expText] = Math.abs(v).toExponential().split('e');
  const exp = Number.parseInt(expText, 10);
  const digits = mant.replace('.', '');
  let out: string;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
      const frac = digits.slice(exp + 1);
      out = `${intPart}.${frac === '' ? '0' : frac}`;
    } else {
      out = `0.${'0'.repeat(-exp - 1)}${digits}`;
    }
  } else {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : `${digits[0]}.0`;
    out = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return (neg ? '-' : '') + out;
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** A Date as Python's `datetime.isoformat(' ')` of the same instant in UTC. */
function pyDatetime(d: Date): string {
  const base =
    `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const ms = d.getUTCMilliseconds();
  return `${base}${ms ? `.${String(ms * 1000).padStart(6, '0')}` : ''}+00:00`;
}

function compareCodePoints(a: string, b: string): number {
  const ca = Array.from(a);
  const cb = Array.from(b);
  const n = Math.min(ca.length, cb.length);
  for (let i = 0; i < n; i += 1) {
    const d = (ca[i].codePointAt(0) ?? 0) - (cb[i].codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}

function represent(value: unknown, sortKeys: boolean, path: string): Node {
  if (value === null || value === undefined) return { kind: 'scalar', text: 'null', implicitPlain: true };
  if (typeof value === 'boolean') return { kind: 'scalar', text: value ? 'true' : 'false', implicitPlain: true };
  if (typeof value === 'bigint') return { kind: 'scalar', text: value.toString(), implicitPlain: true };
  if (typeof value === 'number') {
    const text = Number.isInteger(value) && !Object.is(value, -0) ? String(value) : pyFloat(value);
    return { kind: 'scalar', text, implicitPlain: true };
  }
  if (typeof value === 'string') return { kind: 'scalar', text: value, implicitPlain: resolvesToStr(value) };
  if (value instanceof YamlTimestamp) {
    return { kind: 'scalar', text: value.text, implicitPlain: PY_TIMESTAMP_RE.test(value.text) || resolvesToStr(value.text) };
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError(`Invalid date at ${path || 'root'}`);
    return { kind: 'scalar', text: pyDatetime(value), implicitPlain: true };
  }
  if (Array.isArray(value)) {
    return { kind: 'seq', items: value.map((v, i) => represent(v, sortKeys, `${path}[${i}]`)) };
  }
  if (value instanceof Map) {
    return represent(Object.fromEntries(value), sortKeys, path);
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (sortKeys) entries.sort(([a], [b]) => compareCodePoints(a, b));
    return {
      kind: 'map',
      pairs: entries.map(([k, v]) => [
        { kind: 'scalar', text: k, implicitPlain: resolvesToStr(k) },
        represent(v, sortKeys, path ? `${path}.${k}` : k),
      ]),
    };
  }
  throw new TypeError(`Cannot write a ${typeof value} to YAML (at ${path || 'root'})`);
}

interface Analysis {
  chars: string[];
  empty: boolean;
  multiline: boolean;
  allowFlowPlain: boolean;
  allowBlockPlain: boolean;
  allowSingleQuoted: boolean;
}

const SPACE_OR_BREAK = '\0 \t\r\n\x85\u2028\u2029';
const BREAKS = '\n\x85\u2028\u2029';

function cp(ch: string): number {
  return ch.codePointAt(0) ?? 0;
}

/** emitter.py analyze_scalar with allow_unicode=False. */
function analyze(text: string): Analysis {
  const chars = Array.from(text);
  if (chars.length === 0) {
    return { chars, empty: true, multiline: false, allowFlowPlain: false, allowBlockPlain: true, allowSingleQuoted: true };
  }
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let specialCharacters = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  if (text.startsWith('---') || text.startsWith('...')) {
    blockIndicators = true;
    flowIndicators = true;
  }
  let precededByWhitespace = true;
  let followedByWhitespace = chars.length === 1 || SPACE_OR_BREAK.includes(chars[1]);
  let previousSpace = false;
  let previousBreak = false;
  for (let index = 0; index < chars.length; index += 1) {
    const ch = chars[index];
    if (index === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) {
        flowIndicators = true;
        blockIndicators = true;
      }
      if ('?:'.includes(ch)) {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      }
      if (ch === '-' && followedByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    } else {
      if (',?[]{}'.includes(ch)) flowIndicators = true;
      if (ch === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      }
      if (ch === '#' && precededByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    }
    if (BREAKS.includes(ch)) lineBreaks = true;
    const c = cp(ch);
    if (!(ch === '\n' || (c >= 0x20 && c <= 0x7e))) {
      // With allow_unicode=False every other character, printable or not, needs double quotes.
      specialCharacters = true;
    }
    if (ch === ' ') {
      if (index === 0) leadingSpace = true;
      if (index === chars.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (BREAKS.includes(ch)) {
      if (index === 0) leadingBreak = true;
      if (index === chars.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = SPACE_OR_BREAK.includes(ch);
    followedByWhitespace = index + 2 >= chars.length || SPACE_OR_BREAK.includes(chars[index + 2]);
  }
  let allowFlowPlain = true;
  let allowBlockPlain = true;
  let allowSingleQuoted = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) {
    allowFlowPlain = false;
    allowBlockPlain = false;
  }
  if (breakSpace) {
    allowFlowPlain = false;
    allowBlockPlain = false;
    allowSingleQuoted = false;
  }
  if (spaceBreak || specialCharacters) {
    allowFlowPlain = false;
    allowBlockPlain = false;
    allowSingleQuoted = false;
  }
  if (lineBreaks) {
    allowFlowPlain = false;
    allowBlockPlain = false;
  }
  if (flowIndicators) allowFlowPlain = false;
  if (blockIndicators) allowBlockPlain = false;
  return { chars, empty: false, multiline: lineBreaks, allowFlowPlain, allowBlockPlain, allowSingleQuoted };
}

const ESCAPES: Record<string, string> = {
  '\0': '0',
  '\x07': 'a',
  '\x08': 'b',
  '\x09': 't',
  '\x0A': 'n',
  '\x0B': 'v',
  '\x0C': 'f',
  '\x0D': 'r',
  '\x1B': 'e',
  '"': '"',
  '\\': '\\',
  '\x85': 'N',
  '\xA0': '_',
  '\u2028': 'L',
  '\u2029': 'P',
};

interface NodeContext {
  root?: boolean;
  sequence?: boolean;
  mapping?: boolean;
  simpleKey?: boolean;
}

class Emitter {
  private out: string[] = [];
  private column = 0;
  private whitespace = true;
  private indention = true;
  private openEnded = false;
  private indent: number | null = null;
  private readonly indents: (number | null)[] = [];
  private flowLevel = 0;
  private rootContext = false;
  private mappingContext = false;
  private simpleKeyContext = false;

  constructor(
    private readonly bestIndent: number,
    private readonly bestWidth: number,
  ) {}

  document(node: Node): string {
    this.expectNode(node, { root: true });
    this.writeIndent();
    if (this.openEnded) {
      this.writeIndicator('...', true);
      this.writeIndent();
    }
    return this.out.join('');
  }

  private write(data: string): void {
    this.out.push(data);
  }

  private increaseIndent(flow: boolean, indentless = false): void {
    this.indents.push(this.indent);
    if (this.indent === null) {
      this.indent = flow ? this.bestIndent : 0;
    } else if (!indentless) {
      this.indent += this.bestIndent;
    }
  }

  private popIndent(): void {
    this.indent = this.indents.pop() ?? null;
  }

  private expectNode(node: Node, ctx: NodeContext): void {
    this.rootContext = ctx.root ?? false;
    this.mappingContext = ctx.mapping ?? false;
    this.simpleKeyContext = ctx.simpleKey ?? false;
    if (node.kind === 'scalar') {
      this.increaseIndent(true);
      this.processScalar(node);
      this.popIndent();
    } else if (node.kind === 'seq') {
      if (this.flowLevel > 0 || node.items.length === 0) this.flowSequence(node);
      else this.blockSequence(node);
    } else if (this.flowLevel > 0 || node.pairs.length === 0) {
      this.flowMapping(node);
    } else {
      this.blockMapping(node);
    }
  }

  private flowSequence(node: SeqNode): void {
    this.writeIndicator('[', true, true);
    this.flowLevel += 1;
    this.increaseIndent(true);
    node.items.forEach((item, i) => {
      if (i > 0) this.writeIndicator(',', false);
      if (this.column > this.bestWidth) this.writeIndent();
      this.expectNode(item, { sequence: true });
    });
    this.popIndent();
    this.flowLevel -= 1;
    this.writeIndicator(']', false);
  }

  private flowMapping(node: MapNode): void {
    this.writeIndicator('{', true, true);
    this.flowLevel += 1;
    this.increaseIndent(true);
    node.pairs.forEach(([key, value], i) => {
      if (i > 0) this.writeIndicator(',', false);
      if (this.column > this.bestWidth) this.writeIndent();
      if (this.checkSimpleKey(key)) {
        this.expectNode(key, { mapping: true, simpleKey: true });
        this.writeIndicator(':', false);
      } else {
        this.writeIndicator('?', true);
        this.expectNode(key, { mapping: true });
        if (this.column > this.bestWidth) this.writeIndent();
        this.writeIndicator(':', true);
      }
      this.expectNode(value, { mapping: true });
    });
    this.popIndent();
    this.flowLevel -= 1;
    this.writeIndicator('}', false);
  }

  private blockSequence(node: SeqNode): void {
    const indentless = this.mappingContext && !this.indention;
    this.increaseIndent(false, indentless);
    for (const item of node.items) {
      this.writeIndent();
      this.writeIndicator('-', true, false, true);
      this.expectNode(item, { sequence: true });
    }
    this.popIndent();
  }

  private blockMapping(node: MapNode): void {
    this.increaseIndent(false);
    for (const [key, value] of node.pairs) {
      this.writeIndent();
      if (this.checkSimpleKey(key)) {
        this.expectNode(key, { mapping: true, simpleKey: true });
        this.writeIndicator(':', false);
      } else {
        this.writeIndicator('?', true, false, true);
        this.expectNode(key, { mapping: true });
        this.writeIndent();
        this.writeIndicator(':', true, false, true);
      }
      this.expectNode(value, { mapping: true });
    }
    this.popIndent();
  }

  private checkSimpleKey(node: Node): boolean {
    if (node.kind === 'seq') return node.items.length === 0;
    if (node.kind === 'map') return node.pairs.length === 0;
    const a = analyze(node.text);
    return a.chars.length < 128 && !a.empty && !a.multiline;
  }

  private processScalar(node: ScalarNode): void {
    const a = analyze(node.text);
    const split = !this.simpleKeyContext;
    let style: '' | "'" | '"' = '"';
    if (
      node.implicitPlain &&
      !(this.simpleKeyContext && (a.empty || a.multiline)) &&
      ((this.flowLevel > 0 && a.allowFlowPlain) || (this.flowLevel === 0 && a.allowBlockPlain))
    ) {
      style = '';
    } else if (a.allowSingleQuoted && !(this.simpleKeyContext && a.multiline)) {
      style = "'";
    }
    if (style === '') this.writePlain(a.chars, split);
    else if (style === "'") this.writeSingleQuoted(a.chars, split);
    else this.writeDoubleQuoted(a.chars, split);
  }

  private writeIndicator(indicator: string, needWhitespace: boolean, whitespace = false, indention = false): void {
    const data = this.whitespace || !needWhitespace ? indicator : ` ${indicator}`;
    this.whitespace = whitespace;
    this.indention = this.indention && indention;
    this.column += data.length;
    this.openEnded = false;
    this.write(data);
  }

  private writeIndent(): void {
    const indent = this.indent ?? 0;
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) {
      this.writeLineBreak();
    }
    if (this.column < indent) {
      this.whitespace = true;
      this.write(' '.repeat(indent - this.column));
      this.column = indent;
    }
  }

  private writeLineBreak(data = '\n'): void {
    this.whitespace = true;
    this.indention = true;
    this.column = 0;
    this.write(data);
  }

  private writeText(chars: string[], start: number, end: number): void {
    const data = chars.slice(start, end).join('');
    this.column += end - start;
    this.write(data);
  }

  private writeBreaks(chars: string[], start: number, end: number): void {
    if (chars[start] === '\n') this.writeLineBreak();
    for (let i = start; i < end; i += 1) {
      const br = chars[i];
      this.writeLineBreak(br === '\n' ? '\n' : br);
    }
  }

  private writePlain(chars: string[], split: boolean): void {
    if (this.rootContext) this.openEnded = true;
    if (chars.length === 0) return;
    if (!this.whitespace) {
      this.column += 1;
      this.write(' ');
    }
    this.whitespace = false;
    this.indention = false;
    let spaces = false;
    let breaks = false;
    let start = 0;
    for (let end = 0; end <= chars.length; end += 1) {
      const ch = end < chars.length ? chars[end] : null;
      if (spaces) {
        if (ch !== ' ') {
          if (start + 1 === end && this.column > this.bestWidth && split) {
            this.writeIndent();
            this.whitespace = false;
            this.indention = false;
          } else {
            this.writeText(chars, start, end);
          }
          start = end;
        }
      } else if (breaks) {
        if (ch === null || !BREAKS.includes(ch)) {
          this.writeBreaks(chars, start, end);
          this.writeIndent();
          this.whitespace = false;
          this.indention = false;
          start = end;
        }
      } else if (ch === null || ` ${BREAKS}`.includes(ch)) {
        this.writeText(chars, start, end);
        start = end;
      }
      if (ch !== null) {
        spaces = ch === ' ';
        breaks = BREAKS.includes(ch);
      }
    }
  }

  private writeSingleQuoted(chars: string[], split: boolean): void {
    this.writeIndicator("'", true);
    let spaces = false;
    let breaks = false;
    let start = 0;
    for (let end = 0; end <= chars.length; end += 1) {
      const ch = end < chars.length ? chars[end] : null;
      if (spaces) {
        if (ch === null || ch !== ' ') {
          if (start + 1 === end && this.column > this.bestWidth && split && start !== 0 && end !== chars.length) {
            this.writeIndent();
          } else {
            this.writeText(chars, start, end);
          }
          start = end;
        }
      } else if (breaks) {
        if (ch === null || !BREAKS.includes(ch)) {
          this.writeBreaks(chars, start, end);
          this.writeIndent();
          start = end;
        }
      } else if (ch === null || ` ${BREAKS}'`.includes(ch)) {
        if (start < end) {
          this.writeText(chars, start, end);
          start = end;
        }
      }
      if (ch === "'") {
        this.column += 2;
        this.write("''");
        start = end + 1;
      }
      if (ch !== null) {
        spaces = ch === ' ';
        breaks = BREAKS.includes(ch);
      }
    }
    this.writeIndicator("'", false);
  }

  private writeDoubleQuoted(chars: string[], split: boolean): void {
    this.writeIndicator('"', true);
    let start = 0;
    for (let end = 0; end <= chars.length; end += 1) {
      const ch = end < chars.length ? chars[end] : null;
      if (ch === null || '"\\\x85\u2028\u2029\uFEFF'.includes(ch) || !(cp(ch) >= 0x20 && cp(ch) <= 0x7e)) {
        if (start < end) {
          this.writeText(chars, start, end);
          start = end;
        }
        if (ch !== null) {
          const c = cp(ch);
          let data: string;
          if (ch in ESCAPES) data = `\\${ESCAPES[ch]}`;
          else if (c <= 0xff) data = `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
          else if (c <= 0xffff) data = `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
          else data = `\\U${c.toString(16).toUpperCase().padStart(8, '0')}`;
          this.column += data.length;
          this.write(data);
          start = end + 1;
        }
      }
      if (
        end > 0 &&
        end < chars.length - 1 &&
        (ch === ' ' || start >= end) &&
        this.column + (end - start) > this.bestWidth &&
        split
      ) {
        const data = `${chars.slice(start, end).join('')}\\`;
        if (start < end) start = end;
        this.column += data.length;
        this.write(data);
        this.writeIndent();
        this.whitespace = false;
        this.indention = false;
        if (chars[start] === ' ') {
          this.column += 1;
          this.write('\\');
        }
      }
    }
    this.writeIndicator('"', false);
  }
}

/** Serialises `value` exactly as PyYAML's `yaml.dump(value)` (and `yaml.safe_dump`) would. */
export function pyyamlDump(value: unknown, options: PyYamlDumpOptions = {}): string {
  const node = represent(value, options.sortKeys ?? true, '');
  return new Emitter(options.indent ?? 2, options.width ?? 80).document(node);
}
