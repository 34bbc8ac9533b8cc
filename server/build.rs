//! Rebuilds the server when a migration is added or changed: they are embedded in the binary
//! (`sqlx::migrate!`), and Cargo would not otherwise notice a new file there.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
