//! The planner contract every backend follows: pure, synchronous planning against a snapshot of
//! what the control plane holds, and one shared loop that reads until the planner needs nothing
//! more.
//!
//! A backend splits a change into three steps, as kube-core builds requests that kube-client
//! sends:
//! 1. [`Planner::refuse`]: validation and the refusal of what the mesh cannot do, before any read;
//! 2. [`Planner::reads`]: what else must be read, given what the snapshot already holds (a read can
//!    depend on an earlier one, so this is asked again after each round of reads);
//! 3. [`Planner::plan`]: the ordered writes, from the snapshot alone.
//!
//! [`plan_with_reads`] runs these steps against a [`ReadSource`] (the backend's client); the
//! offline renderer and the tests call [`Planner::plan`] on a snapshot they filled by hand.

use std::{fmt, future::Future};

use crate::{Capabilities, Change, Error, MeshKind, Plan, Result};

/// How many rounds of reads [`plan_with_reads`] allows before it gives up: every operation of
/// every backend settles in three.
pub const MAX_READ_ROUNDS: usize = 8;

/// A mesh's planner: no I/O, the same shape for every mesh.
///
/// ```
/// use mesh_core::{Capabilities, Change, MeshKind, Plan, Planner, Result};
/// /// A planner that reads nothing and writes nothing.
/// struct Nothing;
/// impl Planner for Nothing {
///     type Read = String;
///     type Snapshot = ();
///     fn mesh(&self) -> MeshKind { MeshKind::Istio }
///     fn capabilities(&self) -> Capabilities { Capabilities::new(self.mesh()) }
///     fn refuse(&self, change: &Change) -> Result<()> { change.validate() }
///     fn reads(&self, _: &Change, _: &()) -> Result<Vec<String>> { Ok(Vec::new()) }
///     fn plan(&self, change: &Change, _: &()) -> Result<Plan> { Ok(Plan::for_change(self.mesh(), change)) }
/// }
/// let change = Change::EnableMtls { namespace: "prod".parse().unwrap() };
/// assert!(Nothing.plan(&change, &()).unwrap().writes.is_empty());
/// ```
pub trait Planner: Send + Sync {
    /// One thing to read: an object reference, a config-entry key, ...
    type Read: Clone + PartialEq + fmt::Debug + Send + Sync;
    /// What plans are computed against.
    type Snapshot: Default + Send + Sync;

    /// The mesh this planner plans for.
    fn mesh(&self) -> MeshKind;

    /// What this planner can do, feature by feature, under its configuration.
    fn capabilities(&self) -> Capabilities;

    /// Validates `change` and refuses, with [`Error::Unsupported`], what the mesh cannot do.
    /// Reads nothing.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] or [`Error::Unsupported`].
    fn refuse(&self, change: &Change) -> Result<()>;

    /// What must still be read for `change`, given what `snapshot` holds; empty when planning can
    /// start. Reads already done and found missing may be listed again: the loop skips them.
    ///
    /// # Errors
    /// A refusal that only the reads so far reveal.
    fn reads(&self, change: &Change, snapshot: &Self::Snapshot) -> Result<Vec<Self::Read>>;

    /// Whether `read` may find its type not served at all (an optional CRD): such a read then
    /// finds nothing instead of failing. No read is optional unless a planner says so.
    fn optional(&self, read: &Self::Read) -> bool {
        let _ = read;
        false
    }

    /// The ordered writes of `change` against `snapshot`. Pure.
    ///
    /// # Errors
    /// As [`Planner::refuse`], and [`Error::NotFound`] or [`Error::Conflict`] where the
    /// snapshot makes the change impossible.
    fn plan(&self, change: &Change, snapshot: &Self::Snapshot) -> Result<Plan>;
}

/// Where [`plan_with_reads`] reads from: a backend's client.
pub trait ReadSource<R, S>: Sync {
    /// Reads every one of `reads` into `snapshot`; a missing object is simply not stored.
    fn read_into(&self, reads: &[R], snapshot: &mut S) -> impl Future<Output = Result<()>> + Send;
}

/// Refuses, reads until the planner needs nothing more, and plans.
///
/// # Errors
/// [`Planner::refuse`]'s and [`Planner::plan`]'s errors, the source's read errors, and
/// [`Error::Backend`] when the reads do not settle within [`MAX_READ_ROUNDS`] rounds.
///
/// ```
/// use std::sync::Mutex;
/// use mesh_core::{Capabilities, Change, MeshKind, Plan, Planner, ReadSource, Result};
/// /// Needs "a", then "b" once "a" is known.
/// struct Chain;
/// impl Planner for Chain {
///     type Read = &'static str;
///     type Snapshot = Vec<&'static str>;
///     fn mesh(&self) -> MeshKind { MeshKind::Consul }
///     fn capabilities(&self) -> Capabilities { Capabilities::new(self.mesh()) }
///     fn refuse(&self, _: &Change) -> Result<()> { Ok(()) }
///     fn reads(&self, _: &Change, snap: &Vec<&'static str>) -> Result<Vec<&'static str>> {
///         Ok(if snap.contains(&"a") { vec!["b"] } else { vec!["a"] })
///     }
///     fn plan(&self, change: &Change, _: &Vec<&'static str>) -> Result<Plan> {
///         Ok(Plan::for_change(self.mesh(), change))
///     }
/// }
/// /// Holds "a" only; records what was asked.
/// struct Source(Mutex<Vec<&'static str>>);
/// impl ReadSource<&'static str, Vec<&'static str>> for Source {
///     async fn read_into(&self, reads: &[&'static str], snap: &mut Vec<&'static str>) -> Result<()> {
///         self.0.lock().unwrap().extend(reads);
///         snap.extend(reads.iter().filter(|r| **r == "a"));
///         Ok(())
///     }
/// }
/// let source = Source(Mutex::new(Vec::new()));
/// let change = Change::EnableMtls { namespace: "prod".parse().unwrap() };
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let plan = mesh_core::plan_with_reads(&Chain, &source, &change).await;
/// assert!(plan.is_ok());
/// assert_eq!(*source.0.lock().unwrap(), ["a", "b"]); // "b", missing, is not asked twice
/// # });
/// ```
pub async fn plan_with_reads<P, S>(planner: &P, source: &S, change: &Change) -> Result<Plan>
where
    P: Planner,
    S: ReadSource<P::Read, P::Snapshot>,
{
    planner.refuse(change)?;
    let mut snapshot = P::Snapshot::default();
    let mut done: Vec<P::Read> = Vec::new();
    for _ in 0..MAX_READ_ROUNDS {
        let todo: Vec<P::Read> = planner
            .reads(change, &snapshot)?
            .into_iter()
            .filter(|r| !done.contains(r))
            .collect();
        if todo.is_empty() {
            return planner.plan(change, &snapshot);
        }
        source.read_into(&todo, &mut snapshot).await?;
        done.extend(todo);
    }
    Err(Error::backend(
        planner.mesh(),
        format!(
            "planning {} did not settle after {MAX_READ_ROUNDS} rounds of reads",
            change.operation()
        ),
    ))
}
