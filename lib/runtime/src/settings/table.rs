//! A table of settings: each row names a variable, a TOML key or both, and the setter that
//! parses the value into its typed field. Reading the environment and reading the TOML file are
//! both a walk over the same rows, so a setting is written in two places only: its field (with
//! its default in the config's one `impl Default`) and its row.
//!
//! The file is walked by serde, key by key: an unknown key or a value of the wrong type is
//! toml's own error with its line; the values are then set in the table's order, whatever
//! their order in the file, so a setter may rely on the rows above it (`[capture] level` before
//! `max_lines`, a sampler before its argument).

use std::{fmt, str::FromStr};

use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, Visitor};

use super::{
    env::Lookup,
    error::{ConfigError, Origin},
    parse::TomlSource,
    value::Rejected,
};

/// Sets one setting of `C` from one source's value.
pub type Setter<C> = Box<dyn Fn(&mut C, &Input<'_>) -> Result<(), ConfigError> + Send + Sync>;

/// One row of a settings table.
pub struct Setting<C> {
    /// The environment variable, if the setting has one.
    pub var: Option<&'static str>,
    /// The TOML key, dotted for a table (`capture.max_lines`); `*` as its last part stands for
    /// any key of that table (`log_filters.*`).
    pub key: Option<String>,
    /// The key must be given when its table is.
    required: bool,
    /// An empty or blank variable counts as unset (the OpenTelemetry variables).
    blank_is_unset: bool,
    set: Setter<C>,
}

impl<C> Setting<C> {
    /// A setting read from `var` and from the TOML key `key`.
    pub fn both(
        var: &'static str,
        key: impl Into<String>,
        set: impl Fn(&mut C, &Input<'_>) -> Result<(), ConfigError> + Send + Sync + 'static,
    ) -> Self {
        Setting {
            var: Some(var),
            key: Some(key.into()),
            required: false,
            blank_is_unset: false,
            set: Box::new(set),
        }
    }

    /// A setting read from `var` only.
    pub fn env(
        var: &'static str,
        set: impl Fn(&mut C, &Input<'_>) -> Result<(), ConfigError> + Send + Sync + 'static,
    ) -> Self {
        Setting {
            key: None,
            ..Setting::both(var, "", set)
        }
    }

    /// A setting read from the TOML key `key` only.
    pub fn file(
        key: impl Into<String>,
        set: impl Fn(&mut C, &Input<'_>) -> Result<(), ConfigError> + Send + Sync + 'static,
    ) -> Self {
        Setting {
            var: None,
            ..Setting::both("", key, set)
        }
    }

    /// The key must be given whenever its table is (`[file] path`).
    pub fn required(self) -> Self {
        Setting {
            required: true,
            ..self
        }
    }

    /// A blank variable counts as unset.
    pub fn blank_is_unset(self) -> Self {
        Setting {
            blank_is_unset: true,
            ..self
        }
    }
}

impl<C> fmt::Debug for Setting<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setting")
            .field("var", &self.var)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// One source's value of a setting, as its setter sees it.
pub struct Input<'a> {
    origin: Origin,
    /// The key's last part (the target of a `log_filters.*` entry); the variable's name.
    name: &'a str,
    value: Raw<'a>,
}

enum Raw<'a> {
    Text(&'a str),
    Toml(&'a toml::Value),
}

impl Input<'_> {
    /// Where the value came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The key's last part, or the variable's name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// The value, parsed: a variable's text through `FromStr`, a TOML value through
    /// `Deserialize`.
    pub fn parse<T>(&self) -> Result<T, ConfigError>
    where
        T: FromStr + DeserializeOwned,
        T::Err: Into<Rejected>,
    {
        match self.value {
            Raw::Text(text) => text
                .parse()
                .map_err(|e: T::Err| e.into().at(self.origin.clone())),
            Raw::Toml(value) => self.toml(value),
        }
    }

    /// Parses the value into `slot`.
    pub fn set<T>(&self, slot: &mut T) -> Result<(), ConfigError>
    where
        T: FromStr + DeserializeOwned,
        T::Err: Into<Rejected>,
    {
        *slot = self.parse()?;
        Ok(())
    }

    /// Parses the value into `slot` as `Some`.
    pub fn set_some<T>(&self, slot: &mut Option<T>) -> Result<(), ConfigError>
    where
        T: FromStr + DeserializeOwned,
        T::Err: Into<Rejected>,
    {
        *slot = Some(self.parse()?);
        Ok(())
    }

    /// The value of a TOML-only setting (a list, a table).
    pub fn parse_toml<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        match self.value {
            Raw::Toml(value) => self.toml(value),
            Raw::Text(text) => {
                Err(Rejected::new(text, "only the TOML file sets this").at(self.origin.clone()))
            }
        }
    }

    /// A whole number in `range`: a variable's text, or a TOML integer; `accepted` is the
    /// "expected …" text of any other value.
    pub fn number<T>(
        &self,
        range: std::ops::RangeInclusive<T>,
        accepted: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd,
    {
        let text = match self.value {
            Raw::Text(text) => text.to_owned(),
            Raw::Toml(toml::Value::Integer(n)) => n.to_string(),
            Raw::Toml(other) => return Err(self.wrong_type(other, "an integer")),
        };
        super::value::number_in(&text, range, accepted).map_err(|r| r.at(self.origin.clone()))
    }

    /// The text: a variable's, or a TOML string's.
    pub fn text(&self) -> Result<&str, ConfigError> {
        match self.value {
            Raw::Text(text) => Ok(text),
            Raw::Toml(toml::Value::String(s)) => Ok(s),
            Raw::Toml(other) => Err(self.wrong_type(other, "a string")),
        }
    }

    fn wrong_type(&self, value: &toml::Value, expected: &str) -> ConfigError {
        ConfigError::File {
            origin: self.origin.clone(),
            message: format!("invalid type: {}, expected {expected}", value.type_str()),
        }
    }

    fn toml<T: DeserializeOwned>(&self, value: &toml::Value) -> Result<T, ConfigError> {
        T::deserialize(value.clone()).map_err(|e| ConfigError::File {
            origin: self.origin.clone(),
            message: e.message().replace('\n', " "),
        })
    }
}

/// Applies the variables of `rows` that `lookup` finds, in the table's order.
pub fn apply_env<C>(
    rows: &[Setting<C>],
    config: &mut C,
    lookup: Lookup<'_>,
) -> Result<(), ConfigError> {
    for row in rows {
        let Some(var) = row.var else { continue };
        let Some(text) = lookup(var) else { continue };
        if row.blank_is_unset && text.trim().is_empty() {
            continue;
        }
        let input = Input {
            origin: Origin::Env(var),
            name: var,
            value: Raw::Text(&text),
        };
        (row.set)(config, &input)?;
    }
    Ok(())
}

/// Applies the TOML file `source` through the keys of `rows`, in the table's order.
pub fn apply_file<C>(
    rows: &[Setting<C>],
    config: &mut C,
    source: &TomlSource<'_>,
) -> Result<(), ConfigError> {
    let mut leaves = Vec::new();
    source.parse_seed(Table {
        rows,
        path: String::new(),
        leaves: &mut leaves,
    })?;
    leaves.sort_by_key(|leaf| leaf.row);
    for leaf in &leaves {
        let input = Input {
            origin: source.at(leaf.value.span().start),
            name: &leaf.name,
            value: Raw::Toml(leaf.value.get_ref()),
        };
        (rows[leaf.row].set)(config, &input)?;
    }
    Ok(())
}

/// A value found in the file, for the row at `row`.
struct Leaf {
    row: usize,
    name: String,
    value: toml::Spanned<toml::Value>,
}

/// What a key of a table is.
enum Key {
    /// A setting's value.
    Value(usize, String),
    /// A table of settings.
    Table(String),
    /// A table whose every key is one setting's (`log_filters`).
    Open(usize),
}

/// A table of the file at `path` (empty for the document), walked for the keys of `rows`.
struct Table<'r, C> {
    rows: &'r [Setting<C>],
    path: String,
    leaves: &'r mut Vec<Leaf>,
}

impl<C> Table<'_, C> {
    fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn classify(&self, key: &str) -> Result<Key, String> {
        let path = self.child(key);
        let open = format!("{path}.*");
        let within = format!("{path}.");
        let keys = || {
            self.rows
                .iter()
                .enumerate()
                .filter_map(|(i, r)| Some((i, r.key.as_deref()?)))
        };
        if let Some((i, _)) = keys().find(|(_, k)| *k == path) {
            return Ok(Key::Value(i, key.to_owned()));
        }
        if let Some((i, _)) = keys().find(|(_, k)| *k == open) {
            return Ok(Key::Open(i));
        }
        if keys().any(|(_, k)| k.starts_with(&within)) {
            return Ok(Key::Table(path));
        }
        // Serde's own wording, with every key this table takes.
        let prefix = self.child("");
        let mut known: Vec<&str> = Vec::new();
        for (_, k) in keys() {
            let Some(rest) = k.strip_prefix(prefix.as_str()) else {
                continue;
            };
            let first = rest.split('.').next().unwrap_or(rest);
            if !known.contains(&first) {
                known.push(first);
            }
        }
        let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        Err(format!(
            "unknown field `{key}`, expected one of {}",
            list.join(", ")
        ))
    }
}

impl<'de, C> DeserializeSeed<'de> for Table<'_, C> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, C> Visitor<'de> for Table<'_, C> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed(&self))? {
            match key {
                Key::Value(row, name) => {
                    let value = map.next_value()?;
                    seen.push(row);
                    self.leaves.push(Leaf { row, name, value });
                }
                Key::Open(row) => map.next_value_seed(Open {
                    row,
                    leaves: self.leaves,
                })?,
                Key::Table(path) => map.next_value_seed(Table {
                    rows: self.rows,
                    path,
                    leaves: self.leaves,
                })?,
            }
        }
        let prefix = self.child("");
        for (i, row) in self.rows.iter().enumerate() {
            let Some(rest) = row
                .key
                .as_deref()
                .and_then(|k| k.strip_prefix(prefix.as_str()))
            else {
                continue;
            };
            if row.required && !rest.contains('.') && !seen.contains(&i) {
                return Err(serde::de::Error::custom(format!("missing field `{rest}`")));
            }
        }
        Ok(())
    }
}

/// Reads a key and says what it is, or fails with the key's own span.
struct KeySeed<'t, 'r, C>(&'t Table<'r, C>);

impl<'de, C> DeserializeSeed<'de> for KeySeed<'_, '_, C> {
    type Value = Key;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        let key = String::deserialize(d)?;
        self.0.classify(&key).map_err(serde::de::Error::custom)
    }
}

use serde::Deserialize as _;

/// A table whose every key is a value of one row.
struct Open<'r> {
    row: usize,
    leaves: &'r mut Vec<Leaf>,
}

impl<'de> DeserializeSeed<'de> for Open<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Open<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value()?;
            self.leaves.push(Leaf {
                row: self.row,
                name,
                value,
            });
        }
        Ok(())
    }
}
