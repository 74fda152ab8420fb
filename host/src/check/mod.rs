//! `wasgi check`: `wsgiref.validate`-grade diagnostics for a component in any
//! language.
//!
//! Static (`inspect.rs`): the world and its version, the imports and the grants they
//! need, the sizes, the toolchain. Dynamic (`dynamic.rs`): a corpus of requests
//! ([`corpus`]), each in a fresh instance under the limits given, every deviation a
//! diagnostic naming its [`Rule`] and the rule's source. The rules are the gateway's
//! own ([`wasgi_gateway::rules`]): its refusals are reported as it made them (through
//! its observer), never checked a second time here. `report.rs` writes the result for
//! people or as JSON.

pub mod corpus;
mod dynamic;
mod inspect;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wasmtime::Engine;

pub use corpus::CheckRequest;
pub use dynamic::Run;
pub use inspect::{Import, Inspection, Producer};
use wasgi_gateway::rules::{Rule, Severity};

use crate::app::{Application, load_component};
use crate::artifact;
use crate::cache::Cache;
use crate::error::Error;
use crate::grants::Grants;
use crate::limits::GuestLimits;

/// Why a check could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The application cannot be read or is not a component (or a loadable `.cwasm`).
    #[error(transparent)]
    Load(#[from] Error),
    /// A grant does not open.
    #[error("{0}")]
    Grants(String),
}

/// One diagnostic: a rule broken, how, and the requests that showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule.
    pub rule: Rule,
    /// What was seen.
    pub message: String,
    /// The requests that showed it, by name (none for a static finding).
    pub requests: Vec<String>,
}

/// The outcome of a check.
#[derive(Debug)]
pub struct Report {
    /// The application checked.
    pub app: PathBuf,
    /// What is known without running it.
    pub inspection: Inspection,
    /// The limits each request ran under.
    pub limits: GuestLimits,
    /// Each request as it ran (none when the component is not a wasgi application).
    pub runs: Vec<Run>,
    /// The diagnostics, errors first, grouped by rule and message.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// How many diagnostics have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.rule.severity() == severity)
            .count()
    }
}

/// Checks the application at `path` (a component or a `.cwasm`): inspects it, then, if
/// it implements the wasgi world, runs each of `requests` in a fresh instance held to
/// `limits`, with `grants`.
pub fn check(
    engine: &Engine,
    path: &Path,
    cache: Option<&Cache>,
    limits: GuestLimits,
    grants: Grants,
    requests: &[CheckRequest],
) -> Result<Report, CheckError> {
    let kind = artifact::kind(path)?;
    let component = load_component(engine, path, cache)?;
    let inspection = inspect::inspect(engine, path, kind, &component)?;
    let mut report = Report {
        app: path.to_owned(),
        inspection,
        limits,
        runs: Vec::new(),
        diagnostics: Vec::new(),
    };
    let app = match Application::from_component(engine, path, &component, cache) {
        Ok(app) => app,
        Err(Error::NotAnApp { reason, .. }) => {
            report.diagnostics.push(Diagnostic {
                rule: Rule::World,
                message: format!("it does not implement the wasgi world: {reason}"),
                requests: Vec::new(),
            });
            return Ok(report);
        }
        Err(e) => return Err(e.into()),
    };
    let app = app
        .with_limits(limits)?
        .with_grants(grants)
        .map_err(CheckError::Grants)?;
    // The gateway logs each refusal as it makes it; here they are the report's.
    report.runs =
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::new(), || {
            requests
                .iter()
                .map(|request| dynamic::run(&app, &limits, request))
                .collect()
        });
    report.diagnostics = group(&report.runs);
    Ok(report)
}

/// The runs' findings grouped by rule and message, each with the requests that showed
/// it; errors first, then by rule.
fn group(runs: &[Run]) -> Vec<Diagnostic> {
    let mut groups: BTreeMap<(Severity, Rule, &str), Vec<String>> = BTreeMap::new();
    for run in runs {
        for (rule, message) in &run.findings {
            let requests = groups.entry((rule.severity(), *rule, message)).or_default();
            if requests.last() != Some(&run.name) {
                requests.push(run.name.clone());
            }
        }
    }
    groups
        .into_iter()
        .map(|((_, rule, message), requests)| Diagnostic {
            rule,
            message: message.to_owned(),
            requests,
        })
        .collect()
}
