/**
 * A day as nights and inputs name it: `YYYY-MM-DD`, a real date of the Gregorian calendar (no
 * 2026-13-45, no 2026-02-30). Checked before anything is written: the log keeps what it is given.
 */
export const isCalendarDay = (s: string): boolean => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1]!;
  return d <= days;
};

/** Why a day is not one, for an error message. */
export const dayProblem = (s: string): string | undefined =>
  isCalendarDay(s) ? undefined : /^\d{4}-\d{2}-\d{2}$/.test(s) ? `${JSON.stringify(s)} is not a date on the calendar` : `a day is YYYY-MM-DD, got ${JSON.stringify(s.slice(0, 40))}`;
