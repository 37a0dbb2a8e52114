//! Every subcommand's help ends with examples that the parser accepts.

mod common;

use common::*;

#[test]
fn every_subcommand_help_has_examples() {
    for sub in ["scan", "dedup", "eval", "params"] {
        for flag in ["-h", "--help"] {
            let out = syndic().args([sub, flag]).output().unwrap();
            assert!(out.status.success(), "{sub} {flag}");
            let text = String::from_utf8(out.stdout).unwrap();
            let examples: Vec<&str> = text
                .split("Examples:\n")
                .nth(1)
                .unwrap_or_else(|| panic!("{sub} {flag} has no examples:\n{text}"))
                .lines()
                .take_while(|l| l.starts_with("  syndic "))
                .collect();
            assert!(examples.len() >= 2, "{sub} {flag}: {examples:?}");
            for e in examples {
                assert!(e.contains(&format!("syndic {sub}")), "{sub}: {e}");
            }
        }
    }
}
