//! A small blocking connection pool: idle clients in a `Mutex<Vec<Client>>`, waiters on a
//! `Condvar`, connections opened lazily up to a maximum and dropped when found closed.

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

/// How long a request waits for a free connection before giving up.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections to the database as the app role, shared by the worker threads.
pub struct Pool {
    config: postgres::Config,
    max_size: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

/// A client checked out of the pool; it goes back when dropped.
pub struct PooledClient<'pool> {
    pool: &'pool Pool,
    client: Option<Client>,
}

/// Failure to check a connection out of the pool.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Opening a new connection failed.
    #[error("failed to connect as the app role")]
    Connect(#[source] postgres::Error),
    /// Every connection stayed busy for the whole checkout timeout.
    #[error("no free database connection within {0:?}")]
    Timeout(Duration),
}

struct PoolState {
    idle: Vec<Client>,
    open: usize,
}

impl Pool {
    /// A pool that opens at most `max_size` connections with `config`.
    pub fn new(config: postgres::Config, max_size: usize) -> Self {
        Pool {
            config,
            max_size: max_size.max(1),
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// Checks out an idle client, opens a new one if below the maximum, or waits.
    pub fn get(&self) -> Result<PooledClient<'_>, PoolError> {
        let deadline = Instant::now() + CHECKOUT_TIMEOUT;
        let mut state = self.lock();
        loop {
            if let Some(client) = state.idle.pop() {
                return Ok(self.wrap(client));
            }
            if state.open < self.max_size {
                state.open += 1;
                drop(state);
                // Connect outside the lock so a slow connect does not stall other checkouts.
                return match self.config.connect(NoTls) {
                    Ok(client) => Ok(self.wrap(client)),
                    Err(error) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(PoolError::Connect(error))
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(PoolError::Timeout(CHECKOUT_TIMEOUT));
            }
            state = self
                .returned
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn wrap(&self, client: Client) -> PooledClient<'_> {
        PooledClient {
            pool: self,
            client: Some(client),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding the lock cannot leave the state inconsistent: every update is
        // a single push, pop or counter change.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Deref for PooledClient<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client.as_ref().expect("client is present until drop")
    }
}

impl DerefMut for PooledClient<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("client is present until drop")
    }
}

impl Drop for PooledClient<'_> {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let mut state = self.pool.lock();
        if client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(client);
        }
        drop(state);
        self.pool.returned.notify_one();
    }
}
