//! What the tests of `deploy/` share: its files by path, YAML documents, the image tag the
//! Dockerfile builds, a binary's flags.

#![allow(dead_code)] // each test file uses some of these

use std::{collections::HashSet, fs, path::PathBuf, process::Command};

use serde::Deserialize;
use serde_norway::Value;
use tracewire_tests::{binary, repo_root};

pub(crate) fn deploy(path: &str) -> PathBuf {
    repo_root().join("deploy").join(path)
}

/// Every document of a YAML file.
pub(crate) fn yaml(path: &str) -> Vec<Value> {
    let text = fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| {
            let mut value =
                Value::deserialize(doc).unwrap_or_else(|e| panic!("{path} does not parse: {e}"));
            value
                .apply_merge()
                .unwrap_or_else(|e| panic!("{path}: merge keys: {e}"));
            value
        })
        .collect()
}

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// A manifest container's `args` (deploy.rs only; deploy_pipeline.rs includes this module too).
#[allow(dead_code)]
pub(crate) fn args_of(container: &Value) -> Vec<&str> {
    container["args"]
        .as_sequence()
        .expect("the container has args")
        .iter()
        .map(s)
        .collect()
}

pub(crate) fn image_tag() -> String {
    let dockerfile = fs::read_to_string(deploy("Dockerfile")).unwrap();
    let line = dockerfile
        .lines()
        .find(|l| l.contains("docker build"))
        .unwrap();
    line.split_whitespace()
        .skip_while(|w| *w != "-t")
        .nth(1)
        .unwrap()
        .to_owned()
}

pub(crate) fn flags_of(name: &str) -> HashSet<String> {
    let out = Command::new(binary(name)).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    help.split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches(',').to_owned())
        .collect()
}
