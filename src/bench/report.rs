//! Results of a bench run: per-op latency histograms, throughput, errors by
//! status; merged across threads, printed as a table or JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::options::Op;

/// What one op type recorded.
#[derive(Clone)]
pub struct OpStats {
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
    /// Successful operations.
    pub ok: u64,
    /// Body bytes sent plus received.
    pub bytes: u64,
    /// Failures by HTTP status (0 = transport error, 1 = verification failure).
    pub errors: BTreeMap<u16, u64>,
}

impl OpStats {
    /// Empty stats (1 µs to 10 min, 3 significant digits).
    pub fn new() -> Self {
        OpStats {
            latency: Histogram::new_with_bounds(1, 600_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!())),
            ok: 0,
            bytes: 0,
            errors: BTreeMap::new(),
        }
    }

    /// Records a success.
    pub fn record(&mut self, d: Duration, bytes: u64) {
        let _ = self.latency.record((d.as_micros() as u64).max(1));
        self.ok += 1;
        self.bytes += bytes;
    }

    /// Records a failure.
    pub fn fail(&mut self, code: u16) {
        *self.errors.entry(code).or_default() += 1;
    }

    /// Folds another thread's stats in.
    pub fn merge(&mut self, other: &OpStats) {
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        self.bytes += other.bytes;
        for (k, v) in &other.errors {
            *self.errors.entry(*k).or_default() += v;
        }
    }
}

impl Default for OpStats {
    fn default() -> Self {
        Self::new()
    }
}

/// Stats for every op type.
#[derive(Clone, Default)]
pub struct RunStats {
    /// Indexed by [`Op::index`].
    pub ops: [OpStats; 5],
}

impl RunStats {
    /// Folds another thread's stats in.
    pub fn merge(&mut self, other: &RunStats) {
        for (a, b) in self.ops.iter_mut().zip(other.ops.iter()) {
            a.merge(b);
        }
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The result as JSON (latencies in microseconds).
pub fn to_json(
    stats: &RunStats,
    elapsed: Duration,
    config: serde_json::Value,
) -> serde_json::Value {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut ops = serde_json::Map::new();
    let (mut total_ok, mut total_bytes, mut total_err) = (0u64, 0u64, 0u64);
    for op in Op::ALL {
        let s = &stats.ops[op.index()];
        let errors: u64 = s.errors.values().sum();
        if s.ok == 0 && errors == 0 {
            continue;
        }
        total_ok += s.ok;
        total_bytes += s.bytes;
        total_err += errors;
        let h = &s.latency;
        ops.insert(
            op.name().to_string(),
            serde_json::json!({
                "count": s.ok,
                "ops_per_s": s.ok as f64 / secs,
                "mb_per_s": s.bytes as f64 / secs / 1e6,
                "latency_us": {
                    "p50": h.value_at_quantile(0.5), "p90": h.value_at_quantile(0.9),
                    "p99": h.value_at_quantile(0.99), "p99.9": h.value_at_quantile(0.999),
                    "max": h.max(), "mean": h.mean(),
                },
                "errors": s.errors.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
            }),
        );
    }
    serde_json::json!({
        "config": config,
        "elapsed_s": secs,
        "ops": ops,
        "total": {
            "count": total_ok,
            "ops_per_s": total_ok as f64 / secs,
            "mb_per_s": total_bytes as f64 / secs / 1e6,
            "errors": total_err,
        },
    })
}

/// The result as a table for people.
pub fn to_table(stats: &RunStats, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut out = format!(
        "{:<7} {:>9} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>7}\n",
        "op",
        "count",
        "ops/s",
        "MB/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors"
    );
    for op in Op::ALL {
        let s = &stats.ops[op.index()];
        let errors: u64 = s.errors.values().sum();
        if s.ok == 0 && errors == 0 {
            continue;
        }
        let h = &s.latency;
        out.push_str(&format!(
            "{:<7} {:>9} {:>10.1} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>7}\n",
            op.name(),
            s.ok,
            s.ok as f64 / secs,
            s.bytes as f64 / secs / 1e6,
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.9)),
            ms(h.value_at_quantile(0.99)),
            ms(h.value_at_quantile(0.999)),
            ms(h.max()),
            errors
        ));
        for (code, n) in &s.errors {
            let what = match code {
                0 => "transport error".to_string(),
                1 => "verification failed".to_string(),
                c => format!("HTTP {c}"),
            };
            out.push_str(&format!("        {n} x {what}\n"));
        }
    }
    out.push_str(&format!("measured {secs:.1} s\n"));
    out
}
