//! The registry's metrics in OTel form: the OpenMetrics text that `GET /metrics` serves, read
//! back into OTLP `Metric` messages.
//!
//! Read from the text rather than from the registry because prometheus-client gives a
//! registry's values only through its encoders: the structured one (`protobuf`) needs prost 0.12
//! and prost-build at build time, a second protobuf stack beside the 0.14 one OTLP uses, and
//! no crate reads the text into OTLP. The text is the one this process wrote, in the fixed
//! grammar of prometheus-client's encoder (`# HELP`, `# TYPE`, then the family's samples), so
//! the reader is small, and what is pushed is by construction what a scrape shows.
//!
//! The OTel form, as a collector's Prometheus exporter turns it back into SPEC §8's names: a
//! counter `x` (samples `x_total`) is a monotonic cumulative sum named `x`; a histogram keeps its
//! name, with unit `s` for a `_seconds` one, its per-bucket counts (the text's are cumulative)
//! and its finite bounds; a gauge is a gauge. Labels are attributes.

use opentelemetry_proto::tonic::{
    common::v1::{any_value, AnyValue, KeyValue},
    metrics::v1::{
        metric::Data, number_data_point, AggregationTemporality, Gauge, Histogram,
        HistogramDataPoint, Metric, NumberDataPoint, Sum,
    },
};

/// When the points were taken: `start` is when the cumulative counts began, `now` the push.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Times {
    /// Nanoseconds since the Unix epoch when counting began.
    pub(crate) start: u64,
    /// Nanoseconds since the Unix epoch now.
    pub(crate) now: u64,
}

/// A family being read: its `# TYPE` and `# HELP`, and the metric built so far.
struct Family {
    name: String,
    kind: Kind,
    metric: Metric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    /// Types the registry does not hold (info, unknown, …): skipped.
    Other,
}

/// Every family of `text` (prometheus-client's OpenMetrics exposition) as an OTLP metric.
pub(crate) fn metrics(text: &str, times: Times) -> Vec<Metric> {
    let mut out = Vec::new();
    let mut help: Option<(&str, &str)> = None;
    let mut family: Option<Family> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = rest.split_once(' ');
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            out.extend(family.take().and_then(finish));
            let Some((name, kind)) = rest.split_once(' ') else {
                continue;
            };
            let description = match help {
                Some((n, text)) if n == name => unescape(text),
                _ => String::new(),
            };
            let kind = match kind {
                "counter" => Kind::Counter,
                "gauge" => Kind::Gauge,
                "histogram" => Kind::Histogram,
                _ => Kind::Other,
            };
            family = Some(Family {
                name: name.to_owned(),
                kind,
                metric: Metric {
                    name: name.to_owned(),
                    description,
                    unit: unit(name, kind).to_owned(),
                    data: None,
                    ..Default::default()
                },
            });
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let (Some(family), Some(sample)) = (family.as_mut(), Sample::read(line)) {
            family.add(sample, times);
        }
    }
    out.extend(family.and_then(finish));
    out
}

/// The metric of a family with at least one point.
fn finish(family: Family) -> Option<Metric> {
    family.metric.data.is_some().then_some(family.metric)
}

fn unit(name: &str, kind: Kind) -> &'static str {
    match kind {
        Kind::Histogram | Kind::Gauge if name.ends_with("_seconds") => "s",
        _ => "",
    }
}

impl Family {
    fn add(&mut self, sample: Sample<'_>, times: Times) {
        let suffix = sample.name.strip_prefix(self.name.as_str()).unwrap_or("-");
        match (self.kind, suffix) {
            (Kind::Counter, "_total") => {
                let data = self.metric.data.get_or_insert_with(|| {
                    Data::Sum(Sum {
                        data_points: Vec::new(),
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    })
                });
                if let Data::Sum(sum) = data {
                    sum.data_points.push(number(sample, times));
                }
            }
            (Kind::Gauge, "") => {
                let data = self.metric.data.get_or_insert_with(|| {
                    Data::Gauge(Gauge {
                        data_points: Vec::new(),
                    })
                });
                if let Data::Gauge(gauge) = data {
                    gauge.data_points.push(number(sample, times));
                }
            }
            (Kind::Histogram, "_sum" | "_count" | "_bucket") => {
                let data = self.metric.data.get_or_insert_with(|| {
                    Data::Histogram(Histogram {
                        data_points: Vec::new(),
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    })
                });
                if let Data::Histogram(histogram) = data {
                    add_to_histogram(&mut histogram.data_points, suffix, sample, times);
                }
            }
            // `_created` samples, and families the registry does not hold.
            _ => {}
        }
    }
}

fn number(sample: Sample<'_>, times: Times) -> NumberDataPoint {
    // A counter of integers is written as one: sent as an integer, as the SDKs send theirs.
    let value = match sample.value.parse::<i64>() {
        Ok(n) => number_data_point::Value::AsInt(n),
        Err(_) => number_data_point::Value::AsDouble(sample.number()),
    };
    NumberDataPoint {
        attributes: sample.attributes(None),
        start_time_unix_nano: times.start,
        time_unix_nano: times.now,
        value: Some(value),
        ..Default::default()
    }
}

/// A histogram sample into its point (the one with the same labels but `le`, made on its first
/// sample): `_sum`, `_count`, then the cumulative buckets, the last one `+Inf`.
fn add_to_histogram(
    points: &mut Vec<HistogramDataPoint>,
    suffix: &str,
    sample: Sample<'_>,
    times: Times,
) {
    let attributes = sample.attributes(Some("le"));
    let i = match points.iter().position(|p| p.attributes == attributes) {
        Some(i) => i,
        None => {
            points.push(HistogramDataPoint {
                attributes,
                start_time_unix_nano: times.start,
                time_unix_nano: times.now,
                ..Default::default()
            });
            points.len() - 1
        }
    };
    let point = &mut points[i];
    match suffix {
        "_sum" => point.sum = Some(sample.number()),
        "_count" => point.count = sample.number() as u64,
        _ => {
            let cumulative = sample.number() as u64;
            let before: u64 = point.bucket_counts.iter().sum();
            point.bucket_counts.push(cumulative.saturating_sub(before));
            let le = sample.label("le").unwrap_or_default();
            if le != "+Inf" {
                point.explicit_bounds.push(parse_number(&le));
            }
        }
    }
}

/// One sample line: `name{label="value",…} value [# exemplar]`.
struct Sample<'a> {
    name: &'a str,
    /// The labels, unescaped, in their order.
    labels: Vec<(&'a str, String)>,
    value: &'a str,
}

impl<'a> Sample<'a> {
    fn read(line: &'a str) -> Option<Self> {
        let name_end = line.find(['{', ' '])?;
        let name = &line[..name_end];
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices();
            let mut key_start = 0;
            let end = loop {
                // key="value" pairs, separated by commas, up to '}'.
                let (i, c) = chars.next()?;
                match c {
                    '}' => break i,
                    ',' => key_start = i + 1,
                    '=' => {
                        let key = &inner[key_start..i];
                        if chars.next()?.1 != '"' {
                            return None;
                        }
                        let mut value = String::new();
                        loop {
                            match chars.next()?.1 {
                                '"' => break,
                                '\\' => match chars.next()?.1 {
                                    'n' => value.push('\n'),
                                    other => value.push(other),
                                },
                                other => value.push(other),
                            }
                        }
                        labels.push((key, value));
                    }
                    _ => {}
                }
            };
            rest = &inner[end + 1..];
        }
        let value = rest.trim_start().split(' ').next()?;
        Some(Sample {
            name,
            labels,
            value,
        })
    }

    fn number(&self) -> f64 {
        parse_number(self.value)
    }

    fn label(&self, key: &str) -> Option<String> {
        self.labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    /// The labels as attributes, `skip` left out.
    fn attributes(&self, skip: Option<&str>) -> Vec<KeyValue> {
        self.labels
            .iter()
            .filter(|(k, _)| Some(*k) != skip)
            .map(|(k, v)| KeyValue {
                key: (*k).to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(v.clone())),
                }),
                ..Default::default()
            })
            .collect()
    }
}

/// A number as OpenMetrics writes it (`+Inf`, `-Inf` and `NaN` included).
fn parse_number(text: &str) -> f64 {
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        t => t.parse().unwrap_or(f64::NAN),
    }
}

/// OpenMetrics escapes `\`, `"` and newlines in HELP text.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{duration_buckets, Labels, Metrics};
    use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};

    const TIMES: Times = Times {
        start: 1_000,
        now: 2_000,
    };

    fn named<'a>(metrics: &'a [Metric], name: &str) -> &'a Metric {
        metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} in {metrics:#?}"))
    }

    fn string(kv: &KeyValue) -> (&str, &str) {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => (kv.key.as_str(), s.as_str()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn counters_histograms_and_their_labels_in_otel_form() {
        let m = Metrics::new();
        m.line(&tracing::Level::WARN);
        m.lines_dropped(7);
        let requests = Family::<Labels, Counter>::default();
        m.register("http_requests", "Requests, by \"status\"", requests.clone());
        requests
            .get_or_create(&vec![("status", "200".into()), ("outcome", "ok".into())])
            .inc_by(3);
        let durations =
            Family::<Labels, Histogram>::new_with_constructor(
                || Histogram::new(duration_buckets()),
            );
        m.register(
            "http_request_duration_seconds",
            "Durations",
            durations.clone(),
        );
        let h = durations.get_or_create(&vec![("status", "200".into())]);
        h.observe(0.0015);
        h.observe(0.0015);
        h.observe(100.0);
        let text = m.encode();
        let metrics = metrics(&text, TIMES);

        let lines = named(&metrics, "tracewire_log_lines");
        assert_eq!(lines.unit, "");
        assert_eq!(lines.description, "Lines written, by level.");
        let Some(Data::Sum(sum)) = &lines.data else {
            panic!("{lines:?}")
        };
        assert!(sum.is_monotonic);
        assert_eq!(sum.aggregation_temporality, 2);
        let warn = sum
            .data_points
            .iter()
            .find(|p| string(&p.attributes[0]) == ("level", "WARN"))
            .unwrap();
        assert_eq!(warn.value, Some(number_data_point::Value::AsInt(1)));
        assert_eq!(
            (warn.start_time_unix_nano, warn.time_unix_nano),
            (1_000, 2_000)
        );
        assert_eq!(sum.data_points.len(), 5, "one point per level");

        let Some(Data::Sum(dropped)) = &named(&metrics, "tracewire_log_lines_dropped").data else {
            panic!()
        };
        assert_eq!(
            dropped.data_points[0].value,
            Some(number_data_point::Value::AsInt(7))
        );

        let requests = named(&metrics, "tracewire_http_requests");
        assert_eq!(requests.description, "Requests, by \"status\".");
        let Some(Data::Sum(sum)) = &requests.data else {
            panic!()
        };
        let point = &sum.data_points[0];
        let attributes: Vec<_> = point.attributes.iter().map(string).collect();
        assert_eq!(attributes, [("status", "200"), ("outcome", "ok")]);
        assert_eq!(point.value, Some(number_data_point::Value::AsInt(3)));

        let durations = named(&metrics, "tracewire_http_request_duration_seconds");
        assert_eq!(durations.unit, "s");
        let Some(Data::Histogram(histogram)) = &durations.data else {
            panic!()
        };
        assert_eq!(histogram.aggregation_temporality, 2);
        let point = &histogram.data_points[0];
        let attributes: Vec<_> = point.attributes.iter().map(string).collect();
        assert_eq!(attributes, [("status", "200")], "no le");
        assert_eq!(point.count, 3);
        assert_eq!(point.sum, Some(100.003));
        let bounds: Vec<f64> = duration_buckets().collect();
        assert_eq!(point.explicit_bounds, bounds);
        assert_eq!(point.bucket_counts.len(), bounds.len() + 1);
        // 1.5 ms in (1 ms, 2 ms]; 100 s beyond the last bound (about 65 s).
        let mut want = vec![0; bounds.len() + 1];
        want[1] = 2;
        want[bounds.len()] = 1;
        assert_eq!(point.bucket_counts, want);
    }

    #[test]
    fn samples_with_escapes_exemplars_and_odd_values() {
        let s =
            Sample::read(r#"x_total{a="q\"uo\\te",b="line\nbreak"} 12 # {id="1"} 1.0"#).unwrap();
        assert_eq!(s.name, "x_total");
        assert_eq!(
            s.labels,
            [
                ("a", "q\"uo\\te".to_owned()),
                ("b", "line\nbreak".to_owned())
            ]
        );
        assert_eq!(s.value, "12");
        let s = Sample::read("y NaN").unwrap();
        assert!(s.number().is_nan());
        assert_eq!(Sample::read("z +Inf").unwrap().number(), f64::INFINITY);
        assert!(Sample::read(r#"broken{a="unterminated} 1"#).is_none());
        let text = "# TYPE g gauge\ng{k=\"v\"} 2.5\n# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n";
        let metrics = metrics(text, TIMES);
        assert_eq!(metrics.len(), 1, "the info family is skipped: {metrics:?}");
        let Some(Data::Gauge(g)) = &metrics[0].data else {
            panic!()
        };
        assert_eq!(
            g.data_points[0].value,
            Some(number_data_point::Value::AsDouble(2.5))
        );
    }
}
