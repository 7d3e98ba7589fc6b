//! Striped locks that make changes to one job happen one at a time (register, stop), while
//! changes to different jobs proceed in parallel.

use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 64;

pub(crate) struct JobLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for JobLocks {
    fn default() -> Self {
        JobLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl JobLocks {
    /// Waits for the lock covering `(namespace, job_id)`.
    pub async fn lock(&self, namespace: &str, job_id: &str) -> MutexGuard<'_, ()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (namespace, job_id).hash(&mut hasher);
        self.stripes[hasher.finish() as usize % STRIPES]
            .lock()
            .await
    }
}
