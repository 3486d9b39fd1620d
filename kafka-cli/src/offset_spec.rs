//! Where to start reading, and points in time, as given on the command line.
//!
//! `consume -o` takes kcat's forms: `beginning`, `end`, an absolute offset, `-N` (N records
//! before the end) or `@TIMESTAMP` (the first record at or after a time). Times are epoch
//! milliseconds or ISO-8601 date-times (`2024-05-01T12:00:00Z`, `2024-05-01T12:00:00+02:00`,
//! `2024-05-01` for midnight UTC), the forms `kafka-consumer-groups --to-datetime` takes; a
//! date-time without an offset is UTC, so a script gets the same answer on every machine.

use std::str::FromStr;

/// Where `consume` starts in each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    /// The log start offset.
    Beginning,
    /// The log end offset: only records produced from now on.
    End,
    /// This offset.
    Absolute(i64),
    /// This many records before the end.
    FromEnd(i64),
    /// The first record whose timestamp is at least this (epoch ms).
    Timestamp(i64),
}

impl FromStr for StartOffset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "beginning" | "earliest" | "start" => return Ok(StartOffset::Beginning),
            "end" | "latest" => return Ok(StartOffset::End),
            _ => {}
        }
        if let Some(t) = s.strip_prefix('@') {
            return parse_time_ms(t).map(StartOffset::Timestamp);
        }
        match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(StartOffset::Absolute(n)),
            Ok(n) => Ok(StartOffset::FromEnd(n.checked_neg().unwrap_or(i64::MAX))),
            Err(_) => Err(format!(
                "`{s}` is not beginning, end, an offset, -N or @TIMESTAMP"
            )),
        }
    }
}

/// Epoch milliseconds, or an ISO-8601 date or date-time (UTC unless it carries an offset).
pub fn parse_time_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    parse_datetime(s).ok_or_else(|| {
        format!("`{s}` is not epoch milliseconds or a date-time like 2024-05-01T12:00:00Z")
    })
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH:MM|±HHMM]` to epoch milliseconds.
fn parse_datetime(s: &str) -> Option<i64> {
    let (date, rest) = s.split_at(s.len().min(10));
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    if date.len() != 10 || !(1..=12).contains(&month) || day < 1 || day > days_in(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    let rest = match rest.strip_prefix(['T', 't', ' ']) {
        Some(r) => r,
        None if rest.is_empty() => return Some(ms),
        None => return None,
    };
    // The time ends where a zone designator starts.
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let mut t = time.split(':');
    let hour: i64 = t.next()?.parse().ok()?;
    let minute: i64 = t.next()?.parse().ok()?;
    let (second, millis) = match t.next() {
        None => (0, 0),
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let frac: String = frac.chars().chain(std::iter::repeat('0')).take(3).collect();
            (whole.parse::<i64>().ok()?, frac.parse::<i64>().ok()?)
        }
    };
    if t.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    ms += ((hour * 60 + minute) * 60 + second) * 1000 + millis;
    ms -= zone_offset_ms(zone)?;
    Some(ms)
}

/// `""`/`Z` is UTC; `+HH:MM`, `+HHMM` or `+HH` east of it (subtracted to reach UTC).
fn zone_offset_ms(zone: &str) -> Option<i64> {
    if zone.is_empty() || zone.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, hm) = match zone.split_at(1) {
        ("+", hm) => (1, hm),
        ("-", hm) => (-1, hm),
        _ => return None,
    };
    let digits: String = hm.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits
        .get(2..)
        .filter(|m| !m.is_empty())
        .map_or(Ok(0), str::parse)
        .ok()?;
    Some(sign * (hours * 60 + minutes) * 60_000)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_offsets() {
        assert_eq!("beginning".parse(), Ok(StartOffset::Beginning));
        assert_eq!("end".parse(), Ok(StartOffset::End));
        assert_eq!("42".parse(), Ok(StartOffset::Absolute(42)));
        assert_eq!("-10".parse(), Ok(StartOffset::FromEnd(10)));
        assert_eq!(
            "@1700000000000".parse(),
            Ok(StartOffset::Timestamp(1_700_000_000_000))
        );
        assert!("middle".parse::<StartOffset>().is_err());
        assert!("@yesterday".parse::<StartOffset>().is_err());
    }

    #[test]
    fn date_times() {
        assert_eq!(parse_time_ms("1970-01-01"), Ok(0));
        assert_eq!(parse_time_ms("1970-01-02T00:00:00Z"), Ok(86_400_000));
        // 2023-11-14T22:13:20Z is 1_700_000_000 s.
        assert_eq!(parse_time_ms("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(
            parse_time_ms("2023-11-14T22:13:20.5Z"),
            Ok(1_700_000_000_500)
        );
        assert_eq!(
            parse_time_ms("2023-11-15T00:13:20+02:00"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_time_ms("2023-11-14T20:13:20-0200"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(parse_time_ms("2023-11-14 22:13"), Ok(1_699_999_980_000));
        assert_eq!(parse_time_ms("2024-02-29"), Ok(1_709_164_800_000));
        assert!(parse_time_ms("2023-02-29").is_err());
        assert!(parse_time_ms("2023-11-14T25:00:00").is_err());
        assert!(parse_time_ms("2023-11-14X").is_err());
    }
}
