//! The correctness checks of the drop scenario, as pure functions over the
//! acknowledged clicks and the leaderboard the server serves.
//!
//! An acknowledged click is *misranked* when, with the acknowledgements sorted
//! by rank:
//! - its rank repeats the previous one (two people told the same rank),
//! - its rank is outside `1..=n + unresolved` (`n` acknowledgements, plus the
//!   clicks whose answer never arrived and may hold a rank),
//! - its `clicked_at_us` is earlier than the previous rank's (an inversion),
//! - its `won` is not `rank <= winners`.
//!
//! Each acknowledgement counts at most once. The leaderboard adds: the
//! difference between its `total` and the acknowledgements (beyond what the
//! unresolved clicks explain), a page count that does not match `total`, and
//! every entry that is not at its position or disagrees (`clicked_at_us`,
//! `won`) with the acknowledgement of the same rank.

use std::collections::HashMap;

/// One click, as acknowledged or as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Click {
    pub rank: u64,
    pub won: bool,
    pub clicked_at_us: i64,
}

/// The leaderboard as served: `total` and all entries from offset 0.
#[derive(Debug, Clone, Default)]
pub(crate) struct Board {
    pub total: u64,
    pub entries: Vec<Click>,
}

/// The outcome of [`check_ranks`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RankCheck {
    pub misranked: u64,
    /// Acknowledgements with `won = true`.
    pub won: u64,
    /// Human-readable details (the first few anomalies of each kind).
    pub notes: Vec<String>,
}

const NOTE_LIMIT: usize = 5;

struct Notes {
    notes: Vec<String>,
    per_kind: HashMap<&'static str, usize>,
}

impl Notes {
    fn add(&mut self, kind: &'static str, text: impl FnOnce() -> String) {
        let seen = self.per_kind.entry(kind).or_default();
        *seen += 1;
        if *seen <= NOTE_LIMIT {
            self.notes.push(format!("{kind}: {}", text()));
        }
    }

    fn finish(mut self) -> Vec<String> {
        let mut kinds: Vec<_> = self.per_kind.into_iter().collect();
        kinds.sort();
        for (kind, n) in kinds {
            if n > NOTE_LIMIT {
                self.notes.push(format!("{kind}: {n} in all"));
            }
        }
        self.notes
    }
}

/// Checks acknowledged clicks (and the leaderboard, when read) for
/// consistency; see the module documentation.
pub(crate) fn check_ranks(acks: &[Click], winners: u64, unresolved: u64, board: Option<&Board>) -> RankCheck {
    let mut notes = Notes { notes: Vec::new(), per_kind: HashMap::new() };
    let mut sorted = acks.to_vec();
    sorted.sort_unstable_by_key(|c| (c.rank, c.clicked_at_us));
    let n = sorted.len() as u64;
    let max_rank = n + unresolved;
    let mut misranked = 0u64;
    let mut prev: Option<Click> = None;
    for c in &sorted {
        let mut wrong = false;
        if c.rank == 0 || c.rank > max_rank {
            wrong = true;
            notes.add("rank out of range", || format!("rank {} with {n} acknowledged clicks", c.rank));
        }
        if let Some(p) = prev {
            if p.rank == c.rank {
                wrong = true;
                notes.add("duplicate rank", || format!("rank {}", c.rank));
            } else if c.clicked_at_us < p.clicked_at_us {
                wrong = true;
                notes.add("time inversion", || {
                    format!("rank {} clicked at {} but rank {} at {}", p.rank, p.clicked_at_us, c.rank, c.clicked_at_us)
                });
            }
        }
        if c.won != (c.rank <= winners) {
            wrong = true;
            notes.add("wrong won", || format!("rank {} won={} with {winners} winners", c.rank, c.won));
        }
        if wrong {
            misranked += 1;
        }
        prev = Some(*c);
    }

    if let Some(board) = board {
        if board.total < n {
            misranked += n - board.total;
            notes.add("leaderboard total", || format!("total {} < {n} acknowledged clicks", board.total));
        } else if board.total > max_rank {
            misranked += board.total - max_rank;
            notes.add("leaderboard total", || {
                format!("total {} > {n} acknowledged + {unresolved} unanswered clicks", board.total)
            });
        }
        let listed = board.entries.len() as u64;
        if listed != board.total {
            misranked += listed.abs_diff(board.total);
            notes.add("leaderboard pages", || format!("{listed} entries listed, total says {}", board.total));
        }
        let mut by_rank: HashMap<u64, Click> = HashMap::with_capacity(sorted.len());
        for c in &sorted {
            by_rank.entry(c.rank).or_insert(*c);
        }
        for (position, entry) in (1u64..).zip(&board.entries) {
            let mut wrong = false;
            if entry.rank != position {
                wrong = true;
                notes.add("leaderboard order", || format!("rank {} listed at position {position}", entry.rank));
            }
            if let Some(ack) = by_rank.get(&entry.rank)
                && (ack.clicked_at_us != entry.clicked_at_us || ack.won != entry.won)
            {
                wrong = true;
                notes.add("leaderboard disagrees", || {
                    format!(
                        "rank {}: acknowledged ({}, won={}), listed ({}, won={})",
                        entry.rank, ack.clicked_at_us, ack.won, entry.clicked_at_us, entry.won
                    )
                });
            }
            if wrong {
                misranked += 1;
            }
        }
    }

    let won = sorted.iter().filter(|c| c.won).count() as u64;
    let expected = winners.min(n + unresolved);
    if unresolved == 0 && won != expected {
        notes.add("winner count", || format!("{won} acknowledged winners, expected {expected}"));
    }
    RankCheck { misranked, won, notes: notes.finish() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A correct drop: `n` clicks 10 µs apart, `winners` winners.
    fn good(n: u64, winners: u64) -> Vec<Click> {
        (1..=n).map(|rank| Click { rank, won: rank <= winners, clicked_at_us: 1_000_000 + 10 * rank as i64 }).collect()
    }

    fn board(acks: &[Click]) -> Board {
        let mut entries = acks.to_vec();
        entries.sort_by_key(|c| c.rank);
        Board { total: entries.len() as u64, entries }
    }

    #[test]
    fn correct_drop_passes() {
        let mut acks = good(50, 10);
        acks.reverse(); // acknowledgement order does not matter
        let b = board(&acks);
        let r = check_ranks(&acks, 10, 0, Some(&b));
        assert_eq!(r.misranked, 0, "{:?}", r.notes);
        assert_eq!(r.won, 10);
        assert!(r.notes.is_empty());
        // Fewer clicks than winners: everyone wins.
        let acks = good(5, 10);
        let r = check_ranks(&acks, 10, 0, Some(&board(&acks)));
        assert_eq!((r.misranked, r.won), (0, 5));
        // Equal timestamps are allowed.
        let mut acks = good(3, 1);
        acks[2].clicked_at_us = acks[1].clicked_at_us;
        assert_eq!(check_ranks(&acks, 1, 0, None).misranked, 0);
    }

    #[test]
    fn duplicate_rank_is_caught() {
        let mut acks = good(20, 5);
        acks[7].rank = 7; // two sevens, no eight
        let r = check_ranks(&acks, 5, 0, None);
        assert_eq!(r.misranked, 1, "{:?}", r.notes);
        assert!(r.notes.iter().any(|n| n.starts_with("duplicate rank")));
    }

    #[test]
    fn rank_beyond_count_is_caught() {
        let mut acks = good(20, 5);
        acks[19].rank = 21; // 1..=19 then 21: a gap with no unanswered click
        let r = check_ranks(&acks, 5, 0, None);
        assert_eq!(r.misranked, 1);
        // ... but allowed when one click got no answer.
        assert_eq!(check_ranks(&acks, 5, 1, None).misranked, 0);
    }

    #[test]
    fn time_inversion_is_caught() {
        let mut acks = good(20, 5);
        acks.swap(3, 4); // reorder the acks, harmless
        let r = check_ranks(&acks, 5, 0, None);
        assert_eq!(r.misranked, 0);
        let mut acks = good(20, 5);
        acks[10].clicked_at_us = acks[9].clicked_at_us - 1; // rank 11 before rank 10
        let r = check_ranks(&acks, 5, 0, None);
        assert_eq!(r.misranked, 1, "{:?}", r.notes);
        assert!(r.notes.iter().any(|n| n.starts_with("time inversion")));
    }

    #[test]
    fn wrong_won_is_caught() {
        let mut acks = good(20, 5);
        acks[5].won = true; // rank 6 told it won
        let r = check_ranks(&acks, 5, 0, None);
        assert_eq!(r.misranked, 1);
        assert_eq!(r.won, 6);
        let mut acks = good(20, 5);
        acks[0].won = false; // rank 1 told it lost
        let r = check_ranks(&acks, 5, 0, None);
        assert_eq!(r.misranked, 1);
        assert_eq!(r.won, 4);
    }

    #[test]
    fn leaderboard_disagreements_are_caught() {
        let acks = good(30, 3);
        // Total off by two.
        let mut b = board(&acks);
        b.total = 32;
        b.entries.extend(good(32, 3).into_iter().skip(30));
        assert_eq!(check_ranks(&acks, 3, 0, Some(&b)).misranked, 2);
        // ... which two unanswered clicks explain.
        assert_eq!(check_ranks(&acks, 3, 2, Some(&b)).misranked, 0);
        // A different time for the same rank.
        let mut b = board(&acks);
        b.entries[4].clicked_at_us += 1;
        assert_eq!(check_ranks(&acks, 3, 0, Some(&b)).misranked, 1);
        // Entries out of order.
        let mut b = board(&acks);
        b.entries.swap(0, 1);
        assert_eq!(check_ranks(&acks, 3, 0, Some(&b)).misranked, 2);
        // A missing page.
        let mut b = board(&acks);
        b.entries.truncate(20);
        assert_eq!(check_ranks(&acks, 3, 0, Some(&b)).misranked, 10);
    }

    #[test]
    fn notes_are_bounded() {
        let mut acks = good(100, 10);
        for c in &mut acks {
            c.won = !c.won;
        }
        let r = check_ranks(&acks, 10, 0, None);
        assert_eq!(r.misranked, 100);
        assert!(r.notes.len() <= NOTE_LIMIT + 2);
        assert!(r.notes.iter().any(|n| n == "wrong won: 100 in all"));
    }
}
