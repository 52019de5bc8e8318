//! String search compares case- and accent-insensitively (search.html#string): values and
//! search terms are both folded to lower case without combining marks.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

pub fn normalize(s: &str) -> String {
    // ASCII has no combining marks and decomposes to itself: most values take this path.
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn case_and_accents_fold_away() {
        assert_eq!(super::normalize("Zoë ÉLISE"), "zoe elise");
        assert_eq!(super::normalize("PHQ-9 Total"), "phq-9 total");
    }
}
