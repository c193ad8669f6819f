/**
 * The one timestamp format stored by both dialects: `YYYY-MM-DD HH:MM:SS.ffffff+00:00` in UTC. It is how Mage
 * renders database datetimes (Python's `str(datetime)` of an aware UTC value), and as fixed-width UTC text it
 * sorts chronologically with plain text comparison on SQLite and PostgreSQL alike.
 */

/** Text as stored in the database, e.g. `2024-05-01 13:45:00.123000+00:00`. */
export type DbTime = string;

/** What the repositories accept for a timestamp: a Date, or any text `fromDbTime` understands. */
export type TimeInput = Date | string;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Renders a Date in the stored format. Microseconds are the milliseconds padded with `000`. */
export function toDbTime(date: Date): DbTime {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new Error('toDbTime: invalid Date');
  const y = date.getUTCFullYear();
  if (y < 0 || y > 9999) throw new Error(`toDbTime: year ${y} is outside 0000-9999`);
  return (
    `${pad(y, 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.` +
    `${pad(date.getUTCMilliseconds(), 3)}000+00:00`
  );
}

// Date, optional time (`T` or space), optional fraction and optional offset (`Z`, `+HH:MM`, `+HHMM`, `+HH`).
const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Parses the stored format and the ISO-8601 forms clients send. Text without an offset is taken as UTC (Mage
 * stores naive UTC datetimes). Sub-millisecond digits are dropped: a JS Date holds milliseconds.
 */
export function fromDbTime(s: string): Date {
  const m = TIME_RE.exec(typeof s === 'string' ? s.trim() : '');
  if (!m) {
    throw new Error(`Invalid timestamp ${JSON.stringify(s)}: expected YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]`);
  }
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', off] = m;
  const ms = Number(frac.slice(0, 3).padEnd(3, '0'));
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
  if (off && off.toUpperCase() !== 'Z') {
    const sign = off[0] === '-' ? -1 : 1;
    const digits = off.slice(1).replace(':', '');
    const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    t -= sign * minutes * 60_000;
  }
  const date = new Date(t);
  // Date.UTC rolls 2024-02-31 over to March; a round trip catches out-of-range fields.
  if (
    date.getTime() !== t ||
    Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31 ||
    Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59 ||
    new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).getUTCDate() !== Number(d)
  ) {
    throw new Error(`Invalid timestamp ${JSON.stringify(s)}: a field is out of range`);
  }
  return date;
}

/** The current time in the stored format. */
export function nowDbTime(): DbTime {
  return toDbTime(new Date());
}

/** Normalises a repository input to the stored format (null and undefined pass through). */
export function dbTime(value: TimeInput): DbTime;
export function dbTime(value: TimeInput | null | undefined): DbTime | null | undefined;
export function dbTime(value: TimeInput | null | undefined): DbTime | null | undefined {
  if (value === null || value === undefined) return value;
  return toDbTime(value instanceof Date ? value : fromDbTime(value));
}
