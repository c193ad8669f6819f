/** Interval variables for runs of time triggers (interval_start_datetime, ...); none for api/event triggers. */
import type { ScheduleRow } from '../store/schedules.js';
import { intervalVariables } from '../scheduler/intervalVariables.js';

export function intervalVariablesFor(schedule: ScheduleRow, executionDate: Date): Record<string, unknown> | undefined {
  if (schedule.schedule_type !== 'time' || !schedule.schedule_interval) return undefined;
  if (schedule.schedule_interval === '@once' || schedule.schedule_interval === '@always_on') return undefined;
  try {
    return (intervalVariables(schedule.schedule_interval, executionDate, schedule.timezone ?? 'UTC') as Record<string, unknown> | null) ?? undefined;
  } catch {
    return undefined;
  }
}
