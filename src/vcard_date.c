/*
 * vcard_date.c - dates and times for BDAY and REV (vcard_internal.h):
 * calendar checks and RFC 3339 timestamps normalised to UTC.  Pure.
 */
#include "vcard_internal.h"

static bool parse_digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool is_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

bool vcard_parse_date(const char *s, size_t n, struct date_time *dt)
{
	if (n != 10 || s[4] != '-' || s[7] != '-' ||
	    !parse_digits(s, 4, &dt->year) || !parse_digits(s + 5, 2, &dt->month) ||
	    !parse_digits(s + 8, 2, &dt->day))
		return false;
	return dt->year >= 1 && dt->month >= 1 && dt->month <= 12 &&
	       dt->day >= 1 && dt->day <= days_in_month(dt->year, dt->month);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, struct date_time *dt)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;
	dt->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	dt->month = (int)month;
	dt->year = (int)(yoe + era * 400 + (month <= 2));
}

/* The "Z" / "+HH:MM" / "-HH:MM" suffix as seconds east of UTC. */
static bool parse_utc_offset(const char *s, size_t n, int *offset)
{
	int hh, mm;
	if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
		*offset = 0;
		return true;
	}
	if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' ||
	    !parse_digits(s + 1, 2, &hh) || !parse_digits(s + 4, 2, &mm) ||
	    hh > 23 || mm > 59)
		return false;
	*offset = (s[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
	return true;
}

bool vcard_parse_timestamp_utc(const char *s, size_t n, struct date_time *dt)
{
	if (n < 19 || !vcard_parse_date(s, 10, dt) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':' || !parse_digits(s + 11, 2, &dt->hour) ||
	    !parse_digits(s + 14, 2, &dt->minute) || !parse_digits(s + 17, 2, &dt->second) ||
	    dt->hour > 23 || dt->minute > 59 || dt->second > 60)
		return false;

	size_t i = 19;
	if (i < n && s[i] == '.') {
		size_t digits_start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == digits_start)
			return false;
	}
	int offset = 0;
	bool v1_form = i == 19 && n == 19 && s[10] == ' ';
	if (!v1_form && !parse_utc_offset(s + i, n - i, &offset))
		return false;

	int64_t secs = days_from_civil(dt->year, dt->month, dt->day) * 86400 +
		       dt->hour * 3600 + dt->minute * 60 + dt->second - offset;
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	civil_from_days(days, dt);
	dt->hour = (int)(rem / 3600);
	dt->minute = (int)(rem / 60 % 60);
	dt->second = (int)(rem % 60);
	return dt->year >= 1 && dt->year <= 9999;
}
