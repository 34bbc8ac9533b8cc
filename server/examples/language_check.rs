//! The blameless language check measured on its corpora: precision, recall, the blaming
//! sentences it misses and the blameless ones it flags. `cargo run -p portolan-server --example
//! language_check`.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use portolan_server::postmortems::language::{
    BLAMEFUL_CORPUS, BLAMELESS_CORPUS, HOLDOUT_BLAMEFUL_CORPUS, HOLDOUT_BLAMELESS_CORPUS, check,
    evaluate,
};

fn main() {
    for (name, blameful, blameless) in [
        ("corpus", BLAMEFUL_CORPUS, BLAMELESS_CORPUS),
        ("holdout", HOLDOUT_BLAMEFUL_CORPUS, HOLDOUT_BLAMELESS_CORPUS),
    ] {
        let e = evaluate(blameful, blameless);
        println!(
            "{name}: precision {:.3}, recall {:.3} ({} blameful, {} blameless sentences)",
            e.precision, e.recall, e.blameful, e.blameless
        );
        println!("  missed ({}):", e.misses.len());
        for line in &e.misses {
            println!("    {line}");
        }
        println!("  false positives ({}):", e.false_positives.len());
        for (line, rules) in &e.false_positives {
            println!("    {line}  {rules:?}");
        }
    }

    // The time it takes on about 200 KB, the size a postmortem section stays under.
    let corpus = format!("{BLAMEFUL_CORPUS}{BLAMELESS_CORPUS}");
    for (name, text) in [
        (
            "the corpora, repeated",
            corpus.repeat(200_000 / corpus.len() + 1),
        ),
        (
            "one 200 KB sentence",
            "Bob broke prod and ".repeat(200_000 / 19),
        ),
        ("200 KB of line breaks", "\n".repeat(200_000)),
    ] {
        let start = Instant::now();
        let flags = check(&text);
        println!(
            "check on {name} ({} bytes): {:.1} ms, {} flags",
            text.len(),
            start.elapsed().as_secs_f64() * 1e3,
            flags.len()
        );
    }
}
