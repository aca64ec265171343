//! Fuzz target: any bytes as a partial run's `partial.json` → parse and check the header. Must
//! never panic: a bad header is an `Err` naming the key; a header that passes has a non-empty
//! range inside its run and a rows size that matches it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minxinan::runner::partial::parse_header;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(h) = parse_header(Path::new("fuzz/partial.json"), text) {
        let r = h.range();
        assert!(r.start < r.end && r.end <= h.draws);
        assert_eq!(h.rows_bytes, (r.end - r.start) * h.row_len as u64 * 8);
    }
});
