//! A bounded job queue served by dedicated worker threads, each owning its own state (a loaded
//! model). Urgent jobs (a user is waiting) go before background ones (indexing). A full queue
//! refuses the job at once, so the caller can answer 503 instead of building a backlog.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

struct Jobs<J> {
    urgent: VecDeque<J>,
    background: VecDeque<J>,
    closed: bool,
    /// Background jobs being worked on now.
    background_running: usize,
}

struct Shared<J> {
    jobs: Mutex<Jobs<J>>,
    ready: Condvar,
    capacity: usize,
    /// How many workers may run background jobs at once: all but one when there are several,
    /// so a job someone waits on never queues behind background work that holds every worker.
    background_limit: usize,
}

/// The sending side. Dropping the last handle stops the workers once the queue is drained.
pub struct WorkQueue<J> {
    shared: Arc<Shared<J>>,
}

/// The queue was full; the job is handed back.
#[derive(Debug)]
pub struct Full<J>(pub J);

impl<J: Send + 'static> WorkQueue<J> {
    /// Starts `workers` threads. Each makes its own worker state with `make` on its first job (so
    /// a slow model load holds up neither start-up nor a server that never uses the model), then
    /// runs `run` for every job it takes.
    pub fn start<W, F, R>(name: &str, workers: usize, capacity: usize, make: F, run: R) -> Self
    where
        F: Fn() -> W + Send + Sync + 'static,
        R: Fn(&mut W, J) + Send + Sync + 'static,
    {
        Self::start_batched(name, workers, capacity, 1, make, move |w, jobs| {
            for j in jobs {
                run(w, j);
            }
        })
    }

    /// As `start`, but a worker takes up to `urgent_batch` urgent jobs at once (all those
    /// waiting, as many as that) and runs them together: what users wait on concurrently is
    /// served in one pass (one forward pass of a model for several texts). A background job is
    /// taken alone, only when no urgent one waits, and with several workers never by the last
    /// free one: background work scales with `workers - 1`, and an urgent job finds a worker
    /// at once.
    pub fn start_batched<W, F, R>(
        name: &str,
        workers: usize,
        capacity: usize,
        urgent_batch: usize,
        make: F,
        run: R,
    ) -> Self
    where
        F: Fn() -> W + Send + Sync + 'static,
        R: Fn(&mut W, Vec<J>) + Send + Sync + 'static,
    {
        let shared = Arc::new(Shared {
            jobs: Mutex::new(Jobs {
                urgent: VecDeque::new(),
                background: VecDeque::new(),
                closed: false,
                background_running: 0,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            background_limit: workers.max(2) - 1,
        });
        let (make, run) = (Arc::new(make), Arc::new(run));
        let urgent_batch = urgent_batch.max(1);
        for i in 0..workers.max(1) {
            let (shared, make, run) = (shared.clone(), make.clone(), run.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    // The worker (a model) is made on the first job, so an idle server pays
                    // nothing for a model it never uses.
                    let mut worker = None;
                    while let Some((jobs, background)) = next_jobs(&shared, urgent_batch) {
                        run(worker.get_or_insert_with(|| make()), jobs);
                        if background {
                            if let Ok(mut jobs) = shared.jobs.lock() {
                                jobs.background_running -= 1;
                            }
                            // Another background job may start now.
                            shared.ready.notify_all();
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("could not start worker thread {name}-{i}: {e}");
            }
        }
        WorkQueue { shared }
    }

    /// Queues a job, or hands it back when the queue holds `capacity` jobs already.
    pub fn try_push(&self, job: J, urgent: bool) -> Result<(), Full<J>> {
        let Ok(mut jobs) = self.shared.jobs.lock() else {
            return Err(Full(job));
        };
        if jobs.urgent.len() + jobs.background.len() >= self.shared.capacity {
            return Err(Full(job));
        }
        if urgent {
            jobs.urgent.push_back(job);
        } else {
            jobs.background.push_back(job);
        }
        drop(jobs);
        // Every worker looks: the one woken might be one that may not take this job.
        self.shared.ready.notify_all();
        Ok(())
    }

    /// Jobs waiting (not counting those being worked on).
    pub fn waiting(&self) -> usize {
        self.shared
            .jobs
            .lock()
            .map(|j| j.urgent.len() + j.background.len())
            .unwrap_or(0)
    }
}

/// The next jobs to run: up to `urgent_batch` urgent ones when any wait, else one background
/// job if fewer than `background_limit` run (the flag says it is one); `None` once the queue is
/// closed and drained.
fn next_jobs<J>(shared: &Shared<J>, urgent_batch: usize) -> Option<(Vec<J>, bool)> {
    let mut jobs = shared.jobs.lock().ok()?;
    loop {
        if !jobs.urgent.is_empty() {
            let n = jobs.urgent.len().min(urgent_batch);
            return Some((jobs.urgent.drain(..n).collect(), false));
        }
        if jobs.background_running < shared.background_limit {
            if let Some(j) = jobs.background.pop_front() {
                jobs.background_running += 1;
                return Some((vec![j], true));
            }
        }
        if jobs.closed && jobs.background.is_empty() {
            return None;
        }
        jobs = shared.ready.wait(jobs).ok()?;
    }
}

impl<J> Drop for WorkQueue<J> {
    fn drop(&mut self) {
        if let Ok(mut jobs) = self.shared.jobs.lock() {
            jobs.closed = true;
        }
        self.shared.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{self, Receiver, Sender};

    /// A queue whose job 0 (pushed as background work and already taken when this returns)
    /// holds its worker until the gate is opened; every job reports its number when done.
    fn gated(workers: usize, capacity: usize) -> (WorkQueue<u32>, Sender<()>, Receiver<u32>) {
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let (done_tx, done_rx) = mpsc::channel::<u32>();
        let done_tx = Mutex::new(done_tx);
        let q = WorkQueue::start(
            "t",
            workers,
            capacity,
            || (),
            move |_, j: u32| {
                if j == 0 {
                    let _ = gate.lock().map(|g| g.recv());
                }
                let _ = done_tx.lock().map(|d| d.send(j));
            },
        );
        q.try_push(0, false).expect("queued");
        while q.waiting() > 0 {
            std::thread::yield_now();
        }
        (q, gate_tx, done_rx)
    }

    #[test]
    fn full_queue_refuses_and_urgent_jobs_go_first() {
        let (q, gate_tx, done_rx) = gated(1, 2);
        q.try_push(1, false).expect("queued");
        q.try_push(2, true).expect("queued");
        assert!(matches!(q.try_push(3, true), Err(Full(3))), "capacity 2");
        gate_tx.send(()).expect("gate");
        let order: Vec<u32> = (0..3).map(|_| done_rx.recv().expect("job done")).collect();
        assert_eq!(order, [0, 2, 1]);
    }

    #[test]
    fn urgent_jobs_waiting_together_are_run_together() {
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let (done_tx, done_rx) = mpsc::channel::<Vec<u32>>();
        let done_tx = Mutex::new(done_tx);
        let q = WorkQueue::start_batched(
            "t",
            1,
            10,
            2,
            || (),
            move |_, jobs: Vec<u32>| {
                if jobs == [0] {
                    let _ = gate.lock().map(|g| g.recv());
                }
                let _ = done_tx.lock().map(|d| d.send(jobs));
            },
        );
        q.try_push(0, false).expect("queued");
        while q.waiting() > 0 {
            std::thread::yield_now();
        }
        for (j, urgent) in [(1, false), (2, true), (3, true), (4, true)] {
            q.try_push(j, urgent).expect("queued");
        }
        gate_tx.send(()).expect("gate");
        let batches: Vec<Vec<u32>> = (0..4).map(|_| done_rx.recv().expect("done")).collect();
        assert_eq!(batches, [vec![0], vec![2, 3], vec![4], vec![1]]);
    }

    /// Two workers, one busy with background work: a second background job waits, and an urgent
    /// job is run at once by the free worker.
    #[test]
    fn background_work_never_takes_the_last_free_worker() {
        let (q, gate_tx, done_rx) = gated(2, 10);
        q.try_push(1, false).expect("queued");
        q.try_push(2, true).expect("queued");
        let first = done_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the urgent job ran while the background one held a worker");
        assert_eq!(first, 2);
        assert_eq!(q.waiting(), 1, "the second background job still waits");
        assert!(done_rx
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_err());
        gate_tx.send(()).expect("gate");
        let rest: Vec<u32> = (0..2).map(|_| done_rx.recv().expect("done")).collect();
        assert_eq!(rest, [0, 1]);
    }
}
