//! Times as people read them in errors and logs.

use std::time::{SystemTime, UNIX_EPOCH};

/// RFC 3339 in UTC, to the second: `2025-05-09T02:04:30Z`, as errors, logs and the `wechatpay` tool show
/// certificate validity.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use wechatpay::util::rfc3339_utc;
///
/// assert_eq!(rfc3339_utc(UNIX_EPOCH + Duration::from_secs(1_746_756_270)), "2025-05-09T02:04:30Z");
/// ```
pub fn rfc3339_utc(time: SystemTime) -> String {
    let unix = match time.duration_since(UNIX_EPOCH) {
        Ok(elapsed) => i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::rfc3339_utc;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // The fixture platform certificate's notAfter (openssl: May  9 02:04:30 2025 GMT).
        assert_eq!(rfc3339_utc(UNIX_EPOCH + Duration::from_secs(1_746_756_270)), "2025-05-09T02:04:30Z");
        assert_eq!(rfc3339_utc(UNIX_EPOCH + Duration::from_secs(951_825_600)), "2000-02-29T12:00:00Z");
        assert_eq!(rfc3339_utc(UNIX_EPOCH - Duration::from_secs(1)), "1969-12-31T23:59:59Z");
    }
}
