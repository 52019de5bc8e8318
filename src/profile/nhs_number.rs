//! The NHS number check (NHS Data Dictionary, "NHS number"): ten digits, the tenth a
//! Modulus 11 check digit over the first nine weighted 10 down to 2.

/// Whether `s` is a valid NHS number.
pub fn is_valid(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 10 || s.len() != 10 {
        return false;
    }
    let sum: u32 = digits[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| d * w)
        .sum();
    match 11 - sum % 11 {
        11 => digits[9] == 0,
        // A remainder giving 10 means the number was never issued.
        10 => false,
        check => digits[9] == check,
    }
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn accepts_valid_and_refuses_wrong_check_digits() {
        assert!(is_valid("9000000009"));
        assert!(is_valid("9434765919"));
        assert!(!is_valid("9434765918"));
        assert!(!is_valid("943476591"));
        assert!(!is_valid("94347659190"));
        assert!(!is_valid("943476591a"));
        assert!(!is_valid(" 943476591"));
    }
}
