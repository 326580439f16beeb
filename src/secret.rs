//! Secrets that cannot be printed by accident.

use std::fmt;

/// A password or token. `Debug` and `Display` print `[redacted]`; the only way to the text is
/// [`Secret::expose`], which the few places that hand secrets out (`env`, `run`, the backends
/// talking to a server) call by name.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "[redacted] [redacted] Some([redacted])"
        );
        assert_eq!(s.expose(), "hunter2");
    }
}

impl Secret {
    /// A new random password: 32 characters from `[A-Za-z0-9]` (about 190 bits) from the OS
    /// CSPRNG. Alphanumeric so it survives every URL parser, shell and `.env` reader unquoted.
    pub fn generate() -> Result<Self, getrandom::Error> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut out = String::with_capacity(32);
        let mut buf = [0u8; 64];
        while out.len() < 32 {
            getrandom::fill(&mut buf)?;
            // Rejection sampling keeps the distribution uniform: 248 = 4 * 62.
            out.extend(
                buf.iter()
                    .filter(|b| **b < 248)
                    .map(|b| char::from(ALPHABET[usize::from(*b % 62)]))
                    .take(32 - out.len()),
            );
        }
        Ok(Self(out))
    }
}

#[cfg(test)]
mod generate_tests {
    use super::Secret;

    #[test]
    fn generated_passwords_are_long_alphanumeric_and_distinct() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_eq!(a.expose().len(), 32);
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
