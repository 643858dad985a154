//! `meshctl validate`: offline validation of YAML files against the pinned upstream schemas.
//!
//! Inputs are files, directories (their `*.yaml`, `*.yml` and `*.json`, sorted) or `-` for stdin.
//! An input that cannot be read or parsed is reported and the others are still validated. Each
//! object gets a verdict; cross-object lints (a route to a subset no given file defines) are
//! warnings, since the other object may live elsewhere, and fail the run only with `--strict`.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
};

use mesh_kube::schema::SchemaSet;
use serde::Serialize;

use crate::{
    cli::Output,
    error::{CliError, exit},
};

/// What `validate` says about one object.
#[derive(Debug, Serialize)]
struct ObjectReport {
    source: String,
    kind: String,
    name: String,
    problems: Vec<String>,
}

/// The whole run, as `-o json` prints it.
#[derive(Debug, Default, Serialize)]
struct Report {
    objects: Vec<ObjectReport>,
    /// Inputs that could not be read or parsed.
    unreadable: Vec<String>,
    warnings: Vec<String>,
}

impl Report {
    fn problems(&self) -> usize {
        self.objects.iter().map(|o| o.problems.len()).sum::<usize>() + self.unreadable.len()
    }
}

/// The Gateway API bundle a `--gateway-api` value names: a version (`1.6.1`) or a bundle name
/// (`linkerd-gateway-api-v1.1.1-experimental`, as Linkerd installs it).
fn bundle_of(set: &SchemaSet, value: &str) -> Result<String, CliError> {
    let wanted = [value.to_owned(), format!("gateway-api-v{value}")];
    wanted
        .into_iter()
        .find(|b| set.bundles().contains(&b.as_str()))
        .ok_or_else(|| CliError {
            message: format!("unknown Gateway API bundle {value}"),
            hint: Some(format!("pick a version or one of: {}", set.bundles().join(", "))),
            code: exit::USAGE,
        })
}

/// The inputs behind the arguments: directories expand to their YAML and JSON files.
fn expand(inputs: &[PathBuf], report: &mut Report) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(input) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.extension()
                            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                    })
                    .collect(),
                Err(e) => {
                    report.unreadable.push(format!("{}: {e}", input.display()));
                    continue;
                }
            };
            files.sort();
            out.extend(files);
        } else {
            out.push(input.clone());
        }
    }
    out
}

fn read(input: &Path) -> std::io::Result<String> {
    if input == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(input)
    }
}

/// Validates every document of every input; prints one line per object (or one JSON report).
pub(crate) fn run(
    out: &mut impl Write,
    inputs: &[PathBuf],
    gateway_api: &str,
    strict: bool,
    format: Output,
) -> Result<(), CliError> {
    let set = SchemaSet::bundled();
    let bundle = bundle_of(set, gateway_api)?;
    let mut report = Report::default();
    let mut all = Vec::new();
    for input in expand(inputs, &mut report) {
        let shown = input.display().to_string();
        let text = match read(&input) {
            Ok(t) => t,
            Err(e) => {
                report.unreadable.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let docs: Vec<serde_json::Value> = match serde_saphyr::from_multiple(&text) {
            Ok(d) => d,
            Err(e) => {
                report.unreadable.push(format!("{shown}: not YAML: {e}"));
                continue;
            }
        };
        for (source, doc) in objects_of(&shown, &docs) {
            let problems = match set.validate_with_bundle(doc, Some(&bundle)) {
                Ok(()) => Vec::new(),
                Err(violations) => violations.iter().map(ToString::to_string).collect(),
            };
            report.objects.push(ObjectReport {
                source,
                kind: doc["kind"].as_str().unwrap_or("?").to_owned(),
                name: doc["metadata"]["name"].as_str().unwrap_or("?").to_owned(),
                problems,
            });
            all.push(doc.clone());
        }
    }
    report.warnings = crate::lint::check(&all)
        .into_iter()
        .map(|f| format!("{}: {}", f.object, f.message))
        .collect();
    print(out, &report, format)?;
    if report.objects.is_empty() && report.unreadable.is_empty() {
        // `meshctl render | meshctl validate -` must not pass when the render printed nothing.
        return Err(CliError {
            message: "no objects found in the inputs".into(),
            hint: Some("give YAML or JSON files, directories, or - for stdin".into()),
            code: exit::INVALID,
        });
    }
    let failed = report.problems() + if strict { report.warnings.len() } else { 0 };
    if failed > 0 {
        return Err(CliError {
            message: format!("{failed} problems found"),
            hint: (!report.unreadable.is_empty()).then(|| "some inputs could not be read".to_owned()),
            code: exit::INVALID,
        });
    }
    Ok(())
}

/// The objects of an input's documents, each with where it came from (`file#2`, and
/// `file#1.items[3]` inside a Kubernetes `List`, as `kubectl apply` unpacks it).
fn objects_of<'a>(shown: &str, docs: &'a [serde_json::Value]) -> Vec<(String, &'a serde_json::Value)> {
    let mut out = Vec::new();
    for (i, doc) in docs.iter().enumerate().filter(|(_, d)| !d.is_null()) {
        let is_list = doc["apiVersion"] == "v1" && doc["kind"] == "List";
        match doc["items"].as_array() {
            Some(items) if is_list => {
                for (j, item) in items.iter().enumerate() {
                    out.push((format!("{shown}#{}.items[{j}]", i + 1), item));
                }
            }
            _ => out.push((format!("{shown}#{}", i + 1), doc)),
        }
    }
    out
}

fn print(out: &mut impl Write, report: &Report, format: Output) -> Result<(), CliError> {
    if format == Output::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
        return Ok(());
    }
    for o in &report.objects {
        let name = format!("{} {} {}", o.source, o.kind, o.name);
        if o.problems.is_empty() {
            writeln!(out, "ok      {name}")?;
        }
        for p in &o.problems {
            writeln!(out, "invalid {name}: {p}")?;
        }
    }
    for u in &report.unreadable {
        writeln!(out, "error   {u}")?;
    }
    for w in &report.warnings {
        writeln!(out, "warning {w}")?;
    }
    writeln!(
        out,
        "{} objects, {} problems, {} warnings",
        report.objects.len(),
        report.problems(),
        report.warnings.len()
    )?;
    Ok(())
}
