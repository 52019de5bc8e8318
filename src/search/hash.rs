//! The 64-bit key of a (resource type, search parameter) pair in the index tables, as HAPI
//! does. SHA-256 (openssl) rather than std's hasher because the value is stored and must not
//! change between builds or Rust versions.

pub fn param_hash(resource_type: &str, param: &str) -> i64 {
    let digest = openssl::sha::sha256(format!("{resource_type}.{param}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_is_stable_and_distinguishes_types() {
        assert_eq!(
            super::param_hash("Patient", "identifier"),
            super::param_hash("Patient", "identifier")
        );
        assert_ne!(
            super::param_hash("Patient", "identifier"),
            super::param_hash("Practitioner", "identifier")
        );
    }
}
