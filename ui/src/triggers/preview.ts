/**
 * The next run times of a schedule interval, in the trigger's timezone, computed in the browser with croner (the
 * library the scheduler uses, src/scheduler/schedule.ts): Mage's named intervals map to the same expressions
 * (`@weekly` is Monday 00:00, as Mage).
 */
import { Cron } from 'croner';

export const NAMED_INTERVALS: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 1',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@midnight': '0 0 * * *',
};

export type Preview = { kind: 'times'; times: Date[] } | { kind: 'note'; text: string } | { kind: 'error'; text: string };

export function previewRuns(interval: string | null | undefined, timezone: string | null | undefined, startTime: Date | null, count = 5, now = new Date()): Preview {
  const text = (interval ?? '').trim();
  if (!text) return { kind: 'error', text: 'Choose an interval or write a cron expression.' };
  if (text === '@once') return { kind: 'note', text: 'Runs once, at the next scheduler tick after it is activated (or after its start time).' };
  if (text === '@always_on') return { kind: 'note', text: 'Starts a new run as soon as the previous one finishes.' };
  const cron = NAMED_INTERVALS[text.toLowerCase()] ?? text;
  if (cron.startsWith('@')) return { kind: 'error', text: `Unknown interval ${text}.` };
  if (cron.split(/\s+/).length !== 5) return { kind: 'error', text: 'A cron expression has 5 fields: minute hour day-of-month month day-of-week.' };
  const zone = timezone || 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    return { kind: 'error', text: `Unknown timezone ${zone}.` };
  }
  try {
    const job = new Cron(cron, { mode: '5-part', timezone: zone });
    const from = startTime && startTime > now ? new Date(startTime.getTime() - 1000) : now;
    return { kind: 'times', times: job.nextRuns(count, from) };
  } catch (err) {
    return { kind: 'error', text: `Invalid cron expression: ${(err as Error).message.replace(/^CronPattern: /, '')}` };
  }
}

export function formatInZone(date: Date, timezone: string | null | undefined): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone || 'UTC',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    weekday: 'short',
    hour12: false,
    timeZoneName: 'short',
  }).format(date);
}
