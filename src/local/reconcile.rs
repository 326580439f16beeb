//! The one place that compares a local resource's desired state with what a runtime found and
//! decides what `up` does about it. `plan --local` shows the decision, `up` carries it out,
//! and both runtimes follow it, so what the plan says is what happens.

use serde::{Serialize, Serializer};

use super::{Live, RuntimeKind, State};

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
    Image {
        from: Option<String>,
        to: String,
    },
    Port {
        from: Option<u16>,
        to: u16,
    },
    /// TLS turned on or off, or a new server certificate.
    Tls {
        to: bool,
    },
}

/// Why, in the words `up` and `plan` print for both runtimes.
impl std::fmt::Display for Replace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Image { from, to } => {
                write!(f, "image {} -> {to}", from.as_deref().unwrap_or("?"))
            }
            Self::Port { from, to } => match from {
                Some(from) => write!(f, "port {from} -> {to}"),
                None => write!(f, "port ? -> {to}"),
            },
            Self::Tls { to: true } => f.write_str("TLS on, or a new certificate"),
            Self::Tls { to: false } => f.write_str("TLS off"),
        }
    }
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

/// Decides what `up` does. `image` is the image the manifest wants (Docker); `port` the host
/// port the resource must end up on when that is already known (the manifest's, or one
/// remembered from an earlier run); `None` keeps whatever port it has.
/// `tls`: the server certificate's fingerprint when the server must run with TLS (empty when
/// not known yet: then only on or off is compared), none when without.
pub fn decide(
    kind: RuntimeKind,
    image: &str,
    live: &Live,
    port: Option<u16>,
    tls: Option<&str>,
) -> Action {
    if live.state == State::Missing {
        return Action::Create;
    }
    let tls_differs = match (tls, live.tls.as_deref()) {
        (None, None) => false,
        (Some(want), Some(have)) => !want.is_empty() && want != have,
        _ => true,
    };
    // A stopped native server reads its settings when it starts; a container's are fixed.
    if tls_differs && !(kind == RuntimeKind::Native && live.state == State::Stopped) {
        return Action::Replace(Replace::Tls { to: tls.is_some() });
    }
    // A container's image is fixed at creation; a native server's binary is whatever is
    // installed, so only Docker compares images.
    if kind == RuntimeKind::Docker && live.image.as_deref() != Some(image) {
        return Action::Replace(Replace::Image {
            from: live.image.clone(),
            to: image.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn live(state: State, port: Option<u16>, image: &str) -> Live {
        Live {
            state,
            port,
            password: None,
            data: None,
            image: Some(image.to_owned()),
            version: None,
            tls: None,
        }
    }

    use RuntimeKind::{Docker, Native};

    #[test]
    fn missing_is_created_on_either_runtime() {
        for kind in [Docker, Native] {
            assert_eq!(
                decide(kind, "postgres:16", &Live::missing(), Some(5432), None),
                Action::Create
            );
        }
    }

    #[test]
    fn a_new_image_replaces_a_container_but_not_a_native_server() {
        let running = live(State::Running, Some(5432), "postgres:15");
        assert_eq!(
            decide(Docker, "postgres:16", &running, Some(5432), None),
            Action::Replace(Replace::Image {
                from: Some("postgres:15".into()),
                to: "postgres:16".into()
            })
        );
        assert_eq!(
            decide(Native, "postgres:16", &running, Some(5432), None),
            Action::NoChange
        );
    }

    #[test]
    fn a_moved_port_replaces_unless_a_native_server_is_stopped() {
        for state in [State::Running, State::Stopped] {
            assert_eq!(
                decide(
                    Docker,
                    "redis:7",
                    &live(state, Some(6379), "redis:7"),
                    Some(6380),
                    None
                ),
                Action::Replace(Replace::Port {
                    from: Some(6379),
                    to: 6380
                })
            );
        }
        assert_eq!(
            decide(
                Native,
                "redis:7",
                &live(State::Running, Some(6379), "redis:7"),
                Some(6380),
                None
            ),
            Action::Replace(Replace::Port {
                from: Some(6379),
                to: 6380
            })
        );
        assert_eq!(
            decide(
                Native,
                "redis:7",
                &live(State::Stopped, Some(6379), "redis:7"),
                Some(6380),
                None
            ),
            Action::Start
        );
    }

    #[test]
    fn tls_on_off_or_a_new_certificate_replaces_a_container() {
        let mut running = live(State::Running, Some(5432), "postgres:16");
        let on = |d: Action| d == Action::Replace(Replace::Tls { to: true });
        assert!(on(decide(Docker, "postgres:16", &running, None, Some(""))));
        assert!(on(decide(
            Native,
            "postgres:16",
            &running,
            None,
            Some("ab")
        )));
        running.tls = Some("ab".into());
        assert_eq!(
            decide(Docker, "postgres:16", &running, None, Some("ab")),
            Action::NoChange
        );
        // Unknown yet (plan before the first TLS up): on is on.
        assert_eq!(
            decide(Docker, "postgres:16", &running, None, Some("")),
            Action::NoChange
        );
        assert!(on(decide(
            Docker,
            "postgres:16",
            &running,
            None,
            Some("cd")
        )));
        assert_eq!(
            decide(Docker, "postgres:16", &running, None, None),
            Action::Replace(Replace::Tls { to: false })
        );
        // A stopped native server reads its settings when it starts.
        running.state = State::Stopped;
        assert_eq!(
            decide(Native, "postgres:16", &running, None, None),
            Action::Start
        );
    }

    #[test]
    fn stopped_starts_and_running_is_left_alone() {
        let stopped = live(State::Stopped, Some(6379), "redis:7");
        let running = live(State::Running, Some(6379), "redis:7");
        for kind in [Docker, Native] {
            assert_eq!(decide(kind, "redis:7", &stopped, None, None), Action::Start);
            assert_eq!(
                decide(kind, "redis:7", &running, None, None),
                Action::NoChange
            );
            assert_eq!(
                decide(kind, "redis:7", &running, Some(6379), None),
                Action::NoChange
            );
        }
    }

    #[test]
    fn the_manifest_port_wins_then_the_remembered_then_the_existing() {
        assert_eq!(port(Some(1), Some(2), Some(3)), Some(1));
        assert_eq!(port(None, Some(2), Some(3)), Some(2));
        assert_eq!(port(None, None, Some(3)), Some(3));
        assert_eq!(port(None, None, None), None);
    }

    #[test]
    fn actions_serialise_as_their_labels() {
        assert_eq!(
            serde_json::to_string(&Action::NoChange).ok().as_deref(),
            Some("\"no change\"")
        );
    }
}
