//! Durations written like Go's `time.ParseDuration` (`"10m"`, `"1h30m"`, `"500ms"`, `"2.5s"`),
//! as Terraform's `timeouts` blocks and `time_sleep` use them.

use std::time::Duration;

/// Parses a duration with the project's one Go-duration parser
/// ([`vitrina_hcl::duration::parse_go_duration`]); `None` if malformed, negative, or absurdly
/// large (over a year).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let d = vitrina_hcl::duration::parse_go_duration(text.trim()).ok()?;
    if d.nanos > 366 * 24 * 3600 * 1_000_000_000 {
        return None;
    }
    d.to_std()
}

/// Renders like Go (`10m0s` becomes `10m`, trimmed to what people write).
pub fn format_duration(d: Duration) -> String {
    if d.subsec_millis() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let mut secs = d.as_secs();
    let h = secs / 3600;
    secs %= 3600;
    let m = secs / 60;
    secs %= 60;
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if secs > 0 || out.is_empty() {
        out.push_str(&format!("{secs}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2.5s"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("99999h"), None);
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }
}
