//! Source dates and times as FHIR dates and dateTimes. Sources write local UK time without
//! a zone; FHIR needs one once there is a time, so those are read as Europe/London.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Europe::London;

const NOT_A_DATE: &str = "is not a date (yyyy-MM-dd)";

/// `yyyy-MM-dd` (a time after it, as some extracts write, is ignored).
pub fn date(s: &str) -> Result<NaiveDate, String> {
    let day = s.split([' ', 'T']).next().unwrap_or(s);
    NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| NOT_A_DATE.to_string())
}

/// A FHIR date of `s` cut to an EMIS precision: U (unknown), Y, YM, YMD or YMDT.
pub fn with_precision(s: &str, precision: Option<&str>) -> Result<Option<String>, String> {
    let d = date(s)?;
    Ok(match precision.unwrap_or("YMD") {
        "U" => None,
        "Y" => Some(d.format("%Y").to_string()),
        "YM" => Some(d.format("%Y-%m").to_string()),
        "YMD" | "YMDT" => Some(d.format("%Y-%m-%d").to_string()),
        other => return Err(format!("has an unknown date precision '{other}'")),
    })
}

/// A local date and time (`yyyy-MM-dd HH:mm[:ss]` or with a `T`) as a FHIR dateTime.
pub fn local_datetime(s: &str) -> Result<String, String> {
    let bad = || "is not a date and time (yyyy-MM-dd HH:mm:ss)".to_string();
    let t = s.replace('T', " ");
    let naive = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&t, f).ok())
        .ok_or_else(bad)?;
    london(naive).ok_or_else(bad)
}

/// A local date and a separate local time (EMIS EnteredDate + EnteredTime).
pub fn local_date_and_time(d: &str, time: Option<&str>) -> Result<String, String> {
    let day = date(d)?;
    let Some(time) = time else {
        return Ok(day.format("%Y-%m-%d").to_string());
    };
    let t = NaiveTime::parse_from_str(time, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
        .map_err(|_| format!("'{time}' is not a time (HH:mm:ss)"))?;
    london(day.and_time(t)).ok_or_else(|| "is not a time that exists in the UK".to_string())
}

/// Salesforce's `2024-05-01T10:00:00.000+0000` (or a plain date) as a FHIR dateTime.
pub fn salesforce_datetime(s: &str) -> Result<String, String> {
    if s.len() == 10 {
        return date(s).map(|d| d.format("%Y-%m-%d").to_string());
    }
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, false))
        .map_err(|_| "is not a Salesforce datetime (yyyy-MM-ddTHH:mm:ss.SSS+0000)".to_string())
}

fn london(naive: NaiveDateTime) -> Option<String> {
    // In the autumn hour that happens twice, the earlier (summer time) reading is taken.
    London
        .from_local_datetime(&naive)
        .earliest()
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precisions_cut_the_date() {
        assert_eq!(
            with_precision("2021-03-04", Some("YM")),
            Ok(Some("2021-03".into()))
        );
        assert_eq!(with_precision("2021-03-04", Some("U")), Ok(None));
        assert!(with_precision("2021-02-30", Some("YMD")).is_err());
        assert!(with_precision("2021-03-04", Some("Q")).is_err());
    }

    #[test]
    fn local_times_carry_the_uk_offset() {
        assert_eq!(
            local_datetime("2024-07-01 09:30:00"),
            Ok("2024-07-01T09:30:00+01:00".into())
        );
        assert_eq!(
            local_datetime("2024-01-01T09:30"),
            Ok("2024-01-01T09:30:00+00:00".into())
        );
        assert_eq!(
            local_date_and_time("2024-07-01", Some("10:15:00")),
            Ok("2024-07-01T10:15:00+01:00".into())
        );
        assert!(local_datetime("yesterday").is_err());
    }

    #[test]
    fn salesforce_forms() {
        assert_eq!(
            salesforce_datetime("2024-05-01T10:00:00.000+0000"),
            Ok("2024-05-01T10:00:00.000+00:00".into())
        );
        assert_eq!(salesforce_datetime("2024-05-01"), Ok("2024-05-01".into()));
        assert!(salesforce_datetime("01/05/2024").is_err());
    }
}
