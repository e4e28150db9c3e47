//! `DYN_LOG` directives: parsing, validation and the precedence between their three sources.
//!
//! The syntax is `EnvFilter`'s (`info,my_crate::module=trace,h2=off`) with two additions from the
//! reference system: whitespace around segments is ignored, and `target:level` (one colon before a
//! level name) means `target=level`. One thing is refused that `EnvFilter` would take: a bare
//! word that is not a level. `EnvFilter` reads `inf` as "target `inf` at TRACE", which turns a typo
//! into silence; we ask for `target=trace` instead.
//!
//! Precedence, lowest first: [`QUIET_DEFAULTS`] < the TOML file's `log_level` and `[log_filters]`
//! < `DYN_LOG`. A later source wins for every target it names: its directive for `h2` removes any
//! earlier directive for `h2` or for a target under it (`h2::codec`), which `EnvFilter` alone
//! would otherwise rank as more specific and keep.

use std::collections::{HashMap, HashSet};

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

use crate::settings::{ConfigError, Origin};

/// Built-in levels for noisy dependency crates. Deliberately plain `target=level` directives: a
/// span-field directive here would cost every disabled callsite a scope check.
pub const QUIET_DEFAULTS: &[(&str, LevelFilter)] = &[
    ("h2", LevelFilter::WARN),
    ("hyper", LevelFilter::WARN),
    ("hyper_util", LevelFilter::WARN),
    ("tower", LevelFilter::WARN),
    ("tonic", LevelFilter::WARN),
    ("rustls", LevelFilter::WARN),
    ("mio", LevelFilter::WARN),
    ("want", LevelFilter::WARN),
    ("reqwest", LevelFilter::WARN),
    ("opentelemetry", LevelFilter::WARN),
    ("opentelemetry_sdk", LevelFilter::WARN),
    ("opentelemetry-otlp", LevelFilter::WARN),
    ("opentelemetry_otlp", LevelFilter::WARN),
    // async-nats's connector writes an ERROR of its own for every refused or failed connection
    // attempt ("authorization violation", without the server); the plane reports each one, with
    // the server: at startup as the one ERROR that ends the process, later as a WARN and a
    // reconnect (`plane::nats::connect`'s event callback). `DYN_LOG=async_nats=debug` shows them.
    ("async_nats::connector", LevelFilter::OFF),
];

const LEVELS_ACCEPTED: &str = "expected one of error, warn, info, debug, trace, off";

/// One validated directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Normalised `EnvFilter` text (`target=level`, or a bare level).
    text: String,
    /// The plain target it names, if it is a `target=level` directive without span or fields.
    target: Option<String>,
    /// Whether it is a bare default level.
    is_default_level: bool,
}

impl Directive {
    /// A `target=level` directive.
    pub fn target(target: &str, level: LevelFilter) -> Self {
        Directive {
            text: format!("{target}={level}"),
            target: Some(target.to_owned()),
            is_default_level: false,
        }
    }

    /// A bare default level.
    pub fn default_level(level: LevelFilter) -> Self {
        Directive {
            text: level.to_string(),
            target: None,
            is_default_level: true,
        }
    }

    /// The directive as `EnvFilter` text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Parses a level name, case-insensitively.
pub fn parse_level(text: &str) -> Option<LevelFilter> {
    const NAMES: [(&str, LevelFilter); 6] = [
        ("error", LevelFilter::ERROR),
        ("warn", LevelFilter::WARN),
        ("info", LevelFilter::INFO),
        ("debug", LevelFilter::DEBUG),
        ("trace", LevelFilter::TRACE),
        ("off", LevelFilter::OFF),
    ];
    let text = text.trim();
    NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, level)| *level)
}

/// Parses a whole `DYN_LOG` value. Empty segments are skipped.
pub fn parse_directives(value: &str, origin: &Origin) -> Result<Vec<Directive>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|segment| !segment.is_empty())
        .map(|segment| parse_segment(segment, origin))
        .collect()
}

/// Parses one `target=level` pair as the TOML `[log_filters]` table gives it.
pub fn parse_target_level(
    target: &str,
    level: &str,
    origin: &Origin,
) -> Result<Directive, ConfigError> {
    parse_segment(&format!("{}={}", target.trim(), level.trim()), origin)
}

fn parse_segment(segment: &str, origin: &Origin) -> Result<Directive, ConfigError> {
    let invalid = |reason: String| ConfigError::invalid(origin.clone(), segment, reason);
    if !brackets_balanced(segment) {
        return Err(invalid(
            "not a valid directive: unbalanced `[` `]` or `{` `}`".to_owned(),
        ));
    }
    let Some(eq) = last_top_level_eq(segment) else {
        if let Some(level) = parse_level(segment) {
            return Ok(Directive::default_level(level));
        }
        if let Some((target, level)) = split_single_colon_level(segment) {
            return parse_segment(&format!("{target}={level}"), origin);
        }
        return Err(invalid(format!(
            "not a level nor target=level ({LEVELS_ACCEPTED}; write `{}=trace` to enable a target)",
            // Escaped: the error is one line, whatever the variable held.
            segment.escape_debug()
        )));
    };
    let (lhs, level_text) = (segment[..eq].trim(), segment[eq + 1..].trim());
    let Some(level) = parse_level(level_text) else {
        return Err(invalid(format!(
            "unknown level {level_text:?}: {LEVELS_ACCEPTED}"
        )));
    };
    if lhs.is_empty() {
        return Err(invalid("missing target before `=`".to_owned()));
    }
    let text = format!("{lhs}={level}");
    // Checked as `build` reads it: field values are matched literally. `Directive::from_str`
    // would compile each value as a regex into a dense DFA, whose size can grow exponentially
    // with the pattern: the fuzzer found a 506-byte value that took over 3 minutes.
    let parsed = EnvFilter::builder()
        .with_regex(false)
        .parse(&text)
        .map_err(|e| invalid(format!("not a valid directive: {e}")))?;
    let plain = !lhs.contains(['[', '{', '}', ']']);
    Ok(Directive {
        target: plain.then(|| lhs.to_owned()),
        // A span or field directive as `EnvFilter` reads it (`{x==1}` is read as `{x=}`), so
        // that two texts it reads alike compare alike in `build`.
        text: if plain { text } else { parsed.to_string() },
        is_default_level: false,
    })
}

/// The byte offset of the `=` that separates the level, ignoring any inside `[span{field=value}]`.
fn last_top_level_eq(segment: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut found = None;
    for (i, c) in segment.char_indices() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            '=' if depth == 0 => found = Some(i),
            _ => {}
        }
    }
    found
}

fn brackets_balanced(segment: &str) -> bool {
    let mut stack = Vec::new();
    for c in segment.chars() {
        match c {
            '[' | '{' => stack.push(c),
            ']' if stack.pop() != Some('[') => return false,
            '}' if stack.pop() != Some('{') => return false,
            _ => {}
        }
    }
    stack.is_empty()
}

/// `target:level` with a single colon (not the `::` of a module path) before a level name.
fn split_single_colon_level(segment: &str) -> Option<(&str, &str)> {
    let colon = segment.rfind(':')?;
    let (target, level) = (&segment[..colon], &segment[colon + 1..]);
    if target.is_empty() || target.ends_with(':') || parse_level(level).is_none() {
        return None;
    }
    Some((target, level))
}

/// The directives of the three sources, merged by precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterConfig {
    directives: Vec<Directive>,
}

impl Default for FilterConfig {
    /// `info` plus [`QUIET_DEFAULTS`].
    fn default() -> Self {
        let mut directives = vec![Directive::default_level(LevelFilter::INFO)];
        directives.extend(QUIET_DEFAULTS.iter().map(|(t, l)| Directive::target(t, *l)));
        FilterConfig { directives }
    }
}

impl FilterConfig {
    /// Adds a higher-precedence source: each of its directives removes the earlier directives it
    /// overrides. Directives within one source do not remove each other. Linear in the number
    /// of directives (a file may hold tens of thousands): each earlier target's prefixes are
    /// looked up in a set of the source's targets.
    pub fn overlay(mut self, source: Vec<Directive>) -> Self {
        let targets: HashSet<&str> = source.iter().filter_map(|d| d.target.as_deref()).collect();
        let sets_default = source.iter().any(|d| d.is_default_level);
        let overridden = |earlier: &Directive| {
            if earlier.is_default_level {
                return sets_default;
            }
            earlier.target.as_deref().is_some_and(|t| {
                t.char_indices()
                    .map(|(i, c)| i + c.len_utf8())
                    .any(|end| targets.contains(&t[..end]))
            })
        };
        self.directives.retain(|earlier| !overridden(earlier));
        self.directives.extend(source);
        self
    }

    /// The merged directives, lowest precedence first.
    pub fn directives(&self) -> impl Iterator<Item = &str> {
        self.directives.iter().map(Directive::as_str)
    }

    /// Whether any directive matches on spans or fields (`target[span{field=value}]=level`):
    /// only those need the filter to follow every span's lifecycle.
    pub fn has_span_directives(&self) -> bool {
        self.directives.iter().any(|d| d.text.contains(['[', '{']))
    }

    /// Builds the filter. Every directive was validated when parsed.
    ///
    /// Of two directives for the same target, spans and fields (as `EnvFilter` reads them),
    /// only the later is passed on:
    /// `EnvFilter` keeps only the later one as well, but its debug builds assert that two such
    /// directives are equal, and tracing-subscriber 0.3's equality of literal field values is
    /// always false, so a repeated `target[span{field=text}]` panicked there (found by the
    /// `dyn_log` fuzz target).
    pub fn build(&self) -> EnvFilter {
        fn scope(text: &str) -> &str {
            text.rsplit_once('=').map_or(text, |(scope, _level)| scope)
        }
        let texts: Vec<&str> = self.directives().collect();
        // The index of the last directive of each scope: one pass, not a scan per directive.
        let last: HashMap<&str, usize> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| (scope(text), i))
            .collect();
        let kept: Vec<&str> = texts
            .iter()
            .enumerate()
            .filter(|(i, text)| last[scope(text)] == *i)
            .map(|(_, text)| *text)
            .collect();
        let joined = kept.join(",");
        EnvFilter::builder()
            .with_regex(false)
            .parse(&joined)
            // Unreachable: each directive parsed on its own above; fall back to the default.
            .unwrap_or_else(|_| EnvFilter::new("info"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: Origin = Origin::Env("DYN_LOG");

    fn texts(value: &str) -> Result<Vec<String>, String> {
        parse_directives(value, &ORIGIN)
            .map(|ds| ds.iter().map(|d| d.as_str().to_owned()).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn valid_values() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("info", &["info"], "bare level"),
            ("INFO", &["info"], "levels are case-insensitive"),
            (
                "  debug , h2 = warn ",
                &["debug", "h2=warn"],
                "whitespace around segments",
            ),
            (
                "info,dynamo_runtime::system_status_server:trace",
                &["info", "dynamo_runtime::system_status_server=trace"],
                "the reference's target:level",
            ),
            (
                "my_crate::trace=debug",
                &["my_crate::trace=debug"],
                "a module named like a level",
            ),
            ("a::b:Trace", &["a::b=trace"], "single colon, any case"),
            ("info,,", &["info"], "empty segments skipped"),
            ("", &[], "empty value"),
            ("off", &["off"], "off"),
            (
                "warn,my_crate[request{id=7}]=trace",
                &["warn", "my_crate[request{id=7}]=trace"],
                "span and field directive",
            ),
            (
                "my_crate[request{path=/v1/(chat}]=debug",
                &["my_crate[request{path=/v1/(chat}]=debug"],
                "a field value is literal text, not a regex",
            ),
        ];
        for (value, want, reason) in cases {
            let got = texts(value).unwrap_or_else(|e| panic!("{reason}: {value:?}: {e}"));
            assert_eq!(got, *want, "{reason}: {value:?}");
        }
    }

    #[test]
    fn a_repeated_field_directive_builds_and_the_later_one_wins() {
        let filter = FilterConfig::default()
            .overlay(parse_directives("t[s{x=y}]=warn,t[s{x=y}]=debug", &ORIGIN).unwrap())
            .build()
            .to_string();
        assert!(filter.contains("t[s{x=y}]=debug"), "{filter}");
        assert!(!filter.contains("t[s{x=y}]=warn"), "{filter}");
        // Two texts EnvFilter reads alike: the value after a second `=` is dropped.
        let filter = FilterConfig::default()
            .overlay(parse_directives("t[{x==1}]=warn,t[{x==2}]=debug", &ORIGIN).unwrap())
            .build()
            .to_string();
        assert!(filter.ends_with(",info,t[{x=}]=debug"), "{filter}");
    }

    #[test]
    fn invalid_values_name_the_segment_and_what_is_accepted() {
        let cases = [
            (
                "inf",
                "DYN_LOG: \"inf\": not a level nor target=level",
                "misspelled level",
            ),
            (
                "info,h2=verbose",
                "DYN_LOG: \"h2=verbose\": unknown level \"verbose\"",
                "bad level after =",
            ),
            (
                "h2=",
                "DYN_LOG: \"h2=\": unknown level \"\"",
                "missing level",
            ),
            (
                "=info",
                "DYN_LOG: \"=info\": missing target",
                "missing target",
            ),
            ("my_crate", "write `my_crate=trace`", "bare target"),
            (
                "a::b::info",
                "not a level nor target=level",
                "double colon is a path, not a level",
            ),
            (
                "h2=3",
                "unknown level \"3\"",
                "numeric levels are not in the contract",
            ),
            (
                "x[span{a=1]=info",
                "not a valid directive",
                "unbalanced brackets",
            ),
        ];
        for (value, want, reason) in cases {
            let err = texts(value).expect_err(reason);
            assert!(err.contains(want), "{reason}: {value:?} gave {err:?}");
            assert!(
                err.contains("DYN_LOG"),
                "{reason}: names the variable: {err}"
            );
        }
        let err = texts("inf").unwrap_err();
        assert!(
            err.contains("error, warn, info, debug, trace, off"),
            "{err}"
        );
    }

    fn merged(file: &str, env: &str) -> Vec<String> {
        FilterConfig::default()
            .overlay(parse_directives(file, &ORIGIN).unwrap())
            .overlay(parse_directives(env, &ORIGIN).unwrap())
            .directives()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn dyn_log_wins_over_quiet_defaults_and_file() {
        let d = merged("debug,my_crate=info", "h2=trace,my_crate::db=warn");
        assert!(d.contains(&"h2=trace".to_owned()));
        assert!(
            !d.contains(&"h2=warn".to_owned()),
            "DYN_LOG names h2: the default goes: {d:?}"
        );
        assert!(
            d.contains(&"my_crate=info".to_owned()),
            "a more specific target keeps the broader one"
        );
        assert_eq!(
            d.iter()
                .filter(|s| ["info", "debug", "trace"].contains(&s.as_str()))
                .count(),
            1,
            "{d:?}"
        );
        assert!(
            d.contains(&"debug".to_owned()),
            "file's default level replaces the built-in one"
        );

        let d = merged("", "hyper=debug");
        assert!(
            !d.iter().any(|s| s.starts_with("hyper_util=")),
            "a target under the named one goes too: {d:?}"
        );
        assert!(d.contains(&"tower=warn".to_owned()));
    }

    #[test]
    fn built_filter_obeys_dyn_log_over_defaults() {
        let filter = FilterConfig::default()
            .overlay(parse_directives("warn,h2=trace", &ORIGIN).unwrap())
            .build();
        let text = filter.to_string();
        assert!(
            text.contains("h2=trace") && !text.contains("h2=warn"),
            "{text}"
        );
        assert_eq!(filter.max_level_hint(), Some(LevelFilter::TRACE));
    }

    #[test]
    fn forty_thousand_directives_merge_and_build() {
        // What a 1 MiB file's `[log_filters]` can hold; merging and deduplicating used to be
        // quadratic (40,000 entries took 42 s).
        let file: Vec<Directive> = (0..40_000)
            .map(|i| Directive::target(&format!("crate_{i}::module"), LevelFilter::DEBUG))
            .collect();
        let env = parse_directives("warn,crate_39999=trace,crate_7=error", &ORIGIN).unwrap();
        let config = FilterConfig::default().overlay(file).overlay(env);
        let d: Vec<_> = config.directives().collect();
        // `crate_7` names every target that starts with it, as EnvFilter matches them:
        // crate_7, crate_70 to crate_79, crate_700 to crate_799, crate_7000 to crate_7999.
        let removed = 1 + 10 + 100 + 1000 + 1;
        assert_eq!(d.len(), 1 + QUIET_DEFAULTS.len() + 40_000 - removed - 1 + 3);
        assert!(!d.contains(&"crate_70::module=debug") && d.contains(&"crate_8::module=debug"));
        let filter = config.build();
        assert_eq!(filter.max_level_hint(), Some(LevelFilter::TRACE));
    }
}
