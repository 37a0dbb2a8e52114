//! The committed fixtures are exactly what `fixtures/make_fixtures.py` writes (it is
//! deterministic): a hand edit to a fixture, or a generator change without regenerating, fails
//! here. Skipped, with a note, where no `python3` is on the PATH.

use std::process::Command;

#[test]
fn committed_fixtures_match_their_generator() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = match Command::new("python3")
        .arg("fixtures/make_fixtures.py")
        .arg("--check")
        .current_dir(root)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("note: python3 not available ({e}); fixture check skipped");
            return;
        }
    };
    assert!(
        out.status.success(),
        "fixtures differ from fixtures/make_fixtures.py (run it to regenerate):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
