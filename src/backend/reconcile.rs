//! The one place that compares a local resource's desired state with what a runtime found and
//! decides what `up` does about it. `plan --local` shows the decision, `up` carries it out,
//! and both runtimes follow it, so what the plan says is what happens.

use serde::{Serialize, Serializer};

use super::{Live, RuntimeKind, Spec, State};

/// What `up` does to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing exists: a new container or server.
    Create,
    /// It exists, stopped, and is as the manifest wants it.
    Start,
    /// It exists but differs: Docker makes a new container on the same volume; a native
    /// server restarts on its new port. The data is kept either way.
    Replace(Replace),
    /// Running as wanted.
    NoChange,
}

/// Why a resource is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replace {
    Image { from: Option<String>, to: String },
    Port { from: Option<u16>, to: u16 },
}

impl Action {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Start => "start",
            Self::Replace(_) => "replace",
            Self::NoChange => "no change",
        }
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label())
    }
}

/// Decides what `up` does. `port` is the host port the resource must end up on when that is
/// already known (the manifest's, or one remembered from an earlier run); `None` keeps
/// whatever port it has.
pub fn decide(kind: RuntimeKind, spec: &Spec<'_>, live: &Live, port: Option<u16>) -> Action {
    if live.state == State::Missing {
        return Action::Create;
    }
    // A container's image is fixed at creation; a native server's binary is whatever is
    // installed, so only Docker compares images.
    if kind == RuntimeKind::Docker && live.image.as_deref() != Some(spec.local.image.as_str()) {
        return Action::Replace(Replace::Image {
            from: live.image.clone(),
            to: spec.local.image.clone(),
        });
    }
    if let Some(to) = port
        && live.port != Some(to)
    {
        // A stopped native server simply starts on the new port; a container's port
        // bindings are fixed at creation.
        if !(kind == RuntimeKind::Native && live.state == State::Stopped) {
            return Action::Replace(Replace::Port {
                from: live.port,
                to,
            });
        }
    }
    match live.state {
        State::Running => Action::NoChange,
        State::Stopped | State::Missing => Action::Start,
    }
}

/// The host port to use: the manifest's, else the one remembered from an earlier run, else
/// the one the existing container or server has. `None`: choose a free one.
pub fn port(manifest: Option<u16>, remembered: Option<u16>, existing: Option<u16>) -> Option<u16> {
    manifest.or(remembered).or(existing)
}
