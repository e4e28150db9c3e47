//! Per-thread caches of what every line of a callsite repeats (level, file, line, target, each
//! field's key), rendered once per callsite and format instead of once per line.
//!
//! A small direct-mapped table per thread and format: no lock, no hashing beyond the metadata
//! address, and a callsite that collides with another is simply rendered again.

use std::{cell::RefCell, thread::LocalKey};

use tracing::{field::Field, Metadata};

/// What a format renders once per callsite.
pub(crate) trait Rendered: Sized {
    fn render(meta: &'static Metadata<'static>) -> Self;
}

const SLOTS: usize = 64;

/// One thread's table: per slot, the callsite address, the owner and the value.
pub(crate) struct Slots<T>(Vec<Option<(usize, usize, T)>>);

impl<T> Slots<T> {
    pub(crate) const fn new() -> Self {
        Slots(Vec::new())
    }
}

/// Runs `f` with the rendered parts of `meta`'s callsite from `cache`, rendering them on a miss.
pub(crate) fn with_cached<T: Rendered, R>(
    cache: &'static LocalKey<RefCell<Slots<T>>>,
    meta: &'static Metadata<'static>,
    f: impl FnOnce(&T) -> R,
) -> R {
    with_cached_for(cache, meta, 0, || T::render(meta), f)
}

/// Runs `f` with what `cache` holds for `meta`'s callsite and `owner` (a value that depends on
/// more than the callsite, such as one layer's filter), computing it with `compute` on a miss.
pub(crate) fn with_cached_for<T, R>(
    cache: &'static LocalKey<RefCell<Slots<T>>>,
    meta: &'static Metadata<'static>,
    owner: usize,
    compute: impl FnOnce() -> T,
    f: impl FnOnce(&T) -> R,
) -> R {
    let address = meta as *const _ as usize;
    let (mut compute, mut f) = (Some(compute), Some(f));
    let cached = cache.with(|cell| {
        let mut slots = cell.try_borrow_mut().ok()?;
        if slots.0.is_empty() {
            slots.0.resize_with(SLOTS, || None);
        }
        let slot = &mut slots.0[(address >> 4) % SLOTS];
        if slot
            .as_ref()
            .is_none_or(|(a, o, _)| *a != address || *o != owner)
        {
            let value = (compute.take()?)();
            *slot = Some((address, owner, value));
        }
        let f = f.take()?;
        slot.as_ref().map(|(_, _, value)| f(value))
    });
    match cached {
        Some(r) => r,
        // Re-entered while a line is being written on this thread: compute without the cache.
        None => (f.take().expect("not yet called"))(&(compute.take().expect("not yet called"))()),
    }
}

/// Each field's key as a format writes it (`,"name":` or ` name=`), by field index.
pub(crate) struct FieldKeys {
    bytes: Vec<u8>,
    ends: Vec<u32>,
    /// Which fields are named `message` (an index compare instead of a string compare).
    messages: Vec<bool>,
    /// Two fields share a name (the second must be dropped).
    pub(crate) repeats_a_name: bool,
    /// No field named `message` comes after the first field (what tracing's macros produce):
    /// the message and the other fields can be written in one pass.
    pub(crate) message_first: bool,
}

impl FieldKeys {
    pub(crate) fn new(meta: &Metadata<'_>, write_key: fn(&mut Vec<u8>, &str)) -> Self {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for field in meta.fields() {
            write_key(&mut bytes, field.name());
            ends.push(bytes.len() as u32);
        }
        let names: Vec<&str> = meta.fields().iter().map(|f| f.name()).collect();
        FieldKeys {
            bytes,
            ends,
            messages: names.iter().map(|n| *n == "message").collect(),
            repeats_a_name: names
                .iter()
                .enumerate()
                .any(|(i, n)| names[..i].contains(n)),
            message_first: !names.iter().skip(1).any(|n| *n == "message"),
        }
    }

    pub(crate) fn is_message(&self, field: &Field) -> bool {
        self.messages[field.index()]
    }

    /// The key of `field`, which belongs to the callsite these keys were rendered for.
    pub(crate) fn key(&self, field: &Field) -> &[u8] {
        let i = field.index();
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p] as usize);
        &self.bytes[start..self.ends[i] as usize]
    }
}
