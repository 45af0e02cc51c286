//! `deltaship.toml` and service manifests, split at NUL bytes:
//! `deltaship_core::testing::robustness::check_manifests`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = deltaship_core::testing::robustness::check_manifests(data) {
        panic!("{broken}");
    }
});
