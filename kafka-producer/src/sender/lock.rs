//! The spinning lock the producer's hot paths take the shared state with.

use parking_lot::{Mutex, MutexGuard};

/// Locks `mutex`, spinning briefly before parking. Appends and sender passes hold the state
/// for a microsecond or two at most, while parking and waking cost a syscall on each side
/// (several microseconds, and the parked side's wake-up latency); the spin reads the lock
/// word without writing it, so it does not slow the holder.
pub(crate) fn lock_spinning<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    for _ in 0..SPIN_BEFORE_PARK {
        if !mutex.is_locked()
            && let Some(guard) = mutex.try_lock()
        {
            return guard;
        }
        std::hint::spin_loop();
    }
    mutex.lock()
}

/// Spins of [`lock_spinning`] before it parks (each a pause instruction, tens of
/// nanoseconds: a few microseconds in all).
const SPIN_BEFORE_PARK: u32 = 128;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn spinning_lock_excludes_and_falls_back_to_parking() {
        let counter = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *lock_spinning(&c) += 1;
                    }
                })
            })
            .collect();
        // A holder for longer than the spin: the others park and still get it after.
        {
            let _held = counter.lock();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counter.lock(), 40_000);
    }
}
