//! Text helpers for limits the protocol and its peers set in bytes.

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncated(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

#[cfg(test)]
mod tests {
    use super::truncated;

    #[test]
    fn cuts_on_a_character_boundary() {
        assert_eq!(truncated("héllo", 2), "h");
        assert_eq!(truncated("héllo", 3), "hé");
        assert_eq!(truncated("hi", 10), "hi");
        assert_eq!(truncated("€", 0), "");
    }
}
