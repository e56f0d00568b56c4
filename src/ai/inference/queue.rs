//! A bounded job queue served by dedicated worker threads, each holding its worker state (a
//! model). Urgent jobs (a user is waiting) and background ones (indexing) have threads of their
//! own: background threads run at the lowest CPU priority, so they use CPU that nothing else
//! wants and a turn's embedding does not share a core with them, and they pause before each of
//! their model's matmuls while urgent work waits or runs (or a turn holds the queue). A full queue
//! refuses the job at once, so the caller can answer 503 instead of building a backlog.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

struct Jobs<J> {
    urgent: VecDeque<J>,
    background: VecDeque<J>,
    closed: bool,
}

struct Shared<J> {
    jobs: Mutex<Jobs<J>>,
    ready: Condvar,
    capacity: usize,
    /// Whether threads of their own run the background jobs; if not, urgent threads do, when no
    /// urgent job waits.
    background_threads: bool,
    urgent: Arc<UrgentWork>,
}

/// How many urgent jobs are queued or running; background work pauses while there are any
/// (see `yield_to_urgent`).
#[derive(Default)]
struct UrgentWork {
    pending: Mutex<usize>,
    calm: Condvar,
}

/// The longest a background job waits at one pause point, so that it still makes progress
/// under a steady stream of urgent work.
const MAX_PAUSE: Duration = Duration::from_millis(250);

impl UrgentWork {
    fn add(&self, n: usize) {
        if let Ok(mut p) = self.pending.lock() {
            *p += n;
        }
    }

    fn done(&self, n: usize) {
        if let Ok(mut p) = self.pending.lock() {
            *p = p.saturating_sub(n);
            if *p == 0 {
                self.calm.notify_all();
            }
        }
    }

    /// Waits until no urgent job is queued or running, or `MAX_PAUSE` has passed.
    fn wait_calm(&self) {
        let deadline = Instant::now() + MAX_PAUSE;
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        while *pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            pending = match self.calm.wait_timeout(pending, left) {
                Ok((p, _)) => p,
                Err(_) => return,
            };
        }
    }
}

/// See `WorkQueue::hold_urgent`.
pub struct UrgentHold(Arc<UrgentWork>);

impl Drop for UrgentHold {
    fn drop(&mut self) {
        self.0.done(1);
    }
}

thread_local! {
    /// On a background worker thread, its queue's urgent work.
    static YIELDS_TO: RefCell<Option<Arc<UrgentWork>>> = const { RefCell::new(None) };
}

/// A pause point for long background work (a model calls it before each matmul): on a
/// background worker thread it waits while urgent jobs of its queue are queued or running (at
/// most `MAX_PAUSE`), so that a turn's embedding has the CPU — and the memory bandwidth and
/// caches a niced thread still shares — to itself. Elsewhere it returns at once.
pub fn yield_to_urgent() {
    YIELDS_TO.with(|u| {
        if let Some(u) = u.borrow().as_ref() {
            u.wait_calm();
        }
    });
}

/// How many threads serve each lane.
#[derive(Clone, Copy, Debug)]
pub struct Threads {
    /// Threads that run only urgent jobs, at normal priority (at least one).
    pub urgent: usize,
    /// Threads that run only background jobs, at the lowest CPU priority. With none, the urgent
    /// threads run background jobs when no urgent job waits.
    pub background: usize,
    /// How low the background threads' priority is.
    pub background_priority: BackgroundPriority,
}

/// The CPU priority of background threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackgroundPriority {
    /// Linux's `SCHED_IDLE`: the thread runs only on a core nothing else wants, and gives it up
    /// the moment anything else wakes there. On a fully busy machine it waits.
    #[default]
    Idle,
    /// nice 19: it still gets ~1.5% of a contended core, but a waking thread may wait for the
    /// end of its time slice (a millisecond or two) before it gets the core.
    Low,
}

/// Which lane a worker thread serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    Urgent,
    Background,
}

/// The sending side. Dropping the last handle stops the workers once the queue is drained.
pub struct WorkQueue<J> {
    shared: Arc<Shared<J>>,
}

/// The queue was full; the job is handed back.
#[derive(Debug)]
pub struct Full<J>(pub J);

impl<J: Send + 'static> WorkQueue<J> {
    /// Starts `workers` threads that run every job, urgent first. Each makes its own worker
    /// state with `make` on its first job (so a slow model load holds up neither start-up nor a
    /// server that never uses the model), then runs `run` for every job it takes.
    pub fn start<W, F, R>(name: &str, workers: usize, capacity: usize, make: F, run: R) -> Self
    where
        F: Fn() -> W + Send + Sync + 'static,
        R: Fn(&mut W, J) + Send + Sync + 'static,
    {
        let threads = Threads {
            urgent: workers,
            background: 0,
            background_priority: BackgroundPriority::default(),
        };
        Self::start_batched(name, threads, capacity, 1, make, move |w, jobs| {
            for j in jobs {
                run(w, j);
            }
        })
    }

    /// As `start`, with background threads of their own (see `Threads`), and an urgent thread
    /// takes up to `urgent_batch` urgent jobs at once (all those waiting, as many as that) and
    /// runs them together: what users wait on concurrently is served in one pass (one forward
    /// pass of a model for several texts). A background job is taken alone.
    pub fn start_batched<W, F, R>(
        name: &str,
        threads: Threads,
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
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            background_threads: threads.background > 0,
            urgent: Arc::default(),
        });
        let (make, run) = (Arc::new(make), Arc::new(run));
        let urgent_batch = urgent_batch.max(1);
        let lanes = std::iter::repeat_n(Lane::Urgent, threads.urgent.max(1))
            .chain(std::iter::repeat_n(Lane::Background, threads.background));
        for (i, lane) in lanes.enumerate() {
            let (shared, make, run) = (shared.clone(), make.clone(), run.clone());
            let thread_name = match lane {
                Lane::Urgent => format!("{name}-{i}"),
                Lane::Background => format!("{name}-bg-{i}"),
            };
            let spawned = std::thread::Builder::new()
                .name(thread_name.clone())
                .spawn(move || {
                    if lane == Lane::Background {
                        if !lower_own_priority(threads.background_priority) {
                            tracing::warn!(
                                "{}: could not lower this thread's CPU priority; background \
                                 work competes with turns for the CPU",
                                std::thread::current().name().unwrap_or("worker")
                            );
                        }
                        YIELDS_TO.with(|u| *u.borrow_mut() = Some(shared.urgent.clone()));
                    }
                    // The worker (a model) is made on the first job, so an idle server pays
                    // nothing for a model it never uses.
                    let mut worker = None;
                    while let Some((jobs, urgent)) = next_jobs(&shared, lane, urgent_batch) {
                        let n = jobs.len();
                        run(worker.get_or_insert_with(|| make()), jobs);
                        if urgent {
                            shared.urgent.done(n);
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("could not start worker thread {thread_name}: {e}");
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
            self.shared.urgent.add(1);
        } else {
            jobs.background.push_back(job);
        }
        drop(jobs);
        // Every worker looks: the one woken might serve the other lane.
        self.shared.ready.notify_all();
        Ok(())
    }

    /// Counts as urgent work until dropped, so that background work pauses meanwhile: held by
    /// whatever a user waits on around its urgent jobs (a whole chat turn: its embedding, then
    /// its reads, the model and its writes), since a background thread busy on the other core
    /// still slows it down through the caches and memory they share.
    pub fn hold_urgent(&self) -> UrgentHold {
        self.shared.urgent.add(1);
        UrgentHold(self.shared.urgent.clone())
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

/// Gives the calling thread a background priority: `SCHED_IDLE`, or nice 19 (also the fallback
/// should `SCHED_IDLE` be refused). Any thread may lower its own priority; only a privileged
/// one could raise it back, which these threads never need. On Linux both are the thread's own,
/// not the process's.
#[cfg(target_os = "linux")]
fn lower_own_priority(priority: BackgroundPriority) -> bool {
    // SAFETY: plain system calls on the calling thread (pid 0 and its own id).
    unsafe {
        if priority == BackgroundPriority::Idle {
            let param = libc::sched_param { sched_priority: 0 };
            if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0 {
                return true;
            }
        }
        let tid = libc::gettid() as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, LOWEST_NICE) == 0
    }
}

/// The nice value of `BackgroundPriority::Low`.
#[cfg(target_os = "linux")]
const LOWEST_NICE: libc::c_int = 19;

#[cfg(not(target_os = "linux"))]
fn lower_own_priority(_: BackgroundPriority) -> bool {
    false
}

/// The next jobs for a thread of `lane`: up to `urgent_batch` urgent ones, or one background
/// job (and whether they are urgent); `None` once the queue is closed and drained.
fn next_jobs<J>(shared: &Shared<J>, lane: Lane, urgent_batch: usize) -> Option<(Vec<J>, bool)> {
    let mut jobs = shared.jobs.lock().ok()?;
    let takes_background = lane == Lane::Background || !shared.background_threads;
    loop {
        if lane == Lane::Urgent && !jobs.urgent.is_empty() {
            let n = jobs.urgent.len().min(urgent_batch);
            return Some((jobs.urgent.drain(..n).collect(), true));
        }
        if takes_background {
            if let Some(j) = jobs.background.pop_front() {
                return Some((vec![j], false));
            }
        }
        // Nothing this thread may take waits: once closed, it is done.
        if jobs.closed {
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
    use std::time::Duration;

    /// A finished job: its number, and the background priority its thread ran at, if any.
    type Done = (u32, Option<BackgroundPriority>);

    #[cfg(target_os = "linux")]
    fn at_lowest_priority() -> Option<BackgroundPriority> {
        // SAFETY: reads the calling thread's own policy and priority.
        unsafe {
            if libc::sched_getscheduler(0) == libc::SCHED_IDLE {
                Some(BackgroundPriority::Idle)
            } else if libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
                == LOWEST_NICE
            {
                Some(BackgroundPriority::Low)
            } else {
                None
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn at_lowest_priority() -> Option<BackgroundPriority> {
        None
    }

    /// A queue whose job 0 (pushed as background work and already taken when this returns)
    /// holds its thread until the gate is opened; every job reports when it is done.
    fn gated(threads: Threads, capacity: usize) -> (WorkQueue<u32>, Sender<()>, Receiver<Done>) {
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let done_tx = Mutex::new(done_tx);
        let q = WorkQueue::start_batched(
            "t",
            threads,
            capacity,
            1,
            || (),
            move |_, jobs: Vec<u32>| {
                for j in jobs {
                    if j == 0 {
                        let _ = gate.lock().map(|g| g.recv());
                    }
                    let _ = done_tx.lock().map(|d| d.send((j, at_lowest_priority())));
                }
            },
        );
        q.try_push(0, false).expect("queued");
        while q.waiting() > 0 {
            std::thread::yield_now();
        }
        (q, gate_tx, done_rx)
    }

    const SHARED: Threads = Threads {
        urgent: 1,
        background: 0,
        background_priority: BackgroundPriority::Idle,
    };

    #[test]
    fn full_queue_refuses_and_urgent_jobs_go_first() {
        let (q, gate_tx, done_rx) = gated(SHARED, 2);
        q.try_push(1, false).expect("queued");
        q.try_push(2, true).expect("queued");
        assert!(matches!(q.try_push(3, true), Err(Full(3))), "capacity 2");
        gate_tx.send(()).expect("gate");
        let order: Vec<u32> = (0..3)
            .map(|_| done_rx.recv().expect("job done").0)
            .collect();
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
            SHARED,
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

    /// With a background thread, background work runs there, at the lowest CPU priority, and
    /// only there: while it is busy an urgent job runs at once on the urgent thread, at normal
    /// priority, and the next background job waits for its own thread rather than taking the
    /// urgent one.
    #[test]
    fn background_work_has_its_own_lowest_priority_thread() {
        for priority in [BackgroundPriority::Idle, BackgroundPriority::Low] {
            let threads = Threads {
                urgent: 1,
                background: 1,
                background_priority: priority,
            };
            let (q, gate_tx, done_rx) = gated(threads, 10);
            q.try_push(1, false).expect("queued");
            q.try_push(2, true).expect("queued");
            let first = done_rx
                .recv_timeout(Duration::from_secs(5))
                .expect("the urgent job ran while the background one held its thread");
            assert_eq!(first, (2, None), "urgent work runs at normal priority");
            assert_eq!(q.waiting(), 1, "the second background job still waits");
            assert!(done_rx.recv_timeout(Duration::from_millis(200)).is_err());
            gate_tx.send(()).expect("gate");
            let rest: Vec<Done> = (0..2).map(|_| done_rx.recv().expect("done")).collect();
            let lowered = cfg!(target_os = "linux").then_some(priority);
            assert_eq!(rest, [(0, lowered), (1, lowered)]);
        }
    }

    /// Background work that reaches a pause point while an urgent job runs waits for it to
    /// finish; with no urgent work it goes straight through.
    #[test]
    fn background_work_pauses_while_urgent_work_runs() {
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let (done_tx, done_rx) = mpsc::channel::<u32>();
        let done_tx = Mutex::new(done_tx);
        let threads = Threads {
            urgent: 1,
            background: 1,
            background_priority: BackgroundPriority::Idle,
        };
        let q = WorkQueue::start_batched(
            "t",
            threads,
            10,
            1,
            || (),
            move |_, jobs: Vec<u32>| {
                for j in jobs {
                    match j {
                        // Urgent: held until the gate opens.
                        0 => {
                            let _ = gate.lock().map(|g| g.recv());
                        }
                        _ => yield_to_urgent(),
                    }
                    let _ = done_tx.lock().map(|d| d.send(j));
                }
            },
        );
        q.try_push(1, false).expect("queued");
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(5)), Ok(1));
        q.try_push(0, true).expect("queued");
        while q.waiting() > 0 {
            std::thread::yield_now();
        }
        q.try_push(2, false).expect("queued");
        assert!(
            done_rx.recv_timeout(MAX_PAUSE / 2).is_err(),
            "background work went on while an urgent job ran"
        );
        gate_tx.send(()).expect("gate");
        let rest: Vec<u32> = (0..2)
            .map(|_| done_rx.recv_timeout(Duration::from_secs(5)).expect("done"))
            .collect();
        assert_eq!(rest, [0, 2]);
        // On any other thread a pause point never waits.
        let started = Instant::now();
        yield_to_urgent();
        assert!(started.elapsed() < MAX_PAUSE);
    }
}
