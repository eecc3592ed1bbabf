//! Prints the most expensive keyed rules on the files given: `cargo run --release
//! --example rule_profile -- FILE...`. A tuning aid, not part of the product.

use std::collections::HashMap;

fn main() {
    let c = leakhound_classify::Classifier::builtin().expect("rules compile");
    let mut total: HashMap<String, (u64, u64, u128)> = HashMap::new();
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("readable file");
        for chunk in data.chunks(1 << 20) {
            for (id, w, b, t) in c.profile_rules(chunk) {
                let e = total.entry(id).or_default();
                e.0 += w;
                e.1 += b;
                e.2 += t;
            }
        }
    }
    let mut v: Vec<_> = total.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1 .2));
    for (id, (w, b, t)) in v.into_iter().take(30) {
        println!(
            "{:>8.1} ms {:>9} windows {:>12} bytes  {id}",
            t as f64 / 1e6,
            w,
            b
        );
    }
}
