//! A check's report, for people (grouped by rule, each finding with the requests that
//! showed it) or as JSON for CI (docs/CHECK.md describes its fields).

use std::fmt::Write as _;

use serde_json::{Value, json};
use wasgi_gateway::rules::Severity;

use super::dynamic::mib;
use super::{Diagnostic, Report};

impl Report {
    /// The report for people.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let i = &self.inspection;
        let _ = writeln!(out, "wasgi check {}", self.app.display());
        let _ = writeln!(
            out,
            "  {}: {} bytes, compiled {} bytes{}",
            i.kind,
            i.size,
            i.compiled_size,
            match i.carried_files {
                0 => String::new(),
                n => format!(", carrying {n} bytes of files"),
            }
        );
        let world = match i.world_versions.as_slice() {
            [] => "none: it neither imports nor exports wasgi:gateway".to_owned(),
            versions => format!("wasgi:gateway@{}", versions.join(", @")),
        };
        let _ = writeln!(out, "  world: {world}");
        if let Some(maker) = &i.maker {
            let _ = writeln!(
                out,
                "  written by: {maker} (a .cwasm keeps no producers section)"
            );
        }
        if !i.producers.is_empty() {
            let tools: Vec<String> = i
                .producers
                .iter()
                .map(|p| {
                    format!("{} {} {}", p.field, p.name, p.version)
                        .trim_end()
                        .to_owned()
                })
                .collect();
            let _ = writeln!(out, "  built with: {}", tools.join("; "));
        }
        let _ = writeln!(out, "  imports:");
        for import in &i.imports {
            let _ = writeln!(
                out,
                "    {:<40} {}",
                import.name,
                import.meaning.unwrap_or("not provided by wasgi")
            );
        }
        let _ = writeln!(out, "  exports: {}", i.exports.join(", "));
        if !self.runs.is_empty() {
            let _ = writeln!(
                out,
                "  requests: {}, each in a fresh instance ({})",
                self.runs.len(),
                limits(self)
            );
        }
        for rule in rules_in(&self.diagnostics) {
            let _ = writeln!(
                out,
                "\n{}[{}]: {}\n  source: {}",
                rule.severity().name(),
                rule.name(),
                rule.summary(),
                rule.source()
            );
            for d in self.diagnostics.iter().filter(|d| d.rule == rule) {
                let _ = writeln!(out, "  - {}", d.message);
                if !d.requests.is_empty() {
                    let _ = writeln!(out, "    seen on: {}", d.requests.join(", "));
                }
            }
        }
        let _ = writeln!(
            out,
            "\n{} errors, {} warnings",
            self.count(Severity::Error),
            self.count(Severity::Warning)
        );
        out
    }

    /// The report as JSON.
    pub fn json(&self) -> Value {
        let i = &self.inspection;
        json!({
            "app": self.app.to_string_lossy(),
            "static": {
                "kind": i.kind,
                "size": i.size,
                "compiled_size": i.compiled_size,
                "carried_files": i.carried_files,
                "world_versions": i.world_versions,
                "imports": i.imports.iter().map(|import| json!({
                    "name": import.name,
                    "meaning": import.meaning,
                })).collect::<Vec<_>>(),
                "exports": i.exports,
                "producers": i.producers.iter().map(|p| json!({
                    "field": p.field,
                    "name": p.name,
                    "version": p.version,
                })).collect::<Vec<_>>(),
                "maker": i.maker,
            },
            "limits": {
                "timeout_seconds": self.limits.timeout.map(|t| t.as_secs_f64()),
                "max_memory": self.limits.max_memory,
            },
            "requests": self.runs.iter().map(|run| json!({
                "name": run.name,
                "request": run.request,
                "status": run.status,
                "outcome": format!("{:?}", run.outcome).to_lowercase(),
                "milliseconds": run.elapsed.as_secs_f64() * 1000.0,
                "peak_memory": run.peak_memory,
            })).collect::<Vec<_>>(),
            "diagnostics": self.diagnostics.iter().map(|d| json!({
                "rule": d.rule.name(),
                "severity": d.rule.severity().name(),
                "source": d.rule.source(),
                "message": d.message,
                "requests": d.requests,
            })).collect::<Vec<_>>(),
            "errors": self.count(Severity::Error),
            "warnings": self.count(Severity::Warning),
        })
    }
}

/// The limits of the runs, for the summary line.
fn limits(report: &Report) -> String {
    let timeout = report
        .limits
        .timeout
        .map_or("no --timeout".to_owned(), |t| {
            format!("--timeout {} s", t.as_secs_f64())
        });
    let memory = report
        .limits
        .max_memory
        .map_or("no --max-memory".to_owned(), |m| {
            format!("--max-memory {}", mib(m))
        });
    format!("{timeout}, {memory}")
}

/// The rules of `diagnostics`, each once, in order.
fn rules_in(diagnostics: &[Diagnostic]) -> Vec<wasgi_gateway::rules::Rule> {
    let mut rules: Vec<_> = diagnostics.iter().map(|d| d.rule).collect();
    rules.dedup();
    rules
}
