//! Errors as the user sees them: a one-line cause, a hint, and an exit code.

use mesh::Error;

/// Exit codes.
pub(crate) mod exit {
    /// A command failed.
    pub(crate) const ERROR: u8 = 1;
    /// Bad input (nothing was written), as for clap's usage errors.
    pub(crate) const USAGE: u8 = 2;
    /// The rollout rolled back.
    pub(crate) const ROLLED_BACK: u8 = 3;
    /// The rollout held (too little data or a closed gate).
    pub(crate) const HELD: u8 = 4;
    /// `validate` found problems.
    pub(crate) const INVALID: u8 = 5;
    /// stdout was closed by its reader (`| head`): a quiet success, as for other Unix tools
    /// that stop when nobody reads on.
    pub(crate) const CLOSED_PIPE: u8 = 0;
}

/// A failure of a command.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    pub(crate) code: u8,
}

impl CliError {
    pub(crate) fn internal(message: String) -> Self {
        Self {
            message,
            hint: None,
            code: exit::ERROR,
        }
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        let hint = match &e {
            Error::InvalidInput { .. } => Some("nothing was written; fix the argument and run again".into()),
            Error::Unsupported { .. } => Some("`meshctl capabilities` lists what each mesh supports".into()),
            Error::Conflict { .. } => {
                Some("another writer holds it; retry, or coordinate with the owner".into())
            }
            Error::PartiallyApplied { .. } => {
                Some("the landed writes are safe; run the same command again to finish".into())
            }
            _ => None,
        };
        let message = e.with_causes();
        let code = if matches!(e, Error::InvalidInput { .. }) {
            exit::USAGE
        } else {
            exit::ERROR
        };
        Self { message, hint, code }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader went away (`meshctl ... | head`): nothing to report.
            return Self {
                message: String::new(),
                hint: None,
                code: exit::CLOSED_PIPE,
            };
        }
        Self::internal(e.to_string())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        Self::internal(e.to_string())
    }
}

impl From<mesh::telemetry::Error> for CliError {
    fn from(e: mesh::telemetry::Error) -> Self {
        Self::internal(e.to_string())
    }
}
