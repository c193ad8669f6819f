/** The `ctx` object a block function receives (its published types are in types/blockflow.d.ts). */
import type { LogLevel } from '../types.js';

export interface BlockLogger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warning(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  exception(...args: unknown[]): void;
}

export interface BlockContext {
  kwargs: Record<string, unknown>;
  logger: BlockLogger;
  variables<T = unknown>(name: string): T | undefined;
  secret(name: string): Promise<string>;
  signal: AbortSignal;
}

/** kwargs Mage passes as datetimes: ISO strings from the engine become `Date`s. */
const DATE_KWARGS = ['execution_date', 'interval_start_datetime', 'interval_end_datetime', 'interval_start_datetime_previous'];

const pad = (n: number): string => String(n).padStart(2, '0');

/** The engine's JSON kwargs as a block sees them: dates as `Date`, `ds`/`hr`/`env` always present. */
export function blockKwargs(raw: Record<string, unknown>): Record<string, unknown> {
  const kwargs: Record<string, unknown> = { ...raw };
  for (const key of DATE_KWARGS) {
    const value = kwargs[key];
    if (typeof value === 'string' || typeof value === 'number') {
      const date = new Date(value);
      if (!Number.isNaN(date.getTime())) kwargs[key] = date;
    }
  }
  if (!(kwargs.execution_date instanceof Date)) kwargs.execution_date = new Date();
  const when = kwargs.execution_date as Date;
  kwargs.ds ??= `${when.getUTCFullYear()}-${pad(when.getUTCMonth() + 1)}-${pad(when.getUTCDate())}`;
  kwargs.hr ??= pad(when.getUTCHours());
  kwargs.env ??= 'dev';
  kwargs.configuration ??= {};
  return kwargs;
}

/** A logger writing through `emit`, with Python logging's level names. */
export function makeLogger(emit: (level: LogLevel, args: unknown[]) => void): BlockLogger {
  return {
    debug: (...args) => emit('DEBUG', args),
    info: (...args) => emit('INFO', args),
    warning: (...args) => emit('WARNING', args),
    warn: (...args) => emit('WARNING', args),
    error: (...args) => emit('ERROR', args),
    exception: (...args) => emit('ERROR', args),
  };
}
