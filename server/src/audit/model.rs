//! Who acts, and the pure check of the hash chain.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use portolan_api::ActorKind;

/// The one who makes a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
    pub name: String,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            kind: ActorKind::System,
            id: "system".into(),
            name: "Portolan".into(),
        }
    }
    pub fn anonymous() -> Self {
        Self {
            kind: ActorKind::Anonymous,
            id: "anonymous".into(),
            name: "anonymous".into(),
        }
    }
    pub fn kind_str(&self) -> &'static str {
        match self.kind {
            ActorKind::User => "user",
            ActorKind::Token => "token",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }
}

/// The actor of a request. Until sign-in exists every request is anonymous; the identity layer
/// will put the signed-in user or the API token here.
impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Actor>()
            .cloned()
            .unwrap_or_else(Actor::anonymous))
    }
}

/// One row of the chain as read back: its stored hashes and the hash recomputed from its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRow {
    pub id: i64,
    pub seq: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub recomputed: Vec<u8>,
}

/// What is wrong with the chain, in words that name the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The content no longer matches the hash it was written with.
    Edited { seq: i64, id: i64 },
    /// Records are missing before this one (removed).
    Missing { from_seq: i64, to_seq: i64 },
    /// The record does not point at the hash of the one before it (removed or reordered).
    Unlinked { seq: i64, id: i64 },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Edited { seq, id } => write!(
                f,
                "record seq {seq} (id {id}) was changed after it was written"
            ),
            Self::Missing { from_seq, to_seq } if from_seq == to_seq => {
                write!(f, "record seq {from_seq} was removed")
            }
            Self::Missing { from_seq, to_seq } => {
                write!(f, "records seq {from_seq} to {to_seq} were removed")
            }
            Self::Unlinked { seq, id } => {
                write!(
                    f,
                    "record seq {seq} (id {id}) does not follow the record before it"
                )
            }
        }
    }
}

/// Checks rows pushed in `seq` order: each hash must match its content, each `prev_hash` the
/// hash before it, and `seq` must run 1, 2, 3… without gaps. Streams: memory stays flat however
/// long the log.
pub struct ChainCheck {
    expected_seq: i64,
    previous: Vec<u8>,
    findings: Vec<Finding>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self {
            expected_seq: 1,
            previous: Vec::new(),
            findings: Vec::new(),
        }
    }
}

impl ChainCheck {
    pub fn push(&mut self, row: ChainRow) {
        if row.recomputed != row.hash {
            self.findings.push(Finding::Edited {
                seq: row.seq,
                id: row.id,
            });
        }
        if row.seq != self.expected_seq {
            self.findings.push(Finding::Missing {
                from_seq: self.expected_seq,
                to_seq: row.seq - 1,
            });
        }
        if row.prev_hash != self.previous {
            self.findings.push(Finding::Unlinked {
                seq: row.seq,
                id: row.id,
            });
        }
        self.expected_seq = row.seq + 1;
        self.previous = row.hash;
    }

    pub fn finish(self) -> Vec<Finding> {
        self.findings
    }
}

pub fn check_chain(rows: impl IntoIterator<Item = ChainRow>) -> Vec<Finding> {
    let mut check = ChainCheck::default();
    rows.into_iter().for_each(|r| check.push(r));
    check.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<ChainRow> {
        let mut prev = Vec::new();
        (1..=n)
            .map(|seq| {
                let hash = vec![u8::try_from(seq).expect("small")];
                let row = ChainRow {
                    id: seq * 10,
                    seq,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    recomputed: hash.clone(),
                };
                prev = hash;
                row
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_has_no_findings() {
        assert!(check_chain(chain(5)).is_empty());
        assert!(check_chain(Vec::new()).is_empty());
    }

    #[test]
    fn an_edited_row_is_named() {
        let mut rows = chain(4);
        rows[2].recomputed = vec![99];
        assert_eq!(check_chain(rows), vec![Finding::Edited { seq: 3, id: 30 }]);
    }

    #[test]
    fn a_removed_row_is_named() {
        let mut rows = chain(5);
        rows.remove(1);
        let findings = check_chain(rows);
        assert_eq!(
            findings,
            vec![
                Finding::Missing {
                    from_seq: 2,
                    to_seq: 2
                },
                Finding::Unlinked { seq: 3, id: 30 }
            ]
        );
        assert_eq!(findings[0].to_string(), "record seq 2 was removed");
    }

    #[test]
    fn a_removed_first_row_is_named() {
        let mut rows = chain(3);
        rows.remove(0);
        assert_eq!(
            check_chain(rows),
            vec![
                Finding::Missing {
                    from_seq: 1,
                    to_seq: 1
                },
                Finding::Unlinked { seq: 2, id: 20 }
            ]
        );
    }

    #[test]
    fn a_rewritten_row_with_a_fresh_hash_breaks_the_next_link() {
        let mut rows = chain(3);
        rows[1].hash = vec![77];
        rows[1].recomputed = vec![77];
        assert_eq!(
            check_chain(rows),
            vec![Finding::Unlinked { seq: 3, id: 30 }]
        );
    }
}
