//! Latency and throughput of one workload.

use std::time::Duration;

pub struct Summary {
    pub name: String,
    pub requests: usize,
    pub errors: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Summarises per-request latencies (µs) taken over `elapsed`.
pub fn summarise(
    name: &str,
    mut latencies_us: Vec<u32>,
    errors: usize,
    elapsed: Duration,
) -> Summary {
    latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies_us[i]) / 1000.0
    };
    Summary {
        name: name.to_string(),
        requests: latencies_us.len(),
        errors,
        per_second: latencies_us.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles_come_from_the_sorted_latencies() {
        let s = super::summarise(
            "x",
            (1..=100).map(|v| v * 1000).collect(),
            0,
            std::time::Duration::from_secs(2),
        );
        assert_eq!(s.requests, 100);
        assert_eq!(s.per_second, 50.0);
        assert_eq!(s.p50_ms, 51.0);
        assert_eq!(s.p99_ms, 99.0);
    }
}
