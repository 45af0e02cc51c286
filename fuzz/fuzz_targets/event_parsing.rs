//! EventBridge events as detect-changes receives them: `deltaship_core::testing::robustness::check_event`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = deltaship_core::testing::robustness::check_event(data) {
        panic!("{broken}");
    }
});
