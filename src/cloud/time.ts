/**
 * Timestamps as stored by the control plane: text `YYYY-MM-DD HH:MM:SS.ffffff+00:00` (UTC), the project-wide
 * format, which sorts correctly as text on SQLite and PostgreSQL alike.
 */
export function toDbTime(date: Date): string {
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+00:00`;
}

export function nowDbTime(): string {
  return toDbTime(new Date());
}

export function fromDbTime(text: string): Date {
  return new Date(text.replace(' ', 'T').replace(/(\.\d{3})\d*/, '$1'));
}
