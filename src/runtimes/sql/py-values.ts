/**
 * Python-flavoured values for SQL templates. Mage renders SQL with Jinja2, so a template prints values the
 * way Python's `str()` does (`True`, `None`, `['a', 'b']`, `2024-01-02 03:04:05+00:00`), and `execution_date`
 * is a datetime with `.strftime()`. These helpers give the nunjucks renderer the same behaviour.
 */

const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** A calendar date, as Python's `datetime.date` (what `execution_date.date()` returns). */
export class PyDate {
  constructor(
    readonly year: number,
    readonly month: number,
    readonly day: number,
  ) {}

  /** Monday is 0, as Python. */
  weekday(): number {
    return (new Date(Date.UTC(this.year, this.month - 1, this.day)).getUTCDay() + 6) % 7;
  }

  isoweekday(): number {
    return this.weekday() + 1;
  }

  isoformat(): string {
    return `${pad(this.year, 4)}-${pad(this.month)}-${pad(this.day)}`;
  }

  strftime(format: unknown): string {
    return strftime(String(format), this.year, this.month, this.day, 0, 0, 0, 0, null);
  }

  toString(): string {
    return this.isoformat();
  }
}

/**
 * A datetime as Python's `datetime.datetime`: `str()` is `YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]`, with the
 * attributes and methods templates use (`year`..`microsecond`, `strftime`, `isoformat`, `date`, `timestamp`).
 */
export class PyDatetime extends PyDate {
  constructor(
    year: number,
    month: number,
    day: number,
    readonly hour: number,
    readonly minute: number,
    readonly second: number,
    readonly microsecond: number,
    /** Offset from UTC in minutes; null for a naive datetime. */
    readonly offsetMinutes: number | null,
  ) {
    super(year, month, day);
  }

  /** Parses ISO 8601 (`2024-01-02T03:04:05.5Z`, `... 03:04:05+02:00`); null when `text` is not one. */
  static parse(text: string): PyDatetime | null {
    const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
    if (!m) return null;
    let offset: number | null = null;
    if (m[8] === 'Z') offset = 0;
    else if (m[8]) {
      const digits = m[8].replace(':', '');
      offset = (digits[0] === '-' ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
    }
    const micros = m[7] ? Number(m[7].padEnd(6, '0').slice(0, 6)) : 0;
    return new PyDatetime(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), micros, offset);
  }

  date(): PyDate {
    return new PyDate(this.year, this.month, this.day);
  }

  /** Seconds since the epoch; a naive datetime counts as UTC (the server runs runs in UTC). */
  timestamp(): number {
    const ms = Date.UTC(this.year, this.month - 1, this.day, this.hour, this.minute, this.second);
    return ms / 1000 - (this.offsetMinutes ?? 0) * 60 + this.microsecond / 1e6;
  }

  private offsetText(colon: boolean): string {
    if (this.offsetMinutes === null) return '';
    const sign = this.offsetMinutes < 0 ? '-' : '+';
    const abs = Math.abs(this.offsetMinutes);
    return `${sign}${pad(Math.floor(abs / 60))}${colon ? ':' : ''}${pad(abs % 60)}`;
  }

  override isoformat(sep: unknown = 'T'): string {
    const fraction = this.microsecond ? `.${pad(this.microsecond, 6)}` : '';
    const time = `${pad(this.hour)}:${pad(this.minute)}:${pad(this.second)}${fraction}`;
    return `${super.isoformat()}${String(sep)}${time}${this.offsetText(true)}`;
  }

  override strftime(format: unknown): string {
    const z = this.offsetMinutes === null ? null : this.offsetText(false);
    return strftime(String(format), this.year, this.month, this.day, this.hour, this.minute, this.second, this.microsecond, z);
  }

  override toString(): string {
    return this.isoformat(' ');
  }
}

/** Python's strftime for the C89 directives plus `%f`; an unknown directive is kept as written, as glibc does. */
function strftime(
  format: string,
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  micro: number,
  offset: string | null,
): string {
  const date = new PyDate(year, month, day);
  const dayOfYear = (Date.UTC(year, month - 1, day) - Date.UTC(year, 0, 1)) / 86_400_000 + 1;
  return format.replace(/%([a-zA-Z%])/g, (whole, d: string) => {
    switch (d) {
      case 'Y': return pad(year, 4);
      case 'y': return pad(year % 100);
      case 'm': return pad(month);
      case 'd': return pad(day);
      case 'H': return pad(hour);
      case 'I': return pad(hour % 12 === 0 ? 12 : hour % 12);
      case 'p': return hour < 12 ? 'AM' : 'PM';
      case 'M': return pad(minute);
      case 'S': return pad(second);
      case 'f': return pad(micro, 6);
      case 'j': return pad(dayOfYear, 3);
      case 'a': return WEEKDAYS[date.weekday()].slice(0, 3);
      case 'A': return WEEKDAYS[date.weekday()];
      case 'w': return String((date.weekday() + 1) % 7);
      case 'u': return String(date.isoweekday());
      case 'b': return MONTHS[month - 1].slice(0, 3);
      case 'B': return MONTHS[month - 1];
      case 'z': return offset ?? '';
      case 'Z': return offset === null ? '' : offset === '+0000' ? 'UTC' : `UTC${offset.slice(0, 3)}:${offset.slice(3)}`;
      case 'F': return `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
      case 'T': return `${pad(hour)}:${pad(minute)}:${pad(second)}`;
      case '%': return '%';
      default: return whole;
    }
  });
}

/** Python's `repr()` of a string: single quotes unless the text holds a single quote and no double quote. */
function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else out += ch;
  }
  return `${quote}${out}${quote}`;
}

function numberText(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  return String(n);
}

/** Python's `repr()` of a JSON-like value (how a value prints inside a list or dict). */
export function pyRepr(value: unknown): string {
  if (typeof value === 'string') return reprString(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return `{${Object.entries(value).map(([k, v]) => `${reprString(k)}: ${pyRepr(v)}`).join(', ')}}`;
  }
  if (value instanceof PyDate) return reprString(value.toString());
  return pyStr(value);
}

/** Python's `str()` of a value, which is what Jinja prints. `undefined` prints as '' (callers reject it first). */
export function pyStr(value: unknown): string {
  if (value === undefined) return '';
  if (value === null) return 'None';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return numberText(value);
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value) || (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)) return pyRepr(value);
  return String(value);
}

/**
 * Python's `json.dumps` (`", "` and `": "` separators), with Jinja's `tojson` escaping of `<`, `>`, `&` and `'`.
 * `indent` formats as json.dumps(indent=n).
 */
export function pyJson(value: unknown, indent?: number): string {
  const text = indent === undefined ? compactJson(value) : JSON.stringify(value, jsonReplacer, indent);
  return text.replace(/[<>&']/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function jsonReplacer(_key: string, v: unknown): unknown {
  return v instanceof PyDate ? v.toString() : v;
}

function compactJson(value: unknown): string {
  const v = jsonReplacer('', value);
  if (Array.isArray(v)) return `[${v.map((x) => compactJson(x === undefined ? null : x)).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const parts = Object.entries(v)
      .filter(([, x]) => x !== undefined && typeof x !== 'function')
      .map(([k, x]) => `${JSON.stringify(k)}: ${compactJson(x)}`);
    return `{${parts.join(', ')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
