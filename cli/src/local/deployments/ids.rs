//! Ids in AWS's forms, made deterministically from a sequence number (unique: each form is a
//! bijection of the number) or, for event ids, from the text they stand for.

/// 9 x 10^18: the 19-digit numbers start at 10^18.
const NINETEEN_DIGITS: u128 = 9_000_000_000_000_000_000;
/// Coprime with 9 x 10^18 (neither 2, 3 nor 5 divides it), so `n -> n x MULTIPLIER` mod
/// 9 x 10^18 is a bijection.
const MULTIPLIER: u128 = 6_364_136_223_846_793_007;
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A 19-digit number, as in `ecs-svc/<digits>` and service revision ARNs.
pub(super) fn nineteen_digits(sequence: u64) -> String {
    let scrambled = (u128::from(sequence) * MULTIPLIER + 7_405_581_257_509_004_344) % NINETEEN_DIGITS;
    (scrambled + 1_000_000_000_000_000_000).to_string()
}

/// 21 URL-safe characters, as the last part of a service deployment ARN.
pub(super) fn twenty_one_characters(sequence: u64) -> String {
    // An odd multiplier: a bijection on u64, so the first 11 characters are unique.
    let unique = sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x2545_F491_4F6C_DD1D);
    let filler = mix(sequence);
    let mut text = String::with_capacity(21);
    text.extend((0..11).map(|index| base64url(unique >> (index * 6))));
    text.extend((0..10).map(|index| base64url(filler >> (index * 6))));
    text
}

/// The URL-safe base-64 digit of the low six bits.
fn base64url(bits: u64) -> char {
    let index = usize::try_from(bits & 63).unwrap_or_default();
    BASE64URL.get(index).map_or('A', |byte| char::from(*byte))
}

/// A version-4-shaped UUID derived from `text` (the same text, the same id).
pub(super) fn uuid(text: &str) -> String {
    let high = fnv(text, 0xcbf2_9ce4_8422_2325);
    let low = fnv(text, 0x6c62_272e_07bb_0142);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xfff,
        8 | ((low >> 62) & 3),
        (low >> 48) & 0xfff,
        low & 0xffff_ffff_ffff
    )
}

/// FNV-1a over `text` from `basis`.
fn fnv(text: &str, basis: u64) -> u64 {
    text.bytes().fold(basis, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// SplitMix64's finaliser.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_multiplier_makes_a_bijection() {
        for factor in [2, 3, 5] {
            assert_ne!(MULTIPLIER % factor, 0, "{factor} divides the multiplier");
        }
    }

    #[test]
    fn ids_have_aws_forms_and_do_not_repeat() {
        let mut digits = BTreeSet::new();
        let mut characters = BTreeSet::new();
        for sequence in 0..5000 {
            let number = nineteen_digits(sequence);
            assert_eq!(number.len(), 19, "{number}");
            assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number}");
            assert!(digits.insert(number));
            let text = twenty_one_characters(sequence);
            assert_eq!(text.len(), 21, "{text}");
            assert!(text.bytes().all(|b| BASE64URL.contains(&b)), "{text}");
            assert!(characters.insert(text));
        }
    }

    #[test]
    fn uuids_are_stable_and_shaped() {
        let id = uuid("a");
        assert_eq!(id, uuid("a"));
        assert_ne!(id, uuid("b"));
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
        assert_eq!(id.as_bytes().get(14), Some(&b'4'), "{id}");
    }
}
