//! Writes the seed corpora under `tests/fuzz/seeds/<target>/`, replacing what is there:
//! `cargo run --manifest-path tests/fuzz/Cargo.toml --example write_seeds`.

use std::collections::BTreeMap;

fn main() -> std::io::Result<()> {
    let dir = wxcomponent_fuzz::seeds::repo_root().join("tests/fuzz/seeds");
    let mut counts = BTreeMap::new();
    for seed in wxcomponent_fuzz::seeds::all() {
        let target_dir = dir.join(seed.target);
        if !counts.contains_key(seed.target) && target_dir.exists() {
            std::fs::remove_dir_all(&target_dir)?;
        }
        std::fs::create_dir_all(&target_dir)?;
        std::fs::write(target_dir.join(&seed.name), &seed.bytes)?;
        *counts.entry(seed.target).or_insert(0) += 1;
    }
    for (target, count) in counts {
        println!("{target}: {count} seeds");
    }
    Ok(())
}
