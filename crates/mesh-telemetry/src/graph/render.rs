//! Rendering a [`ServiceGraph`] as JSON, Graphviz DOT, Mermaid, or SVG through Graphviz `dot`.

use std::{
    fmt::Write as _,
    io::Write as _,
    process::{Command, Stdio},
};

use mesh_core::{GraphEdge, NodeKind, ServiceGraph};

use crate::{Error, Result};

/// Pretty JSON of the graph (the core type's serde form).
///
/// ```
/// use mesh_core::{Namespace, ServiceGraph};
/// let g = ServiceGraph { namespace: Namespace::new("shop").unwrap(), nodes: vec![], edges: vec![] };
/// let json = mesh_telemetry::graph::to_json(&g);
/// assert!(json.contains("\"namespace\": \"shop\""));
/// ```
pub fn to_json(graph: &ServiceGraph) -> String {
    // A `ServiceGraph` holds only strings, numbers and options: serializing cannot fail.
    serde_json::to_string_pretty(graph).unwrap_or_default()
}

/// The edge label: rate, error share, p99 and the mTLS state.
fn edge_label(e: &GraphEdge) -> String {
    let mut s = format!("{:.2} rps", e.rps);
    if let Some(err) = e.error_rate {
        let _ = write!(s, ", {:.1}% err", err * 100.0);
    }
    if let Some(p) = e.p99_ms {
        let _ = write!(s, ", p99 {p:.0} ms");
    }
    s.push_str(match e.mtls {
        Some(true) => ", mTLS",
        Some(false) => ", plaintext",
        None => "",
    });
    s
}

/// Graphviz DOT: boxes for workloads, ellipses for services, dashed grey for external nodes; red
/// edges with errors, dashed edges without mTLS.
///
/// ```
/// use mesh_core::{GraphEdge, GraphNode, Namespace, NodeKind, ServiceGraph};
/// let n = |id: &str| GraphNode { id: id.into(), kind: NodeKind::Workload, name: id.into(), namespace: "shop".into(), version: None };
/// let g = ServiceGraph {
///     namespace: Namespace::new("shop").unwrap(),
///     nodes: vec![n("a"), n("b")],
///     edges: vec![GraphEdge { source: "a".into(), target: "b".into(), rps: 2.0, error_rate: Some(0.0), p99_ms: None, mtls: Some(true) }],
/// };
/// let dot = mesh_telemetry::graph::to_dot(&g);
/// assert!(dot.starts_with("digraph \"shop\" {"));
/// assert!(dot.contains("\"a\" -> \"b\" [label=\"2.00 rps, 0.0% err, mTLS\""));
/// ```
pub fn to_dot(graph: &ServiceGraph) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n",
        dot_quote(graph.namespace.as_str())
    );
    for n in &graph.nodes {
        let (shape, style) = match n.kind {
            NodeKind::Workload => ("box", "solid"),
            NodeKind::Service => ("ellipse", "solid"),
            NodeKind::External => ("box", "dashed"),
        };
        let label = match &n.version {
            Some(v) => format!("{}\n{} ({v})", n.name, n.namespace),
            None => format!("{}\n{}", n.name, n.namespace),
        };
        let _ = writeln!(
            out,
            "  {} [label={}, shape={shape}, style={style}];",
            dot_quote(&n.id),
            dot_quote(&label)
        );
    }
    for e in &graph.edges {
        let color = if e.error_rate.is_some_and(|r| r > 0.0) {
            "red"
        } else {
            "black"
        };
        let style = if e.mtls == Some(true) { "solid" } else { "dashed" };
        let _ = writeln!(
            out,
            "  {} -> {} [label={}, color={color}, style={style}];",
            dot_quote(&e.source),
            dot_quote(&e.target),
            dot_quote(&edge_label(e))
        );
    }
    out.push_str("}\n");
    out
}

/// A DOT double-quoted string: `"` and `\` escaped, newlines as DOT's `\n` line breaks.
fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Mermaid `flowchart LR`. Node ids are `n0, n1, ..` (Mermaid ids cannot hold `:` or `/`);
/// labels are quoted with `"` written as `#quot;`.
///
/// ```
/// use mesh_core::{GraphEdge, GraphNode, Namespace, NodeKind, ServiceGraph};
/// let n = |id: &str| GraphNode { id: id.into(), kind: NodeKind::Service, name: id.into(), namespace: "default".into(), version: None };
/// let g = ServiceGraph {
///     namespace: Namespace::default(),
///     nodes: vec![n("web"), n("api")],
///     edges: vec![GraphEdge { source: "web".into(), target: "api".into(), rps: 1.5, error_rate: None, p99_ms: Some(12.0), mtls: Some(true) }],
/// };
/// let m = mesh_telemetry::graph::to_mermaid(&g);
/// assert!(m.starts_with("flowchart LR\n"));
/// assert!(m.contains("  n0 -->|\"1.50 rps, p99 12 ms, mTLS\"| n1\n"));
/// ```
pub fn to_mermaid(graph: &ServiceGraph) -> String {
    let mut out = String::from("flowchart LR\n");
    let index = |id: &str| graph.nodes.iter().position(|n| n.id == id);
    for (i, n) in graph.nodes.iter().enumerate() {
        let label = format!("{}<br/>{}", mermaid_text(&n.name), mermaid_text(&n.namespace));
        let shape = match n.kind {
            NodeKind::Service => format!("n{i}([\"{label}\"])"),
            NodeKind::Workload => format!("n{i}[\"{label}\"]"),
            NodeKind::External => format!("n{i}[/\"{label}\"/]"),
        };
        let _ = writeln!(out, "  {shape}");
    }
    for e in &graph.edges {
        let (Some(s), Some(t)) = (index(&e.source), index(&e.target)) else {
            continue;
        };
        let arrow = if e.mtls == Some(true) { "-->" } else { "-.->" };
        let _ = writeln!(out, "  n{s} {arrow}|\"{}\"| n{t}", mermaid_text(&edge_label(e)));
    }
    out
}

/// Text as Mermaid shows it literally: its markup characters as entity codes (`#lt;`), control
/// characters dropped, line breaks as spaces. Workload names come from Prometheus labels, which
/// anyone who can label a pod controls.
///
/// ```
/// use mesh_core::{GraphEdge, GraphNode, Namespace, NodeKind, ServiceGraph};
/// let node = |id: &str, name: &str| GraphNode { id: id.into(), kind: NodeKind::Workload, name: name.into(), namespace: "prod".into(), version: None };
/// let g = ServiceGraph {
///     namespace: Namespace::new("prod").unwrap(),
///     nodes: vec![node("a", "<script>alert(1)</script>"), node("b", "x\u{1b}[31m&amp;#quot;")],
///     edges: vec![],
/// };
/// let m = mesh_telemetry::graph::to_mermaid(&g);
/// assert!(m.contains("#lt;script#gt;alert(1)#lt;/script#gt;<br/>prod"), "{m}");
/// assert!(m.contains("x[31m#amp;amp;#35;quot;"), "{m}");
/// ```
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// SVG rendered by Graphviz `dot -Tsvg` (Debian package `graphviz`). Blocks while `dot` runs.
///
/// # Errors
/// [`Error::NotConfigured`] when `dot` is not installed, [`Error::Unexpected`] when it fails.
pub fn to_svg(graph: &ServiceGraph) -> Result<String> {
    let not_installed = || Error::NotConfigured {
        what: "Graphviz dot",
        hint: "install Graphviz (Debian/Ubuntu: apt-get install graphviz) or use the DOT/Mermaid output",
    };
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|_| not_installed())?;
    let dot = to_dot(graph);
    let failed = |reason: String| Error::Unexpected {
        what: "Graphviz dot run",
        reason,
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| failed(e.to_string()))?;
    }
    let output = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(crate::error::snippet(&String::from_utf8_lossy(
            &output.stderr,
        ))));
    }
    String::from_utf8(output.stdout).map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_quoting() {
        assert_eq!(dot_quote("a\"b\\c\nd\u{7}"), r#""a\"b\\c\nd""#);
        assert_eq!(mermaid_text("a\"b\nc"), "a#quot;b c");
    }
}
