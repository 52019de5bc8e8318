//! Work cut into one part per core, each part run on a thread of its own, the results kept
//! in the order of the parts.

/// Work of at least this many items (rows, resources) is cut across the cores: an import's
/// batch of 11,000 resources would otherwise leave one core idle for most of a second.
/// Smaller work (a client's 100 entries) stays on its request's thread, where other
/// requests keep the other cores busy.
pub const MANY: usize = 1000;

/// `f` of each part of `items`, in order: as many parts as the machine has cores when there
/// are at least `from` items, else one part of them all, run on the calling thread. A panic
/// in a part is resumed here.
pub fn in_parts<T: Send, R: Send>(
    mut items: Vec<T>,
    from: usize,
    f: impl Fn(Vec<T>) -> R + Sync,
) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < from.max(2) || cores < 2 {
        return vec![f(items)];
    }
    let size = items.len().div_ceil(cores);
    let mut parts = Vec::with_capacity(cores);
    while items.len() > size {
        let rest = items.split_off(size);
        parts.push(std::mem::replace(&mut items, rest));
    }
    parts.push(items);
    let f = &f;
    // The last part runs on the calling thread, which would otherwise only wait: one thread
    // fewer to start, and what that part allocates comes from the caller's own heap, whose
    // pages the next batch finds again, not from a thread's that ends with the call.
    let last = parts.pop();
    std::thread::scope(|s| {
        let running: Vec<_> = parts
            .into_iter()
            .map(|part| s.spawn(move || f(part)))
            .collect();
        let mine = last.map(f);
        running
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .chain(mine)
            .collect()
    })
}

/// `f` of every item, in order; across the machine's cores when there are at least `from`.
pub fn map<T: Send, R: Send>(items: Vec<T>, from: usize, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    in_parts(items, from, |part| {
        part.into_iter().map(&f).collect::<Vec<R>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::{in_parts, map};

    #[test]
    fn parts_come_back_in_order_and_whole() {
        let items: Vec<u32> = (0..1001).collect();
        let parts = in_parts(items.clone(), 1000, |part| part);
        if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
            assert!(parts.len() > 1);
        }
        assert_eq!(parts.concat(), items);
        assert_eq!(
            in_parts((0..999).collect::<Vec<u32>>(), 1000, |p| p).len(),
            1
        );
        assert_eq!(map(items.clone(), 1000, |i| i * 2).len(), items.len());
        assert_eq!(map(items, 1000, |i| i * 2)[1000], 2000);
    }
}
