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

use mesh::kube::schema::SchemaSet;
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

/// The most one input may hold: a bound on memory, whatever is piped in (`/dev/zero`, `yes`).
const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

fn read(input: &Path) -> std::io::Result<String> {
    let source: Box<dyn Read> = if input == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(input)?)
    };
    let mut bytes = Vec::new();
    source.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB; split it",
            MAX_INPUT_BYTES / (1024 * 1024)
        )));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::other("not UTF-8 text"))
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
            // The parser's budget (documents, nodes) guards one parse, and one broken document
            // fails the whole parse: a verdict per document still, each parsed on its own.
            Err(e) if e.to_string().contains("budget breached") || split_documents(&text).len() > 1 => {
                one_by_one(&shown, &text, &mut report)
            }
            Err(e) => {
                report.unreadable.push(format!("{shown}: {}", parse_failure(&e)));
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

/// Documents validated per input, at most: a bound on the work one input can ask for.
const MAX_DOCUMENTS: usize = 10_000;

/// The documents of `text` parsed one at a time (split at `---` lines), for an input over the
/// parser's budget as a whole. A document that cannot be parsed is reported with its number and
/// stands in as `null` (skipped), so the others keep theirs; documents past [`MAX_DOCUMENTS`]
/// are reported, not read.
fn one_by_one(shown: &str, text: &str, report: &mut Report) -> Vec<serde_json::Value> {
    let parts = split_documents(text);
    if parts.len() > MAX_DOCUMENTS {
        report.unreadable.push(format!(
            "{shown}: {} documents; only the first {MAX_DOCUMENTS} were validated",
            parts.len()
        ));
    }
    parts
        .into_iter()
        .take(MAX_DOCUMENTS)
        .enumerate()
        .map(
            |(i, part)| match serde_saphyr::from_str::<serde_json::Value>(part) {
                Ok(doc) => doc,
                Err(e) => {
                    // Lines in the parser's message count from the document's start.
                    let offset = (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
                    let line = text[..offset.min(text.len())].lines().count() + 1;
                    report.unreadable.push(format!(
                        "{shown}#{} (from line {line}): {}",
                        i + 1,
                        parse_failure(&e)
                    ));
                    serde_json::Value::Null
                }
            },
        )
        .collect()
}

/// Why a document could not be read: over the parser's limits (nodes, depth, aliases), which
/// guard against hostile input, or not YAML at all.
fn parse_failure(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    if first.contains("budget breached") {
        format!("over the YAML parser's limits, not validated ({first})")
    } else {
        format!("not YAML: {first}")
    }
}

/// `text` cut at its document markers (`---` at the start of a line); text before the first
/// marker is a document when it holds more than comments.
fn split_documents(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare == "---" || bare.starts_with("--- ") {
            parts.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    parts.push(&text[start..]);
    let has_content = |p: &&str| {
        p.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.trim() != "...")
    };
    // A leading part of comments only is not a document; an empty part after a marker is.
    if parts.first().is_some_and(|p| !has_content(p)) {
        parts.remove(0);
    }
    parts
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_markers_only() {
        let text = "# head\n---\na: 1\n---\nb: |\n  ---\n  x\n--- \nc: 3\n";
        assert_eq!(split_documents(text), ["a: 1\n", "b: |\n  ---\n  x\n", "c: 3\n"]);
        assert_eq!(split_documents("a: 1\n"), ["a: 1\n"]);
    }
}
