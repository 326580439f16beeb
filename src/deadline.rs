//! One bound on waiting, shared by the local runtimes and the cloud: every wait for a
//! database checks the same deadline, so `--timeout` means the whole `up`, not each step.

use std::time::{Duration, Instant};

/// When waiting must end, and the total it was given (for messages).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub total: Duration,
}

impl Deadline {
    pub fn after(total: Duration) -> Self {
        Self {
            at: Instant::now() + total,
            total,
        }
    }
}
