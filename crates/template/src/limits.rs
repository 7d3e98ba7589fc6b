//! What one execution of a template may use, so that no template — they come from job
//! authors — can exhaust the agent's memory, stack or time. A [`Meter`] is installed on the
//! thread an execution runs on (one render pass, or one `format_json`) and is shared by
//! everything that execution runs, `executeTemplate` included:
//!
//! - steps: every function call, every `{{template}}` entered, every `{{range}}` iteration and
//!   every write of output is a step; at most [`MAX_STEPS`];
//! - `{{range}}` iterations in all: at most [`MAX_ITERATIONS`];
//! - time: the render must end by its deadline ([`TIME_LIMIT`] after it started, across all
//!   its passes), checked every few steps;
//! - memory: every value a function returns is measured. The bytes it newly allocated (its
//!   parts not shared with an existing value) count against [`MAX_VALUE_BYTES`] for the
//!   whole execution; its size counting shared parts each time they appear (what printing or
//!   encoding it would expand to) may not pass [`MAX_VALUE_SIZE`]; and it may not nest more
//!   than [`MAX_DEPTH`] lists and maps deep, so nothing recursing over values runs out of
//!   stack.
//!
//! A limit that is hit stays hit: every later charge fails with the same message, and the
//! render reports that message rather than whatever the template did with the failure.

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::size_of;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gotmpl::Value;

/// Steps one execution may take.
pub(crate) const MAX_STEPS: u64 = 10_000_000;

/// `{{range}}` iterations one execution may run in all, `executeTemplate` included.
pub(crate) const MAX_ITERATIONS: u64 = 1_000_000;

/// Bytes of new values one execution may make in all: 64 MiB.
pub(crate) const MAX_VALUE_BYTES: usize = 64 << 20;

/// The largest one value may be with its shared parts counted each time: 64 MiB.
pub(crate) const MAX_VALUE_SIZE: usize = 64 << 20;

/// How deeply lists and maps may nest in a value.
pub(crate) const MAX_DEPTH: usize = 128;

/// How long one render (all its passes) may take.
pub(crate) const TIME_LIMIT: Duration = Duration::from_secs(10);

/// Steps between two looks at the clock.
const CLOCK_EVERY: u64 = 64;

/// What a value costs beyond its text: one value slot.
const SLOT: usize = size_of::<Value>();

/// What a map entry costs beyond its key's text and its value.
const ENTRY: usize = size_of::<Arc<str>>() + 16;

/// An allocation's header.
const HEADER: usize = 16;

/// The measured size and depth of a list or map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Measure {
    size: usize,
    depth: usize,
}

/// What one execution has used.
struct Meter {
    deadline: Instant,
    steps: u64,
    iterations: u64,
    bytes: usize,
    /// Lists and maps measured before, by address; `keep` holds them so addresses stay unique.
    measured: HashMap<usize, Measure>,
    keep: Vec<Value>,
    exceeded: Option<String>,
}

thread_local! {
    static METER: RefCell<Option<Meter>> = const { RefCell::new(None) };
}

/// The installed meter of this thread; removes it when dropped.
pub(crate) struct Metered(());

impl Metered {
    /// Installs a fresh meter on this thread, with the render's `deadline`.
    pub(crate) fn install(deadline: Instant) -> Metered {
        METER.with(|m| {
            *m.borrow_mut() = Some(Meter {
                deadline,
                steps: 0,
                iterations: 0,
                bytes: 0,
                measured: HashMap::new(),
                keep: Vec::new(),
                exceeded: None,
            });
        });
        Metered(())
    }

    /// Removes the meter, returning the message of the limit that was hit, if one was.
    pub(crate) fn finish(self) -> Option<String> {
        METER
            .with(|m| m.borrow_mut().take())
            .and_then(|meter| meter.exceeded)
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        METER.with(|m| m.borrow_mut().take());
    }
}

/// Runs `f` on this thread's meter; without one (a function called outside any execution)
/// nothing is limited.
fn with_meter(f: impl FnOnce(&mut Meter) -> Result<(), String>) -> Result<(), String> {
    METER.with(|m| match m.try_borrow_mut() {
        Ok(mut meter) => meter.as_mut().map_or(Ok(()), f),
        Err(_) => Err("the template's limits were consulted re-entrantly".to_string()),
    })
}

impl Meter {
    /// Fails with the limit hit before, if any.
    fn check(&self) -> Result<(), String> {
        self.exceeded.clone().map_or(Ok(()), Err)
    }

    /// Records `message` as the limit hit, and fails with it.
    fn exceed(&mut self, message: String) -> Result<(), String> {
        self.exceeded.get_or_insert(message.clone());
        Err(message)
    }

    fn step(&mut self) -> Result<(), String> {
        self.check()?;
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return self.exceed(format!(
                "the template took more than {MAX_STEPS} steps (function calls, template calls, loop iterations and writes); it must do less work"
            ));
        }
        if self.steps.is_multiple_of(CLOCK_EVERY) && Instant::now() > self.deadline {
            return self.exceed(format!(
                "rendering took longer than {} s; the template must do less work",
                TIME_LIMIT.as_secs()
            ));
        }
        Ok(())
    }
}

/// Charges one step.
pub(crate) fn step() -> Result<(), String> {
    with_meter(Meter::step)
}

/// Charges one `{{range}}` iteration (and a step).
pub(crate) fn iteration() -> Result<(), String> {
    with_meter(|meter| {
        meter.step()?;
        meter.iterations += 1;
        if meter.iterations > MAX_ITERATIONS {
            return meter.exceed(format!(
                "the template ran more than {MAX_ITERATIONS} {{{{range}}}} iterations in all (executeTemplate included); it must loop less"
            ));
        }
        Ok(())
    })
}

/// Fails the execution with `message`, a limit the caller enforces itself.
pub(crate) fn exceed(message: String) -> String {
    let _ = with_meter(|meter| meter.exceed(message.clone()));
    message
}

/// Records the execution's value bytes as used up, for a value refused for lack of them, and
/// returns the message.
pub(crate) fn out_of_bytes() -> String {
    exceed(bytes_message())
}

/// Fails unless a result of about `estimate` bytes fits in one value and in what is left of
/// the execution's value bytes. For functions that would allocate before they could be
/// measured.
pub(crate) fn reserve(estimate: usize) -> Result<(), String> {
    if estimate > MAX_VALUE_SIZE {
        return Err(format!(
            "the result would be larger than {} MiB",
            MAX_VALUE_SIZE >> 20
        ));
    }
    with_meter(|meter| {
        meter.check()?;
        if meter.bytes.saturating_add(estimate) > MAX_VALUE_BYTES {
            return meter.exceed(bytes_message());
        }
        Ok(())
    })
}

/// The bytes a new value may still take: the smaller of one value's limit and what is left
/// of the execution's.
pub(crate) fn remaining() -> usize {
    let mut left = MAX_VALUE_SIZE;
    let _ = with_meter(|meter| {
        left = left.min(MAX_VALUE_BYTES.saturating_sub(meter.bytes));
        Ok(())
    });
    left
}

/// Measures a value a function returned: charges the bytes it newly allocated, and fails if
/// it is too large or too deep.
pub(crate) fn account(value: &Value) -> Result<(), String> {
    with_meter(|meter| {
        meter.check()?;
        let mut new_bytes = 0;
        if let Err(message) = measure(meter, value, &mut new_bytes) {
            return meter.exceed(message);
        }
        meter.bytes = meter.bytes.saturating_add(new_bytes);
        if meter.bytes > MAX_VALUE_BYTES {
            return meter.exceed(bytes_message());
        }
        Ok(())
    })
}

fn bytes_message() -> String {
    format!(
        "the values the template made add up to more than {} MiB; it must build less",
        MAX_VALUE_BYTES >> 20
    )
}

fn depth_message() -> String {
    format!("values may nest at most {MAX_DEPTH} lists and maps deep")
}

fn size_message() -> String {
    format!(
        "a value would be larger than {} MiB counting the parts it repeats",
        MAX_VALUE_SIZE >> 20
    )
}

/// A part of a value only this value holds: made by the call that returned it.
fn is_new<T: ?Sized>(part: &Arc<T>) -> bool {
    Arc::strong_count(part) == 1
}

/// A list or map being measured.
struct Open<'a> {
    node: &'a Value,
    children: Children<'a>,
    measure: Measure,
}

enum Children<'a> {
    List(std::slice::Iter<'a, Value>),
    Map(std::collections::btree_map::Iter<'a, Arc<str>, Value>),
}

/// What measuring one value found: a leaf's or a known container's measure, or a container
/// to open.
enum Found<'a> {
    Done(Measure),
    Open(Open<'a>),
}

/// Walks `value` without recursion, adding the bytes of its new parts to `new_bytes`.
/// Containers measured before are not walked again.
fn measure(meter: &mut Meter, value: &Value, new_bytes: &mut usize) -> Result<Measure, String> {
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut found = look(meter, value, new_bytes);
    loop {
        let done = match found {
            Found::Open(open) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(depth_message());
                }
                stack.push(open);
                None
            }
            Found::Done(measure) => Some(measure),
        };
        if let Some(child) = done {
            let Some(parent) = stack.last_mut() else {
                return Ok(child);
            };
            parent.measure.size = parent.measure.size.saturating_add(child.size);
            parent.measure.depth = parent.measure.depth.max(child.depth + 1);
            if parent.measure.size > MAX_VALUE_SIZE {
                return Err(size_message());
            }
            if parent.measure.depth > MAX_DEPTH {
                return Err(depth_message());
            }
        }
        let Some(open) = stack.last_mut() else {
            return Err("measuring a value lost its place".to_string());
        };
        let next = match &mut open.children {
            Children::List(items) => items.next(),
            Children::Map(entries) => entries.next().map(|(key, v)| {
                if is_new(key) {
                    *new_bytes = new_bytes.saturating_add(key.len());
                }
                open.measure.size = open.measure.size.saturating_add(key.len() + ENTRY);
                v
            }),
        };
        found = match next {
            Some(child) => look(meter, child, new_bytes),
            None => {
                let Some(closed) = stack.pop() else {
                    return Err("measuring a value lost its place".to_string());
                };
                if let Some(key) = address(closed.node) {
                    meter.measured.insert(key, closed.measure);
                    meter.keep.push(closed.node.clone());
                }
                Found::Done(closed.measure)
            }
        };
    }
}

/// The measure of a leaf or of a container measured before, or the container to walk.
fn look<'a>(meter: &Meter, value: &'a Value, new_bytes: &mut usize) -> Found<'a> {
    if let Some(measure) = address(value).and_then(|key| meter.measured.get(&key)) {
        return Found::Done(*measure);
    }
    let leaf = |size| Found::Done(Measure { size, depth: 0 });
    match value {
        Value::String(s) => {
            if is_new(s) {
                *new_bytes = new_bytes.saturating_add(HEADER + s.len());
            }
            leaf(SLOT + s.len())
        }
        Value::List(items) => {
            if is_new(items) {
                *new_bytes = new_bytes.saturating_add(HEADER + items.len().saturating_mul(SLOT));
            }
            Found::Open(Open {
                node: value,
                children: Children::List(items.iter()),
                measure: Measure {
                    size: SLOT,
                    depth: 1,
                },
            })
        }
        Value::Map(entries) => {
            if is_new(entries) {
                *new_bytes =
                    new_bytes.saturating_add(HEADER + entries.len().saturating_mul(SLOT + ENTRY));
            }
            Found::Open(Open {
                node: value,
                children: Children::Map(entries.iter()),
                measure: Measure {
                    size: SLOT,
                    depth: 1,
                },
            })
        }
        _ => leaf(SLOT),
    }
}

/// The address identifying a list or map.
fn address(value: &Value) -> Option<usize> {
    match value {
        Value::List(items) => Some(Arc::as_ptr(items) as *const Value as usize),
        Value::Map(entries) => Some(Arc::as_ptr(entries) as usize),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    fn later() -> Instant {
        Instant::now() + TIME_LIMIT
    }

    #[test]
    fn without_a_meter_nothing_is_limited() {
        assert_eq!(step(), Ok(()));
        assert_eq!(account(&value::string("x".repeat(100 << 20))), Ok(()));
    }

    #[test]
    fn new_bytes_are_charged_and_shared_ones_are_not() {
        let metered = Metered::install(later());
        let big = value::string("x".repeat(20 << 20));
        assert_eq!(account(&big), Ok(()));
        // A list holding it twice makes little new.
        assert_eq!(
            account(&value::list(vec![big.clone(), big.clone()])),
            Ok(())
        );
        let err = account(&value::string("y".repeat(50 << 20))).unwrap_err();
        assert!(err.contains("add up to more than 64 MiB"), "{err}");
        // The limit stays hit.
        assert_eq!(step(), Err(err.clone()));
        assert_eq!(metered.finish(), Some(err));
    }

    #[test]
    fn repeated_parts_count_toward_a_values_size() {
        let _metered = Metered::install(later());
        let mut v = value::string("x".repeat(1 << 20));
        let mut err = None;
        for _ in 0..80 {
            v = value::list(vec![v.clone(), v.clone()]);
            if let Err(e) = account(&v) {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("doubling never hit the size limit");
        assert!(err.contains("parts it repeats"), "{err}");
    }

    #[test]
    fn values_may_not_nest_too_deeply() {
        let _metered = Metered::install(later());
        let mut v = value::list(Vec::new());
        for _ in 1..MAX_DEPTH {
            v = value::list(vec![v]);
        }
        assert_eq!(account(&v), Ok(()));
        let err = account(&value::list(vec![v])).unwrap_err();
        assert!(err.contains("nest at most 128"), "{err}");
    }

    #[test]
    fn unmeasured_deep_values_are_walked_without_recursion() {
        let _metered = Metered::install(later());
        let mut v = value::list(Vec::new());
        for _ in 0..100_000 {
            v = value::list(vec![v]);
        }
        let err = account(&v).unwrap_err();
        assert!(err.contains("nest at most"), "{err}");
        // Dropping it needs a thread with room for its recursion.
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || drop(v))
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn steps_iterations_and_time_run_out() {
        let metered = Metered::install(later());
        for _ in 0..MAX_ITERATIONS {
            iteration().unwrap();
        }
        let err = iteration().unwrap_err();
        assert!(
            err.contains("more than 1000000 {{range}} iterations"),
            "{err}"
        );
        drop(metered);

        let _metered = Metered::install(Instant::now() - Duration::from_millis(1));
        let err = (0..CLOCK_EVERY).try_for_each(|_| step()).unwrap_err();
        assert!(err.contains("longer than 10 s"), "{err}");
    }

    #[test]
    fn reservations_fail_before_anything_is_allocated() {
        let _metered = Metered::install(later());
        assert_eq!(reserve(1 << 20), Ok(()));
        assert!(
            reserve(65 << 20)
                .unwrap_err()
                .contains("larger than 64 MiB")
        );
        assert_eq!(remaining(), MAX_VALUE_SIZE);
    }
}
