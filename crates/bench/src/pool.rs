//! A bounded pool of keep-alive connections shared by many tasks: thousands
//! of simulated people each lease a [`Link`] for one request at a time, so
//! the server sees at most the pool's size in HTTP connections. Each slot
//! keeps its own [`ConnStats`], merged when the pool is drained.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::BenchError;
use crate::http::{Link, Target};
use crate::stats::{ConnStats, Totals};

/// One pooled connection and the statistics of the requests sent on it.
pub(crate) struct Slot {
    pub link: Link,
    pub stats: ConnStats,
}

/// `size` connections, leased one at a time.
pub(crate) struct Pool {
    gate: Semaphore,
    slots: Mutex<Vec<Slot>>,
}

/// A leased slot; goes back to the pool when dropped.
pub(crate) struct Lease<'a> {
    pool: &'a Pool,
    slot: Option<Slot>,
    // Declared last: released only after `drop` has put the slot back.
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    pub fn new(target: &Arc<Target>, size: usize) -> Result<Pool, BenchError> {
        let slots = (0..size)
            .map(|_| Ok(Slot { link: Link::new(target.clone()), stats: ConnStats::new()? }))
            .collect::<Result<Vec<_>, BenchError>>()?;
        Ok(Pool { gate: Semaphore::new(size), slots: Mutex::new(slots) })
    }

    /// Waits for a free slot.
    pub async fn lease(&self) -> Result<Lease<'_>, BenchError> {
        let permit = self.gate.acquire().await.map_err(|_| BenchError::Internal("connection pool closed".into()))?;
        let slot = self.slots.lock().unwrap_or_else(PoisonError::into_inner).pop();
        match slot {
            Some(slot) => Ok(Lease { pool: self, slot: Some(slot), _permit: permit }),
            None => Err(BenchError::Internal("connection pool: a permit without a slot".into())),
        }
    }

    /// Merges the statistics of every slot and starts them afresh (call when
    /// no slot is leased).
    pub fn take_totals(&self) -> Result<Totals, BenchError> {
        let mut totals = Totals::new()?;
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        for slot in slots.iter_mut() {
            let stats = std::mem::replace(&mut slot.stats, ConnStats::new()?);
            totals.add(stats)?;
        }
        Ok(totals)
    }
}

impl Deref for Lease<'_> {
    type Target = Slot;
    fn deref(&self) -> &Slot {
        // Always `Some` until `drop`.
        self.slot.as_ref().unwrap_or_else(|| unreachable!("lease used after drop"))
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Slot {
        self.slot.as_mut().unwrap_or_else(|| unreachable!("lease used after drop"))
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.pool.slots.lock().unwrap_or_else(PoisonError::into_inner).push(slot);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::stats::{Class, Live};
    use hyper::StatusCode;

    #[tokio::test]
    async fn leases_are_bounded_and_returned() {
        let target = Arc::new(Target::resolve("http://127.0.0.1:9").await.unwrap());
        let pool = Pool::new(&target, 2).unwrap();
        let live = Live::default();
        {
            let mut a = pool.lease().await.unwrap();
            let _b = pool.lease().await.unwrap();
            a.stats.response(&live, StatusCode::OK, 10, None, Class::Ok);
            // Both slots are out: a third lease waits.
            let third = tokio::time::timeout(std::time::Duration::from_millis(50), pool.lease()).await;
            assert!(third.is_err());
        }
        let _c = pool.lease().await.unwrap();
        let _d = pool.lease().await.unwrap();
        drop((_c, _d));
        let totals = pool.take_totals().unwrap();
        assert_eq!((totals.requests, totals.ok), (1, 1));
        assert_eq!(pool.take_totals().unwrap().requests, 0);
    }
}
