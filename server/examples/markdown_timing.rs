//! Times Markdown rendering on pathological input of about 200 KB, the size a postmortem
//! section is expected to stay under: `cargo run --release -p portolan-server --example
//! markdown_timing`.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use portolan_server::postmortems::markdown::{plain_text, render};

fn main() {
    const SIZE: usize = 200_000;
    let cases: Vec<(&str, String)> = vec![
        (
            "ordinary prose",
            "The deploy failed at the *migration* step. ".repeat(SIZE / 44),
        ),
        ("100,000 `*`", "*".repeat(100_000)),
        (
            "a`*`-run between letters",
            format!("a{}b", "*".repeat(SIZE)),
        ),
        ("unclosed emphasis `*a `", "*a ".repeat(SIZE / 3)),
        ("nested blockquotes", format!("{} deep", ">".repeat(SIZE))),
        ("nested emphasis", "*a _b ".repeat(SIZE / 6)),
        (
            "nested lists",
            (0..SIZE / 2_000)
                .map(|i| format!("{}- item\n", "  ".repeat(i)))
                .collect::<String>(),
        ),
        ("nested list items", "- ".repeat(SIZE / 2) + "x"),
        ("brackets", "[".repeat(SIZE / 2) + &"]".repeat(SIZE / 2)),
        ("link openers", "[a](".repeat(SIZE / 4)),
        ("raw <div>s on one line", "<div>".repeat(SIZE / 5)),
        ("raw <div>s, one a line", "<div>\n".repeat(SIZE / 6)),
        ("raw inline <em>s", "x <em>".repeat(SIZE / 6)),
        ("bare addresses", "https://x.example/a ".repeat(SIZE / 20)),
        (
            "table cells",
            format!("|a|\n|-|\n{}", "|x".repeat(SIZE / 2)),
        ),
    ];
    println!(
        "{:<28} {:>9} {:>12} {:>12}",
        "input", "bytes", "render", "plain_text"
    );
    for (name, input) in cases {
        let start = Instant::now();
        let html = render(&input);
        let rendered = start.elapsed();
        let start = Instant::now();
        let text = plain_text(&input);
        let plain = start.elapsed();
        println!(
            "{name:<28} {:>9} {:>9.1} ms {:>9.1} ms   ({} bytes of HTML, {} of text)",
            input.len(),
            rendered.as_secs_f64() * 1e3,
            plain.as_secs_f64() * 1e3,
            html.len(),
            text.len()
        );
    }
}
