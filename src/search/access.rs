//! The access predicate: what the requester may see, as SQL that every statement the search
//! compiler builds ANDs in, so totals and pages are right by construction (DESIGN.md, "Access
//! control goes into SQL").

use crate::store::Query;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No restriction (the server has no authorization yet).
    Unrestricted,
}

impl Access {
    /// Appends ` AND …` restricting the resource aliased `alias` to what this access allows.
    pub fn restrict(&self, _q: &mut Query, _alias: &str) {
        match self {
            Access::Unrestricted => {}
        }
    }
}
